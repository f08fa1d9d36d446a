// The reload's config load in a child process (src/verbs/config-child.ts):
// what the master gets back, and a child that hangs is killed at the timeout.
import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadInChild } from "../../src/verbs/config-child.ts";
import { checkConfig } from "../../src/verbs/preflight.ts";
import { dirWith } from "../config/helpers.ts";

const MAIN = resolve(import.meta.dir, "../../src/main.ts");
const loader = (dir: string, ...argv: string[]) => [process.execPath, MAIN, "__load-config", String(process.pid), dir, ...argv];
const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test("a good config comes back as the master would have loaded it, preflight included", async () => {
  const dir = dirWith({ "sup.toml": 'processes = 3\ncommand = ["sh", "-c", "sleep 1"]\n' });
  const pids: [number, boolean][] = [];
  const { config, sources, programs, programSources } = await loadInChild({ argv: loader(dir, "--ready", "delay:0.5"), running: (pid, alive) => pids.push([pid, alive]) });
  expect(config.processes).toBe(3);
  expect(config.ready).toBe("delay:0.5");
  expect(config.command).toEqual(["sh", "-c", "sleep 1"]);
  expect(sources.processes).toEqual({ layer: "file", where: "sup.toml:1" });
  expect(programs.map((p) => p.config.processes)).toEqual([3]);
  expect(programSources).toBeInstanceOf(Map);
  // The master's checkConfig of it finds the loader's result (no lookups on its loop): from a start dir where nothing resolves, the same argv.
  const { argv } = checkConfig(programs[0]!.config, "/nonexistent");
  expect(argv[0]).toMatch(/\/sh$/);
  expect(argv.slice(1)).toEqual(["-c", "sleep 1"]);
  expect(pids).toHaveLength(2);
  expect(pids.map(([, a]) => a)).toEqual([true, false]);
  expect(pids[0]![0]).toBe(pids[1]![0]);
});

test("a bad config, or a command preflight refuses, rejects with the message a user sees", async () => {
  const dir = dirWith({ "sup.toml": "processes = 0\n" });
  await expect(loadInChild({ argv: loader(dir, "--", "true") })).rejects.toThrow("sup.toml:1: processes must be at least 1");
  writeFileSync(join(dir, "sup.toml"), "processes = 1\n");
  await expect(loadInChild({ argv: loader(dir, "--", "no-such-command-xyz") })).rejects.toThrow('command not found: "no-such-command-xyz"');
});

test("a loader that hangs is killed at the timeout: config load timed out", async () => {
  let pid = 0;
  const t0 = performance.now();
  await expect(loadInChild({ argv: ["sleep", "30"], timeoutMs: 300, running: (p) => (pid = p) })).rejects.toThrow(/^config load timed out after 0\.3 s \(loader pid \d+ killed\)$/);
  expect(performance.now() - t0).toBeLessThan(2000);
  expect(isAlive(pid)).toBe(false);
});

test("a loader that dies without an answer: its exit and first stderr line", async () => {
  await expect(loadInChild({ argv: ["sh", "-c", "echo 'sup: internal error: boom' >&2; exit 1"] })).rejects.toThrow(/^the config loader \(pid \d+\) exited code 1: internal error: boom$/);
  await expect(loadInChild({ argv: ["/nonexistent/sup"] })).rejects.toThrow("cannot start the config loader /nonexistent/sup");
});
