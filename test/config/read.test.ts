// Config paths that are not regular files, too big, or nested too deep:
// refused at once with exit 2, the path and what it is (issue 18, item 2).
// The reader itself, then `sup check` / `sup config` as a user runs them
// (each killed after 5 s: before the reader, a FIFO hung them for ever).
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { MAX_CONFIG_BYTES, readConfigText } from "../../src/config/read.ts";
import { cleanEnv, dirWith, load, sup } from "./helpers.ts";

const servers: Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
});

/** A unix socket file at path, listening until the file's tests end. */
async function socketAt(path: string) {
  const s = createServer();
  servers.push(s);
  await new Promise<void>((resolve) => s.listen(path, resolve));
}

/** A dir holding every kind of thing that is not a config file, each under a config name. */
async function hostileDir(): Promise<string> {
  const dir = dirWith({ "big.toml": `# ${"x".repeat(5 * 1024 * 1024)}\n` });
  Bun.spawnSync(["mkfifo", join(dir, "fifo.toml")]);
  symlinkSync("/dev/zero", join(dir, "zero.toml"));
  mkdirSync(join(dir, "dir.toml"));
  symlinkSync("loop.toml", join(dir, "loop.toml"));
  symlinkSync("missing.toml", join(dir, "dangling.toml"));
  await socketAt(join(dir, "sock.toml"));
  return dir;
}

const REFUSED: [string, string][] = [
  ["fifo.toml", "fifo.toml: config file is a FIFO (named pipe), not a file"],
  ["zero.toml", "zero.toml: config file is a character device, not a file"],
  ["dir.toml", "dir.toml: config file is a directory, not a file; give the path of the config file in it"],
  ["sock.toml", "sock.toml: config file is a unix socket, not a file"],
  ["loop.toml", "loop.toml: config file is a symlink loop (ELOOP"],
  ["dangling.toml", "dangling.toml: config file is a symlink to missing.toml, which does not exist"],
  ["big.toml", "big.toml: config file is 5.0 MiB (5242883 bytes); sup reads config files of at most 4.0 MiB"],
];

describe("readConfigText", async () => {
  const dir = await hostileDir();
  for (const [name, message] of REFUSED) {
    test(`refuses ${name} at once: ${message}`, () => {
      const t0 = performance.now();
      expect(() => readConfigText(join(dir, name), name)).toThrow(message);
      expect(performance.now() - t0).toBeLessThan(1000);
    });
  }

  test("reads a regular file, through a symlink too, and drops a UTF-8 byte order mark", () => {
    const d = dirWith({ "a.toml": "\uFEFFprocesses = 2\n" });
    symlinkSync("a.toml", join(d, "link.toml"));
    expect(readConfigText(join(d, "a.toml"), "a.toml")).toBe("processes = 2\n");
    expect(readConfigText(join(d, "link.toml"), "link.toml")).toBe("processes = 2\n");
  });

  test("a file of exactly the limit is read; one byte more is refused", () => {
    const d = dirWith({});
    writeFileSync(join(d, "max.toml"), "#".repeat(MAX_CONFIG_BYTES));
    expect(readConfigText(join(d, "max.toml"), "max.toml")).toHaveLength(MAX_CONFIG_BYTES);
    writeFileSync(join(d, "max.toml"), "#".repeat(MAX_CONFIG_BYTES + 1));
    expect(() => readConfigText(join(d, "max.toml"), "max.toml")).toThrow("(4194305 bytes)");
  });
});

describe("sup check and sup config refuse them, exit 2", async () => {
  const dir = await hostileDir();
  for (const [name, message] of REFUSED) {
    test(`-c ${name}`, async () => {
      for (const verb of [["check"], ["config"]]) {
        const r = await sup([...verb, "-c", name], dir, cleanEnv(), [], 5000);
        expect(r.stderr).toContain(`sup: ${message}`);
        expect(r.code).toBe(2);
      }
    });
  }

  test("--toml /dev/zero names the device", async () => {
    const r = await sup(["check", "--toml", "/dev/zero"], dir, cleanEnv(), [], 5000);
    expect(r.stderr).toContain("sup: /dev/zero: config file is a character device, not a file");
    expect(r.code).toBe(2);
  });

  test.each(["sup.toml", "sup.ini", "sup.json", ".suprc"])("a FIFO found by the search as %s", async (name) => {
    const d = dirWith({});
    Bun.spawnSync(["mkfifo", join(d, name)]);
    const r = await sup(["check"], d, cleanEnv(), [], 5000);
    expect(r.stderr).toContain(`sup: ${name}: config file is a FIFO (named pipe), not a file`);
    expect(r.code).toBe(2);
  });

  test("included by a uwsgi.ini (ini = FILE): a FIFO, /dev/zero, a symlink loop are named at their include line", async () => {
    const d = dirWith({ "uwsgi.ini": "[uwsgi]\nprocesses = 2\nini = fifo.ini\nini = zero.ini\nini = loop.ini\n" });
    Bun.spawnSync(["mkfifo", join(d, "fifo.ini")]);
    symlinkSync("/dev/zero", join(d, "zero.ini"));
    symlinkSync("loop.ini", join(d, "loop.ini"));
    const r = await sup(["check", "--ini", "uwsgi.ini"], d, cleanEnv(), [], 5000);
    expect(r.stderr).toContain("uwsgi.ini:3: fifo.ini is a FIFO (named pipe), not a file");
    expect(r.stderr).toContain("uwsgi.ini:4: zero.ini is a character device, not a file");
    expect(r.stderr).toContain("uwsgi.ini:5: loop.ini is a symlink loop");
    expect(r.code).toBe(2);
  });

  test("a symlink loop found by the search says so", async () => {
    const d = dirWith({});
    symlinkSync("sup.toml", join(d, "sup.toml"));
    const r = await sup(["check"], d, cleanEnv(), [], 5000);
    expect(r.stderr).toContain("sup: sup.toml: config file is a symlink loop");
    expect(r.code).toBe(2);
  });
});

describe("a byte order mark is accepted in every format", () => {
  const FILES: Record<string, string> = {
    "sup.ini": "[sup]\nprocesses = 3\n",
    "sup.toml": "processes = 3\n",
    "sup.json": '{\n"processes": 3\n}\n',
    "sup.yaml": "processes: 3\n",
  };
  for (const [name, text] of Object.entries(FILES)) {
    test(name, async () => {
      const d = dirWith({ [name]: `\uFEFF${text}` });
      const { config, sources } = await load(["-c", name], d);
      expect(config.processes).toBe(3);
      expect(sources.processes!.where).toBe(`${name}:${name === "sup.json" ? 2 : name === "sup.ini" ? 2 : 1}`);
    });
  }
});
