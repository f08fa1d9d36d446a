// install.sh against a local release server: Bun.serve on 127.0.0.1 in this
// process, serving whatever the test puts in `files`. The script runs through
// Bun.spawn (not spawnSync, which would block the server it downloads from).
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");
const SCRIPT = join(ROOT, "install.sh");
const DIST_SUP = join(ROOT, "dist/sup");
const VERSION: string = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;
const ASSET = "sup-linux-x64"; // what SUP_OS=linux SUP_ARCH=x64 SUP_LIBC=glibc asks for

let files = new Map<string, Uint8Array>();
let server: ReturnType<typeof Bun.serve>;
let installDir = "";
let realSup: Uint8Array;

const sha256 = (data: Uint8Array) => new Bun.CryptoHasher("sha256").update(data).digest("hex");

/** Serves one binary as ASSET with a SHA256SUMS line for `sumOf` (default: itself). */
function publish(binary: Uint8Array, sumOf: Uint8Array = binary): void {
  files = new Map([
    [ASSET, binary],
    ["SHA256SUMS", new TextEncoder().encode(`${sha256(sumOf)}  ${ASSET}\n`)],
  ]);
}

/** A stand-in release: any file that answers --version runs the script's check. */
const fakeSup = (version: string) => new TextEncoder().encode(`#!/bin/sh\necho "sup ${version}"\n`);

async function install(env: Record<string, string> = {}, shell = "sh") {
  const proc = Bun.spawn([shell, SCRIPT], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: installDir,
      SUP_DOWNLOAD_URL: `http://127.0.0.1:${server.port}/`,
      SUP_INSTALL_DIR: installDir,
      SUP_OS: "linux",
      SUP_ARCH: "x64",
      SUP_LIBC: "glibc",
      ...env,
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
  try {
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
    if (proc.exitCode === null) proc.kill("SIGKILL");
  }
}

async function versionOf(path: string): Promise<string> {
  const p = Bun.spawn([path, "--version"], { stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => p.kill("SIGKILL"), 10_000);
  const out = await new Response(p.stdout).text();
  await p.exited;
  clearTimeout(timer);
  return out.trim();
}

beforeAll(async () => {
  if (!existsSync(DIST_SUP)) {
    const b = Bun.spawn([process.execPath, "build.ts"], { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
    const timer = setTimeout(() => b.kill("SIGKILL"), 120_000);
    await b.exited;
    clearTimeout(timer);
  }
  realSup = new Uint8Array(readFileSync(DIST_SUP));
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const body = files.get(new URL(req.url).pathname.slice(1));
      return body ? new Response(body) : new Response("not found", { status: 404 });
    },
  });
}, 130_000);

afterAll(() => server?.stop(true));

beforeEach(() => {
  files = new Map();
  installDir = mkdtempSync(join(tmpdir(), "sup-install-test-"));
});

afterEach(() => {
  rmSync(installDir, { recursive: true, force: true });
});

describe("install.sh", () => {
  test("is POSIX sh: dash and sh -n accept it", async () => {
    for (const shell of ["sh", "dash"]) {
      if (!Bun.which(shell)) continue;
      const p = Bun.spawnSync([shell, "-n", SCRIPT]);
      expect({ shell, code: p.exitCode, err: p.stderr.toString() }).toEqual({ shell, code: 0, err: "" });
    }
  });

  test("a clean install gives a working sup --version", async () => {
    publish(realSup);
    const r = await install({}, Bun.which("dash") ? "dash" : "sh");
    expect(r.stderr).toContain(`installed sup ${VERSION}`);
    expect(r.code).toBe(0);
    expect(await versionOf(join(installDir, "sup"))).toBe(`sup ${VERSION}`);
    expect(statSync(join(installDir, "sup")).mode & 0o777).toBe(0o755);
    expect(readdirSync(installDir)).toEqual(["sup"]); // no temp dir left
  }, 60_000);

  test("says so when the install dir is not on PATH", async () => {
    publish(fakeSup("9.9.9"));
    const off = await install();
    expect(off.stderr).toContain("is not on your PATH");
    const on = await install({ PATH: `${installDir}:${process.env.PATH}` });
    expect(on.code).toBe(0);
    expect(on.stderr).not.toContain("is not on your PATH");
  }, 30_000);

  test("a tampered binary is refused and nothing is installed", async () => {
    publish(fakeSup("6.6.6"), realSup);
    const r = await install();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("checksum mismatch");
    expect(readdirSync(installDir)).toEqual([]);
  }, 30_000);

  test("a tampered upgrade keeps the installed sup", async () => {
    publish(fakeSup("1.0.0"));
    expect((await install()).code).toBe(0);
    publish(fakeSup("6.6.6"), fakeSup("2.0.0"));
    const r = await install();
    expect(r.code).toBe(1);
    expect(await versionOf(join(installDir, "sup"))).toBe("sup 1.0.0");
    expect(readdirSync(installDir)).toEqual(["sup"]);
  }, 30_000);

  test("a re-run upgrades in place", async () => {
    publish(fakeSup("1.0.0"));
    expect((await install()).code).toBe(0);
    const before = statSync(join(installDir, "sup")).ino;
    publish(fakeSup("2.0.0"));
    const r = await install();
    expect(r.code).toBe(0);
    expect(await versionOf(join(installDir, "sup"))).toBe("sup 2.0.0");
    // Replaced by rename, not rewritten: a running sup keeps its old file.
    expect(statSync(join(installDir, "sup")).ino).not.toBe(before);
    expect(readdirSync(installDir)).toEqual(["sup"]);
  }, 30_000);

  test("an unsupported platform is a clear error, exit 1, nothing created", async () => {
    rmSync(installDir, { recursive: true });
    const r = await install({ SUP_OS: "plan9" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("unsupported platform: plan9/x64");
    expect(existsSync(installDir)).toBe(false);
  });

  test("a 404 is a clear error and leaves nothing", async () => {
    files = new Map();
    const r = await install();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("download failed");
    expect(r.stderr).toContain("404");
    expect(readdirSync(installDir)).toEqual([]);
  });

  test("musl and arm64 pick their own asset", async () => {
    publish(fakeSup("1.0.0"));
    const r = await install({ SUP_LIBC: "musl", SUP_ARCH: "arm64" });
    expect(r.stderr).toContain("/sup-linux-arm64-musl");
    expect(r.code).toBe(1); // this server has only sup-linux-x64
  });

  test("an unknown argument is a usage error, exit 2", async () => {
    const p = Bun.spawnSync(["sh", SCRIPT, "--bogus"]);
    expect(p.exitCode).toBe(2);
    expect(p.stderr.toString()).toContain("unknown argument: --bogus");
  });
});
