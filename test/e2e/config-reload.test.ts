// Reload re-reads the config file (DESIGN.md §2): a broken file is reported
// with its file:line and the old workers keep running; a fixed one applies.
import { describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Master, alive, fixture, tempDir, useCleanup, waitUntil } from "./harness.ts";

useCleanup();

const ready = async (m: Master, n: number) => await waitUntil(() => m.count(/ ready \(/g) >= n, 10_000, () => `${n} ready lines:\n${m.out}`);

const FORMATS = {
  "sup.ini": {
    good: (n: number) => `[sup]\nprocesses = ${n}\nready = delay:0.2\ncommand = ${fixture("sleeper.sh")}\n`,
    broken: `[sup]\nprocesses = 2\nprocesess = 3\n`,
    error: /reload failed: sup\.ini:3: unknown key "procesess" \(did you mean processes\?\)/,
  },
  "sup.toml": {
    good: (n: number) => `processes = ${n}\nready = "delay:0.2"\ncommand = [${JSON.stringify(fixture("sleeper.sh"))}]\n`,
    broken: `processes = 2\ncommand = [\n`,
    error: /reload failed: sup\.toml:\d+: TOML syntax error/,
  },
};

describe.each(Object.keys(FORMATS) as (keyof typeof FORMATS)[])("reload with %s", (name) => {
  const f = FORMATS[name];

  test("a broken file keeps the same workers and names file:line; a fixed one applies the new count", async () => {
    const dir = tempDir();
    const file = join(dir, name);
    writeFileSync(file, f.good(2));
    const m = new Master(["-c", name], { cwd: dir });
    await ready(m, 2);
    const old = m.livePids().sort();
    expect(old).toHaveLength(2);

    writeFileSync(file, f.broken);
    m.signal("SIGHUP");
    await m.waitFor(f.error);
    await Bun.sleep(500); // time enough for a wrong reload to have spawned
    expect(m.livePids().sort()).toEqual(old);
    expect(m.count(/ spawned/g)).toBe(2);
    for (const p of old) expect(alive(p)).toBe(true);

    writeFileSync(file, f.good(3));
    m.signal("SIGHUP");
    await m.waitFor(/reload gen 2 done/);
    await waitUntil(() => old.every((p) => !alive(p)), 5000, "old workers gone");
    await waitUntil(() => m.livePids().length === 3, 5000, () => `the old workers' exit lines:\n${m.out}`); // the log trails the exits
    const now = m.livePids();
    expect(now).toHaveLength(3);
    for (const p of now) expect(old).not.toContain(p);
  });
});

test("the working directory deleted while the master runs: a respawn and a reload say that directory is gone (not that sup's binary is), and the master keeps running", async () => {
  const dir = join(tempDir(), "release");
  mkdirSync(dir);
  const m = new Master(["--ready", "delay:0.2", "--", "sleep", "30"], { cwd: dir });
  await m.waitFor(/gen 1 ready/);
  rmSync(dir, { recursive: true });
  process.kill(m.livePids()[0]!, "SIGKILL");
  await m.waitFor(/worker 1 gen 1 cannot start: the working directory \S+release does not exist \(removed after the master started\?\); create it again, or reload with --chdir set to one that exists/);
  m.signal("SIGHUP");
  await m.waitFor(/reload failed: the working directory \S+release \(where the master was started\) does not exist any more; create it again, or set --chdir/);
  expect(m.out).not.toContain("posix_spawn");
  mkdirSync(dir);
  await waitUntil(() => m.count(/gen 1 ready/g) >= 2, 15_000, () => `the respawn once the directory is back:\n${m.out}`);
  m.signal("SIGTERM");
  expect(await m.exitCode()).toBe(0);
}, 30_000);
