// Reload re-reads the config file (DESIGN.md §2): a broken file is reported
// with its file:line and the old workers keep running; a fixed one applies.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
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
