import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bindListen, closeListen, type ListenSocket } from "../../src/net/listen.ts";
import { resolveCommand, shimArgv } from "../../src/processes/shim.ts";
import { running } from "../e2e/harness.ts";

const MAIN = resolve(import.meta.dir, "../../src/main.ts");
let python = "";
const pids: number[] = [];
const socks: ListenSocket[] = [];
const dirs: string[] = [];

beforeAll(() => {
  // The real interpreter, not a version-manager wrapper script.
  python = Bun.spawnSync(["python3", "-c", "import sys; print(sys.executable)"]).stdout.toString().trim();
});
afterEach(() => {
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  closeListen(socks.splice(0));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Runs the shim from source as a child of this test process. */
async function runShim(cmd: string[], opts: { env?: Record<string, string>; fds?: number[]; cgroup?: string } = {}) {
  const proc = Bun.spawn([...shimArgv(), String(process.pid), ...(opts.cgroup ? ["--cgroup", opts.cgroup] : []), "--", ...cmd], {
    stdio: ["ignore", "pipe", "pipe", ...(opts.fds ?? [])],
    env: { ...process.env, ...opts.env },
  });
  pids.push(proc.pid);
  const timer = setTimeout(() => proc.kill(9), 10_000);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { pid: proc.pid, stdout, stderr, code };
}


describe("shimArgv", () => {
  test("runs src/main.ts under bun when not compiled", () => {
    expect(shimArgv()).toEqual([process.execPath, MAIN, "__exec"]);
  });
});

describe("runShim", () => {
  test("execs in place with LISTEN_PID set to the worker's own pid and the socket on fd 3", async () => {
    socks.push(...bindListen(["127.0.0.1:0"], { backlog: 4, mode: "" }));
    const code = `import os, socket
s = socket.socket(fileno=3)
print(os.getpid(), os.environ["LISTEN_PID"], os.environ["LISTEN_FDS"], s.getsockname()[0])`;
    const r = await runShim([python, "-c", code], { env: { LISTEN_FDS: "1", LISTEN_PID: "1" }, fds: [socks[0]!.fd] });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${r.pid} ${r.pid} 1 127.0.0.1\n`);
  });

  test("leaves LISTEN_PID alone without LISTEN_FDS, passes argv verbatim", async () => {
    const r = await runShim([python, "-c", "import os, sys; print(os.environ.get('LISTEN_PID'), sys.argv[1:])", "a b", "$HOME", ""]);
    expect(r.stdout).toBe("None ['a b', '$HOME', '']\n");
  });

  test("the worker starts with no signal ignored or blocked", async () => {
    const r = await runShim(["/bin/grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"]);
    expect(r.stdout).toBe("SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
  });

  test("exec failure prints the path and reason and exits 127", async () => {
    const r = await runShim(["/nonexistent/app", "x"]);
    expect(r.code).toBe(127);
    expect(r.stderr).toBe("sup: cannot exec /nonexistent/app: No such file or directory\n");
    const dir = mkdtempSync(join(tmpdir(), "sup-shim-"));
    dirs.push(dir);
    writeFileSync(join(dir, "data"), "not a program");
    const denied = await runShim([join(dir, "data")]);
    expect(denied.code).toBe(127);
    expect(denied.stderr).toBe(`sup: cannot exec ${join(dir, "data")}: Permission denied\n`);
  });

  test("does not run the command when its parent is not the master", async () => {
    const proc = Bun.spawn([process.execPath, MAIN, "__exec", "1", "--", "/bin/echo", "ran"], { stdio: ["ignore", "pipe", "pipe"] });
    pids.push(proc.pid);
    expect(await proc.exited).toBe(1);
    expect(await new Response(proc.stdout).text()).toBe("");
  });

  test("a worker dies within about a second of its master being SIGKILLed", async () => {
    // The "master": a bun process that starts the shim and reports the worker's pid.
    const master = Bun.spawn(
      [process.execPath, "-e", `
        const w = Bun.spawn([${JSON.stringify(shimArgv())}, String(process.pid), "--", "/bin/sleep", "30"].flat(), { stdio: ["ignore", "inherit", "inherit"] });
        console.log(w.pid);
        await w.exited;`],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    pids.push(master.pid);
    const reader = master.stdout.getReader();
    const first = await Promise.race([reader.read(), Bun.sleep(10_000).then(() => ({ value: undefined }))]);
    const worker = Number(new TextDecoder().decode(first.value).trim());
    expect(worker).toBeGreaterThan(0);
    pids.push(worker);
    // Wait until the shim has exec'd sleep, so PDEATHSIG is set on the real worker.
    const until = Date.now() + 10_000;
    while (Date.now() < until && !readFileSync(`/proc/${worker}/cmdline`, "utf8").startsWith("/bin/sleep")) await Bun.sleep(20);
    expect(readFileSync(`/proc/${worker}/cmdline`, "utf8")).toStartWith("/bin/sleep");

    master.kill("SIGKILL");
    const killedAt = Date.now();
    while (Date.now() - killedAt < 2000 && running(worker)) await Bun.sleep(10);
    expect(running(worker)).toBe(false);
    expect(Date.now() - killedAt).toBeLessThan(1000);
  });
});

describe("resolveCommand", () => {
  let dir = "";
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "sup-resolve-"));
    mkdirSync(join(dir, "bin"));
    mkdirSync(join(dir, "bin", "adir"));
    writeFileSync(join(dir, "bin", "app"), "#!/bin/sh\n");
    chmodSync(join(dir, "bin", "app"), 0o755);
    writeFileSync(join(dir, "bin", "plain"), "data");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("finds a name on PATH, in order", () => {
    expect(resolveCommand("app", { cwd: "/", PATH: `/nonexistent:${dir}/bin` })).toBe(`${dir}/bin/app`);
    expect(resolveCommand("sh", { cwd: "/", PATH: "/usr/bin:/bin" })).toBe("/usr/bin/sh");
  });

  test("a path with a slash is relative to cwd; an empty PATH entry is cwd", () => {
    expect(resolveCommand("bin/app", { cwd: dir, PATH: "" })).toBe(`${dir}/bin/app`);
    expect(resolveCommand("./app", { cwd: `${dir}/bin`, PATH: "/usr/bin" })).toBe(`${dir}/bin/app`);
    expect(resolveCommand("app", { cwd: `${dir}/bin`, PATH: "/usr/bin:" })).toBe(`${dir}/bin/app`);
  });

  test("missing, not executable, a directory, or empty: undefined", () => {
    const opts = { cwd: dir, PATH: `${dir}/bin` };
    for (const cmd of ["nope", "plain", "adir", "bin/plain", "", "/nonexistent/app"]) expect(resolveCommand(cmd, opts)).toBeUndefined();
  });
});

describe("runShim --cgroup", () => {
  // A scratch cgroup under this machine's cgroup2 mount (root): made and removed here.
  const mount = readFileSync("/proc/self/mountinfo", "latin1").split("\n").find((l) => l.includes(" - cgroup2 ") && l.split(" ")[3] === "/")?.split(" ")[4] ?? "";

  test("moves itself into the worker's cgroup before it execs the command", async () => {
    expect(mount).not.toBe("");
    const dir = join(mount, `sup-shim-${process.pid}`);
    mkdirSync(dir);
    try {
      const r = await runShim(["/bin/cat", "/proc/self/cgroup"], { cgroup: dir });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^0::/sup-shim-${process.pid}$`, "m"));
    } finally {
      rmdirSync(dir);
    }
  });

  test("one it cannot join is refused: a line naming it, exit 1, the command never runs", async () => {
    const r = await runShim(["/bin/echo", "ran"], { cgroup: "/nonexistent-cgroup" });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("sup: cannot move the worker into its cgroup /nonexistent-cgroup: ENOENT: no such file or directory");
  });
});

