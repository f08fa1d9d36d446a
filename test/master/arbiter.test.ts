// The master loop with an injected spawn function and clock: the timing
// paths (readiness, rollback, backoff) run in milliseconds, no processes.
import { expect, test } from "bun:test";
import { defaults, type Config } from "../../src/config/schema.ts";
import { ConfigError } from "../../src/config/coerce.ts";
import { Arbiter } from "../../src/master/arbiter.ts";
import type { SpawnSpec } from "../../src/worker/spawn.ts";

// Pids above the kernel's pid_max (2^22): a stray kill() can reach nobody.
let nextPid = 5_000_000;

function setup(over: Partial<Config> = {}, loadConfig?: () => Promise<Config>) {
  const cfg: Config = { ...defaults(), command: ["app"], ready: "delay:1", ...over };
  let now = 0;
  const spawned: { pid: number; id: number; gen: number; spec: SpawnSpec }[] = [];
  const lines: string[] = [];
  const log = { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
  const arb = new Arbiter(cfg, {
    spawn: (spec) => {
      const pid = nextPid++;
      spawned.push({ pid, id: Number(spec.env.SUP_WORKER_ID), gen: Number(spec.env.SUP_GENERATION), spec });
      return { pid };
    },
    now: () => now,
    log,
    masterPid: 1,
    loadConfig: loadConfig ?? (async () => cfg),
    prepare: (c, id, generation) => ({ argv: c.command, cwd: "/", fds: [], env: { SUP_WORKER_ID: String(id), SUP_GENERATION: String(generation) } }),
    manualTicks: true,
  });
  const done = arb.run();
  const settle = async () => {
    for (let i = 0; i < 20; i++) await Bun.sleep(0);
  };
  const tick = async (ms: number) => {
    now += ms;
    arb.queue.push({ type: "tick" });
    await settle();
  };
  const exit = async (pid: number, code = 0) => {
    const w = arb.workers.find((x) => x.pid === pid)!;
    arb.queue.push({ type: "exit", worker: w, code, signal: null });
    await settle();
  };
  const live = () => arb.workers.map((w) => `${w.id}.${w.generation}.${w.state}${w.candidate ? "*" : ""}`).sort();
  return { arb, spawned, lines, settle, tick, exit, live, done };
}

test("starts N workers of generation 1 and marks them ready after the delay", async () => {
  const t = setup({ processes: 3 });
  await t.settle();
  expect(t.live()).toEqual(["1.1.starting", "2.1.starting", "3.1.starting"]);
  await t.tick(999);
  expect(t.live()).toEqual(["1.1.starting", "2.1.starting", "3.1.starting"]);
  await t.tick(1);
  expect(t.live()).toEqual(["1.1.ready", "2.1.ready", "3.1.ready"]);
});

test("a reload keeps the old generation until every new worker is ready", async () => {
  const t = setup({ processes: 2 });
  await t.tick(1000);
  const results: boolean[] = [];
  t.arb.queue.push({ type: "reload", reason: "test", rolling: false, reply: (r) => results.push(r.ok) });
  await t.settle();
  expect(t.live()).toEqual(["1.1.ready", "1.2.starting*", "2.1.ready", "2.2.starting*"]);
  await t.tick(1000);
  expect(t.live()).toEqual(["1.1.stopping", "1.2.ready", "2.1.stopping", "2.2.ready"]);
  expect(results).toEqual([true]);
  expect(t.arb.generation).toBe(2);
});

test("a new worker that exits at boot rolls the reload back; the old ones keep serving", async () => {
  const t = setup({ processes: 2 });
  await t.tick(1000);
  const results: string[] = [];
  t.arb.queue.push({ type: "reload", reason: "test", rolling: false, reply: (r) => results.push(r.message) });
  await t.settle();
  const broken = t.spawned.find((s) => s.gen === 2 && s.id === 1)!;
  await t.exit(broken.pid, 1);
  expect(t.live()).toEqual(["1.1.ready", "2.1.ready", "2.2.stopping*"]);
  expect(results[0]).toMatch(/reload gen 2 rolled back: worker 1 pid \d+ gen 2 exited code 1/);
  expect(t.arb.generation).toBe(1);
  // No respawn of the failed candidate: the old generation stays as it is.
  await t.tick(5000);
  expect(t.spawned.filter((s) => s.gen === 2)).toHaveLength(2);
});

test("a new worker that never becomes ready is rolled back at the ready timeout", async () => {
  const t = setup({ processes: 1, ready: "notify", "ready-timeout": 3 });
  await t.settle();
  t.arb.workers[0]!.markReady(0);
  t.arb.queue.push({ type: "reload", reason: "test", rolling: false });
  await t.settle();
  await t.tick(2999);
  expect(t.live()).toEqual(["1.1.ready", "1.2.starting*"]);
  await t.tick(1);
  expect(t.live()).toEqual(["1.1.ready", "1.2.stopping*"]);
  expect(t.lines.join("\n")).toContain("not ready within 3s");
});

test("reload requests during a reload collapse into exactly one follow-up", async () => {
  const t = setup({ processes: 1 });
  await t.tick(1000);
  for (let i = 0; i < 5; i++) t.arb.queue.push({ type: "reload", reason: `r${i}`, rolling: false });
  await t.settle();
  expect(t.lines.filter((l) => l.includes("queued after generation 2"))).toHaveLength(4);
  await t.tick(1000); // gen 2 ready → commit → the one queued reload starts
  await t.tick(1000);
  await t.tick(1000);
  expect(t.arb.generation).toBe(3);
  expect(t.spawned.map((s) => s.gen)).toEqual([1, 2, 3]);
});

test("a config that fails to load keeps the old config and workers", async () => {
  let fail = false;
  const cfg: Config = { ...defaults(), command: ["app"], ready: "delay:1", processes: 2 };
  const t = setup(cfg, async () => {
    if (fail) throw new ConfigError("sup.ini:3: processes must be a whole number");
    return cfg;
  });
  await t.tick(1000);
  fail = true;
  const msgs: string[] = [];
  t.arb.queue.push({ type: "reload", reason: "test", rolling: false, reply: (r) => msgs.push(r.message) });
  await t.settle();
  expect(msgs[0]).toContain("sup.ini:3: processes must be a whole number; keeping the old config and workers");
  expect(t.live()).toEqual(["1.1.ready", "2.1.ready"]);
  expect(t.spawned).toHaveLength(2);
});

test("a crashing worker is respawned after 0.1, 0.2, 0.4 s", async () => {
  const t = setup({ processes: 1 });
  await t.settle();
  const gaps: number[] = [];
  for (let i = 0; i < 3; i++) {
    await t.exit(t.spawned.at(-1)!.pid, 1);
    let waited = 0;
    const before = t.spawned.length;
    while (t.spawned.length === before && waited < 10_000) {
      await t.tick(10);
      waited += 10;
    }
    gaps.push(waited);
  }
  expect(gaps).toEqual([100, 200, 400]);
});

test("rolling reload: each old worker goes only after its replacement is ready", async () => {
  const t = setup({ processes: 2 });
  await t.tick(1000);
  t.arb.queue.push({ type: "reload", reason: "test", rolling: true });
  await t.settle();
  expect(t.live()).toEqual(["1.1.ready", "1.2.starting*", "2.1.ready"]);
  await t.tick(1000);
  expect(t.live()).toEqual(["1.1.stopping", "1.2.ready", "2.1.ready", "2.2.starting*"]);
  await t.tick(1000);
  expect(t.live()).toEqual(["1.1.stopping", "1.2.ready", "2.1.stopping", "2.2.ready"]);
  expect(t.arb.generation).toBe(2);
});
