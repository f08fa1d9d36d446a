// The master loop with an injected spawn function and clock: desired-state
// convergence, reloads, rollbacks, scaling and stops run in milliseconds,
// without processes.
import { describe, expect, test } from "bun:test";
import { ConfigError } from "../../src/config/coerce.ts";
import { defaults, type Config } from "../../src/config/schema.ts";
import { Arbiter } from "../../src/supervisor/arbiter.ts";
import type { World } from "../../src/supervisor/world.ts";
import type { LifecycleNote } from "../../src/supervisor/lifecycle.ts";
import type { SpawnSpec } from "../../src/processes/spawn.ts";

// Pids above the kernel's pid_max (2^22): a stray kill() can reach nobody.
let nextPid = 5_000_000;

function setup(over: Partial<Config> = {}, loadConfig?: () => Promise<Config>, extra: Partial<World> = {}) {
  const cfg: Config = { ...defaults(), command: ["app"], ready: "delay:1", "reload-grace": 0, ...over };
  let now = 0;
  const spawned: { pid: number; id: number; gen: number; port: number; spec: SpawnSpec }[] = [];
  const lines: string[] = [];
  const notes: LifecycleNote[] = [];
  const released: number[] = [];
  const steered: number[] = [];
  const log = { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
  const arb = new Arbiter(cfg, {
    spawn: (spec) => {
      const pid = nextPid++;
      spawned.push({ pid, id: Number(spec.env.SUP_WORKER_ID), gen: Number(spec.env.SUP_GENERATION), port: Number(spec.env.PORT ?? 0), spec });
      return { pid };
    },
    now: () => now,
    log,
    masterPid: 1,
    loadConfig: loadConfig ?? (async () => cfg),
    prepare: (c, id, generation, port) => ({
      argv: c.command, cwd: "/", fds: [], notifyPipe: false, output: "pipe",
      env: { SUP_WORKER_ID: String(id), SUP_GENERATION: String(generation), PORT: String(port) },
    }),
    lifecycle: (what) => notes.push(what),
    release: (gen) => released.push(gen),
    steer: (gen, now) => steered.push(now ? gen : -gen), // negative: once it accepts
    sessionOf: (pid) => (pid >= 6_000_000 ? pid - 1_000_000 : -1), // 6_000_123 is in the session of 5_000_123
    manualTicks: true,
    ...extra,
  });
  const done = arb.run();
  const settle = async () => {
    for (let i = 0; i < 20; i++) await Bun.sleep(0);
  };
  const tick = async (ms: number) => {
    now += ms;
    arb.queue.push({ type: "timer" });
    await settle();
  };
  const workerOf = (pid: number) => arb.workers.list.find((x) => x.pid === pid)!;
  const exit = async (pid: number, code = 0) => {
    arb.queue.push({ type: "exit", worker: workerOf(pid), code, signal: null });
    await settle();
  };
  /** Every worker that was asked to stop exits. */
  const drain = async () => {
    for (const w of arb.workers.list.filter((x) => x.state === "stopping")) arb.queue.push({ type: "exit", worker: w, code: 0, signal: null });
    await settle();
  };
  const reload = async (rolling = false) => {
    const results: { ok: boolean; message: string }[] = [];
    arb.queue.push({ type: "reload", reason: "test", rolling, reply: (r) => results.push(r) });
    await settle();
    return results;
  };
  const live = () => arb.workers.list.map((w) => `${w.id}.${w.generation}.${w.state}`).sort();
  const pidOf = (id: number, gen: number) => spawned.findLast((s) => s.id === id && s.gen === gen)!.pid;
  /** Worker pid says READY=1. */
  const ready = async (pid: number) => {
    arb.queue.push({ type: "notify", worker: workerOf(pid), text: "READY=1" });
    await settle();
  };
  return { arb, cfg, spawned, lines, notes, released, steered, ready, settle, tick, exit, drain, reload, live, pidOf, done, setNow: (t: number) => (now = t) };
}

test("starts N workers of generation 1 and marks them ready after the delay", async () => {
  const t = setup({ processes: 3 });
  await t.settle();
  expect(t.live()).toEqual(["1.1.starting", "2.1.starting", "3.1.starting"]);
  await t.tick(999);
  expect(t.live()).toEqual(["1.1.starting", "2.1.starting", "3.1.starting"]);
  await t.tick(1);
  expect(t.live()).toEqual(["1.1.ready", "2.1.ready", "3.1.ready"]);
  expect(t.notes).toEqual(["ready"]);
});

test("a reload keeps the old generation until every new worker is ready", async () => {
  const t = setup({ processes: 2 });
  await t.tick(1000);
  const results = await t.reload();
  expect(t.live()).toEqual(["1.1.ready", "1.2.starting", "2.1.ready", "2.2.starting"]);
  await t.tick(1000);
  expect(t.live()).toEqual(["1.1.stopping", "1.2.ready", "2.1.stopping", "2.2.ready"]);
  expect(results.map((r) => r.ok)).toEqual([true]);
  expect(t.arb.generation).toBe(2);
  expect(t.notes).toEqual(["ready", "reloading", "reloaded"]);
});

test("a new worker that exits at boot rolls the reload back; the old ones keep serving", async () => {
  const t = setup({ processes: 2 });
  await t.tick(1000);
  const results = await t.reload();
  await t.exit(t.pidOf(1, 2), 1);
  expect(t.live()).toEqual(["1.1.ready", "2.1.ready", "2.2.stopping"]);
  expect(results[0]!.message).toMatch(/reload gen 2 rolled back: worker 1 pid \d+ gen 2 exited code 1/);
  expect(t.lines.join("\n")).toContain("generation 1 keeps serving (2 workers)");
  expect(t.arb.generation).toBe(1);
  await t.drain();
  await t.tick(5000);
  expect(t.spawned.filter((s) => s.gen === 2)).toHaveLength(2); // no respawn of the failed generation
  expect(t.released).toContain(2);
});

test("the rollback line says so when no worker serves", async () => {
  const t = setup({ processes: 1 });
  await t.settle(); // worker 1 still starting: nothing serves yet
  await t.reload();
  await t.exit(t.pidOf(1, 2), 1);
  expect(t.lines.join("\n")).toContain("no worker is serving: generation 1 has no ready worker");
  expect(t.lines.join("\n")).not.toContain("keeps serving");
});

test("a new worker that never becomes ready is rolled back at the ready timeout", async () => {
  const t = setup({ processes: 1, ready: "notify", "ready-timeout": 3 });
  await t.settle();
  t.arb.workers.list[0]!.markReady(0);
  await t.reload();
  await t.tick(2999);
  expect(t.live()).toEqual(["1.1.ready", "1.2.starting"]);
  await t.tick(1);
  expect(t.live()).toEqual(["1.1.ready", "1.2.stopping"]);
  expect(t.lines.join("\n")).toContain("not ready within 3s");
});

test("new workers whose ready timeouts fall due together: one rollback, and each is stopped by it, none killed as a crash", async () => {
  const t = setup({ processes: 2, ready: "notify", "ready-timeout": 3 });
  await t.settle();
  for (const w of t.arb.workers.list) w.markReady(0);
  await t.reload();
  await t.tick(3000);
  expect(t.live()).toEqual(["1.1.ready", "1.2.stopping", "2.1.ready", "2.2.stopping"]);
  const text = t.lines.join("\n");
  expect(text.match(/rolled back/g)).toHaveLength(1);
  expect(text).not.toContain("killing it");
  expect(t.arb.workers.list.filter((w) => w.generation === 2).map((w) => w.stopReason)).toEqual(["rollback", "rollback"]);
});

test("reload-grace: a new worker that dies soon after it said ready still rolls back", async () => {
  const t = setup({ processes: 1, "reload-grace": 2 });
  await t.tick(1000);
  const results = await t.reload();
  await t.tick(1000); // gen 2 ready, grace running: gen 1 still serves
  expect(t.live()).toEqual(["1.1.ready", "1.2.ready"]);
  await t.tick(1500);
  await t.exit(t.pidOf(1, 2), 3);
  expect(results[0]!.ok).toBe(false);
  expect(t.live()).toEqual(["1.1.ready"]);
});

test("reload-grace: once the grace has passed, the old generation is retired", async () => {
  const t = setup({ processes: 1, "reload-grace": 2 });
  await t.tick(1000);
  const results = await t.reload();
  await t.tick(1000);
  await t.tick(1999);
  expect(results).toEqual([]);
  await t.tick(1);
  expect(results[0]!.ok).toBe(true);
  expect(t.live()).toEqual(["1.1.stopping", "1.2.ready"]);
});

test("reload requests during a reload collapse into exactly one follow-up", async () => {
  const t = setup({ processes: 1 });
  await t.tick(1000);
  for (let i = 0; i < 5; i++) t.arb.queue.push({ type: "reload", reason: `r${i}`, rolling: false });
  await t.settle();
  expect(t.lines.filter((l) => l.includes("queued after the running one"))).toHaveLength(4);
  await t.tick(1000); // gen 2 ready → commit → the one queued reload starts
  await t.tick(1000);
  expect(t.arb.generation).toBe(3);
  expect(t.spawned.map((s) => s.gen)).toEqual([1, 2, 3]);
});

test("a config that fails to load keeps the old config and workers", async () => {
  let fail = false;
  const t = setup({ processes: 2 }, async () => {
    if (fail) throw new ConfigError("sup.ini:3: processes must be a whole number");
    return t.cfg;
  });
  await t.tick(1000);
  fail = true;
  const results = await t.reload();
  expect(results[0]!.message).toContain("sup.ini:3: processes must be a whole number; keeping the old config and workers");
  expect(t.live()).toEqual(["1.1.ready", "2.1.ready"]);
  expect(t.spawned).toHaveLength(2);
  expect(t.notes).toEqual(["ready", "reloading", "reloaded"]);
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

test("a crash during a reload respawns the old worker; the reload goes on", async () => {
  const t = setup({ processes: 2 });
  await t.tick(1000);
  const results = await t.reload();
  await t.exit(t.pidOf(2, 1), 1);
  expect(t.live()).toEqual(["1.1.ready", "1.2.starting", "2.2.starting"]);
  await t.tick(100);
  expect(t.live()).toEqual(["1.1.ready", "1.2.starting", "2.1.starting", "2.2.starting"]);
  await t.tick(900);
  expect(results[0]!.ok).toBe(true);
  expect(t.live()).toEqual(["1.1.stopping", "1.2.ready", "2.1.stopping", "2.2.ready"]);
});

test("rolling reload: each old worker goes only after its replacement is ready", async () => {
  const t = setup({ processes: 2 });
  await t.tick(1000);
  await t.reload(true);
  expect(t.live()).toEqual(["1.1.ready", "1.2.starting", "2.1.ready"]);
  await t.tick(1000);
  expect(t.live()).toEqual(["1.1.stopping", "1.2.ready", "2.1.ready", "2.2.starting"]);
  await t.tick(1000);
  expect(t.live()).toEqual(["1.1.stopping", "1.2.ready", "2.1.stopping", "2.2.ready"]);
  expect(t.arb.generation).toBe(2);
});

test("rolling reload with processes 2 → 4 never stops a new worker", async () => {
  const t = setup({ processes: 2 });
  await t.tick(1000);
  const four = { ...t.cfg, processes: 4 };
  t.arb.deps.loadConfig = async () => four;
  await t.reload(true);
  for (let i = 0; i < 4; i++) await t.tick(1000);
  expect(t.arb.workers.list.filter((w) => w.generation === 2).map((w) => w.state)).toEqual(["ready", "ready", "ready", "ready"]);
  expect(t.lines.filter((l) => /gen 2 stopping/.test(l))).toEqual([]);
  expect(t.spawned.filter((s) => s.gen === 2)).toHaveLength(4);
  expect(t.arb.generation).toBe(2);
});

test("a failed rolling reload keeps the replaced workers and the old ones", async () => {
  const t = setup({ processes: 3 });
  await t.tick(1000);
  const results = await t.reload(true);
  await t.tick(1000); // id 1 replaced
  await t.exit(t.pidOf(2, 2), 1);
  await t.drain();
  expect(results[0]!.ok).toBe(false);
  expect(t.live()).toEqual(["1.2.ready", "2.1.ready", "3.1.ready"]);
});

test("TTIN during a reload: the new generation gets one more worker, and the count survives", async () => {
  const t = setup({ processes: 2 });
  await t.tick(1000);
  await t.reload();
  t.arb.queue.push({ type: "signal", sig: "SIGTTIN" });
  await t.settle();
  expect(t.live().filter((w) => w.includes(".2."))).toEqual(["1.2.starting", "2.2.starting", "3.2.starting"]);
  await t.tick(1000);
  await t.tick(1000);
  await t.drain();
  expect(t.live()).toEqual(["1.2.ready", "2.2.ready", "3.2.ready"]);
  await t.reload(); // processes is still 2 in the file: the TTIN stays
  await t.tick(1000);
  await t.drain();
  expect(t.live()).toEqual(["1.3.ready", "2.3.ready", "3.3.ready"]);
});

test("TTOU retires the highest id; a config that changes processes takes over from the signal", async () => {
  const t = setup({ processes: 3 });
  await t.tick(1000);
  t.arb.queue.push({ type: "signal", sig: "SIGTTOU" });
  await t.settle();
  expect(t.live()).toEqual(["1.1.ready", "2.1.ready", "3.1.stopping"]);
  t.arb.deps.loadConfig = async () => ({ ...t.cfg, processes: 4 });
  await t.drain();
  await t.reload();
  await t.tick(1000);
  await t.drain();
  expect(t.live()).toEqual(["1.2.ready", "2.2.ready", "3.2.ready", "4.2.ready"]);
});

test("stop during a reload: the reload fails, systemd hears STOPPING and no READY after it", async () => {
  const t = setup({ processes: 2 });
  await t.tick(1000);
  const results = await t.reload();
  t.arb.queue.push({ type: "signal", sig: "SIGTERM" });
  await t.settle();
  expect(results[0]).toMatchObject({ ok: false, message: "the master is stopping" });
  expect(t.live().every((w) => w.endsWith("stopping"))).toBe(true);
  await t.tick(1000);
  await t.drain();
  expect(await t.done).toBe(0);
  expect(t.notes).toEqual(["ready", "reloading", "stopping"]);
  expect(t.lines.join("\n")).not.toContain("keeps serving");
});

test("a second INT stops at once", async () => {
  const t = setup({ processes: 1 });
  await t.tick(1000);
  t.arb.queue.push({ type: "signal", sig: "SIGINT" });
  await t.settle();
  expect(t.arb.workers.list[0]!.killed).toBe(false);
  t.arb.queue.push({ type: "signal", sig: "SIGINT" });
  await t.settle();
  expect(t.arb.workers.list[0]!.killed).toBe(true);
});

test("stop-first: the old worker exits before its replacement starts", async () => {
  const t = setup({ processes: 2, "reload-strategy": "stop-first" });
  await t.tick(1000);
  const results = await t.reload();
  expect(t.live()).toEqual(["1.1.stopping", "2.1.stopping"]);
  await t.exit(t.pidOf(1, 1));
  expect(t.live()).toEqual(["2.1.stopping"]); // all at once: waits for every old worker
  await t.exit(t.pidOf(2, 1));
  expect(t.live()).toEqual(["1.2.starting", "2.2.starting"]);
  await t.tick(1000);
  expect(results[0]!.ok).toBe(true);
});

test("stop-first rolling: one id at a time, stop then start", async () => {
  const t = setup({ processes: 2, "reload-strategy": "stop-first" });
  await t.tick(1000);
  await t.reload(true);
  expect(t.live()).toEqual(["1.1.stopping", "2.1.ready"]);
  await t.exit(t.pidOf(1, 1));
  expect(t.live()).toEqual(["1.2.starting", "2.1.ready"]);
  await t.tick(1000);
  expect(t.live()).toEqual(["1.2.ready", "2.1.stopping"]);
});

test("stop-first: a new worker that fails brings the old config back", async () => {
  const t = setup({ processes: 1, "reload-strategy": "stop-first" });
  await t.tick(1000);
  const results = await t.reload();
  await t.exit(t.pidOf(1, 1));
  await t.exit(t.pidOf(1, 2), 1);
  expect(results[0]!.ok).toBe(false);
  expect(t.live()).toEqual(["1.1.starting"]);
});

test("a new worker that dies of EADDRINUSE: the rollback names stop-first and --listen", async () => {
  const t = setup({ processes: 1 });
  await t.tick(1000);
  const results = await t.reload();
  t.arb.workers.list.find((w) => w.generation === 2)!.noteStderr("OSError: [Errno 98] Address already in use");
  await t.exit(t.pidOf(1, 2), 1);
  expect(results[0]!.message).toContain("the app binds its own port");
  expect(results[0]!.message).toContain("--reload-strategy stop-first");
  expect(results[0]!.message).toContain("--listen");
});

test("port-base: a new worker gets the port its predecessor does not hold", async () => {
  const t = setup({ processes: 2, "port-base": 9000 });
  await t.tick(1000);
  expect(t.spawned.map((s) => s.port)).toEqual([9000, 9002]);
  await t.reload();
  expect(t.spawned.filter((s) => s.gen === 2).map((s) => s.port)).toEqual([9001, 9003]);
  await t.tick(1000);
  await t.drain();
  await t.reload();
  expect(t.spawned.filter((s) => s.gen === 3).map((s) => s.port)).toEqual([9000, 9002]);
});

test("port-base: a reload waits while both ports of an id are still held", async () => {
  const t = setup({ processes: 1, "port-base": 9000, "worker-reload-mercy": 30 });
  await t.tick(1000);
  await t.reload();
  await t.tick(1000); // gen 2 on 9001 ready; gen 1 on 9000 still stopping
  await t.reload();
  expect(t.live()).toEqual(["1.1.stopping", "1.2.ready"]);
  await t.exit(t.pidOf(1, 1));
  expect(t.spawned.at(-1)).toMatchObject({ gen: 3, port: 9000 });
});

test("READY=1 on the notify socket counts for the worker whose session sent it", async () => {
  const t = setup({ processes: 1, ready: "notify" });
  await t.settle();
  const pid = t.spawned[0]!.pid;
  t.arb.queue.push({ type: "notify", pid: pid + 1_000_000, uid: 0, text: "STATUS=booting" });
  await t.settle();
  expect(t.arb.workers.list[0]!.statusText).toBe("booting");
  t.arb.queue.push({ type: "notify", pid, uid: 12345, text: "READY=1" }); // another user: ignored
  await t.settle();
  expect(t.live()).toEqual(["1.1.starting"]);
  t.arb.queue.push({ type: "notify", pid, uid: 0, text: "READY=1\nSTATUS=serving" });
  await t.settle();
  expect(t.live()).toEqual(["1.1.ready"]);
  expect(t.arb.report().workers[0]!.status).toBe("serving");
});

test("give-up-after: the master stops with exit 1 after N exits in a row", async () => {
  const t = setup({ processes: 1, "give-up-after": 3 });
  await t.settle();
  for (let i = 0; i < 3; i++) {
    await t.exit(t.spawned.at(-1)!.pid, 1);
    await t.tick(1000);
  }
  expect(t.lines.join("\n")).toContain("giving up: worker 1 exited 3 times in a row");
  expect(await t.done).toBe(1);
});

test("an idle master has no deadline; a stopping worker has its kill time", async () => {
  const t = setup({ processes: 1, "worker-reload-mercy": 5 });
  await t.tick(1000);
  const next = () => (t.arb as unknown as { nextDeadline(): number }).nextDeadline();
  expect(next()).toBe(Infinity);
  await t.reload();
  await t.tick(1000);
  expect(next()).toBe(2000 + 5000);
});

test("rolling with a grace: the next new worker starts while the one before is in its grace; old ones go after it", async () => {
  const t = setup({ processes: 2, "reload-grace": 2 });
  await t.tick(1000);
  const results = await t.reload(true);
  expect(t.live()).toEqual(["1.1.ready", "1.2.starting", "2.1.ready"]);
  await t.tick(1000); // 1.2 ready, in grace: 2.2 may start; nothing old goes yet
  expect(t.live()).toEqual(["1.1.ready", "1.2.ready", "2.1.ready", "2.2.starting"]);
  await t.tick(1000); // 2.2 ready
  expect(t.live()).toEqual(["1.1.ready", "1.2.ready", "2.1.ready", "2.2.ready"]);
  await t.tick(1000); // 1.2 proven
  expect(t.live()).toEqual(["1.1.stopping", "1.2.ready", "2.1.ready", "2.2.ready"]);
  await t.tick(1000); // 2.2 proven: done
  expect(t.live()).toEqual(["1.1.stopping", "1.2.ready", "2.1.stopping", "2.2.ready"]);
  expect(results[0]!.ok).toBe(true);
});

test("rolling with a grace: a new worker that dies in its grace stops the roll; its old worker still serves", async () => {
  const t = setup({ processes: 2, "reload-grace": 2 });
  await t.tick(1000);
  const results = await t.reload(true);
  await t.tick(1000);
  await t.exit(t.pidOf(1, 2), 1);
  await t.drain();
  expect(results[0]!.ok).toBe(false);
  expect(t.live()).toEqual(["1.1.ready", "2.1.ready"]);
});

describe("steering new connections (sockets.ts)", () => {
  test("to the new generation once it has as many ready workers as the old one, back to the old one on a rollback in the grace", async () => {
    const t = setup({ processes: 2, ready: "notify", "reload-grace": 2 });
    await t.settle();
    for (const w of t.arb.workers.list) await t.ready(w.pid);
    const results = await t.reload();
    await t.ready(t.pidOf(1, 2));
    expect(t.steered).toEqual([]); // one new worker would get every new connection while its sibling boots
    await t.ready(t.pidOf(2, 2));
    expect(t.steered).toEqual([-2]); // once its sockets are accepted from
    await t.exit(t.pidOf(1, 2), 1); // dies in the grace: the old generation is still there
    expect(results[0]!.ok).toBe(false);
    expect(t.steered).toEqual([-2, 1]);
    expect(t.live()).toEqual(["1.1.ready", "2.1.ready", "2.2.stopping"]);
  });

  test("to the first ready new worker when the old generation has none ready", async () => {
    const t = setup({ processes: 2, ready: "notify" });
    await t.settle();
    await t.reload();
    await t.ready(t.pidOf(2, 2));
    expect(t.steered).toEqual([-2]);
  });

  test("at the commit, to the new generation at once, accepted from or not", async () => {
    const t = setup({ processes: 1, ready: "notify", "reload-grace": 2 });
    await t.settle();
    await t.ready(t.pidOf(1, 1));
    await t.reload();
    await t.ready(t.pidOf(1, 2));
    expect(t.steered).toEqual([-2]);
    await t.tick(2000);
    expect(t.arb.generation).toBe(2);
    expect(t.steered).toEqual([-2, 2]);
  });

  test("the old generation's sockets are released once its workers have exited, not at the commit", async () => {
    const t = setup({ processes: 2 });
    await t.tick(1000);
    await t.reload();
    await t.tick(1000);
    expect(t.arb.generation).toBe(2);
    expect(t.steered).toEqual([2]);
    expect(t.released).toEqual([]);
    await t.exit(t.pidOf(1, 1));
    expect(t.released).toEqual([]);
    await t.drain();
    expect(t.released).toEqual([1]);
  });

  test("reload --wait: answered at the commit when the new generation has sockets of its own", async () => {
    const t = setup({ processes: 1 }, undefined, { ownsSockets: () => true });
    await t.tick(1000);
    const results = await t.reload();
    await t.tick(1000);
    expect(results.map((r) => r.ok)).toEqual([true]);
  });

  test("reload --wait: with a shared socket, answered only once the old workers that could still accept have exited", async () => {
    const t = setup({ processes: 2 }, undefined, { ownsSockets: () => false });
    await t.tick(1000);
    const results = await t.reload();
    await t.tick(1000);
    expect(t.lines.join("\n")).toContain("reload gen 2 done");
    expect(results).toEqual([]);
    await t.exit(t.pidOf(1, 1));
    expect(results).toEqual([]);
    await t.exit(t.pidOf(2, 1));
    expect(results.map((r) => r.ok)).toEqual([true]);
  });

  test("a reload's new workers boot nicer (--boot-nice) until ready; first and respawned workers never", async () => {
    const calls: string[] = [];
    const t = setup({ processes: 1, ready: "notify", "boot-nice": 19 }, undefined, {
      bootPriority: { lower: (pid, nice) => void calls.push(`lower ${pid} ${nice}`), restore: (pid) => void calls.push(`restore ${pid}`) },
    });
    await t.settle();
    await t.ready(t.pidOf(1, 1));
    await t.reload();
    const fresh = t.pidOf(1, 2);
    expect(calls).toEqual([`lower ${fresh} 19`]);
    await t.ready(fresh);
    expect(calls).toEqual([`lower ${fresh} 19`, `restore ${fresh}`]);
    await t.exit(fresh, 1); // a crash after the commit: its respawn serves at once
    await t.tick(1000);
    expect(t.spawned.filter((s) => s.gen === 2)).toHaveLength(2);
    expect(calls).toHaveLength(2);
  });

  test("--boot-nice: a new worker not ready at half its ready timeout gets the usual priority back, so it is not starved into a rollback", async () => {
    const calls: string[] = [];
    const t = setup({ processes: 1, ready: "notify", "boot-nice": 10, "ready-timeout": 8 }, undefined, {
      bootPriority: { lower: (pid) => void calls.push(`lower ${pid}`), restore: (pid) => void calls.push(`restore ${pid}`) },
    });
    await t.settle();
    await t.ready(t.pidOf(1, 1));
    await t.reload();
    const fresh = t.pidOf(1, 2);
    await t.tick(3999);
    expect(calls).toEqual([`lower ${fresh}`]);
    await t.tick(1);
    expect(calls).toEqual([`lower ${fresh}`, `restore ${fresh}`]);
    await t.ready(fresh);
    expect(calls).toHaveLength(2);
  });

  test("a rolling or stop-first reload asks for the current sockets to be shared", async () => {
    const shared: boolean[] = [];
    const t = setup({ processes: 1 }, undefined, { accept: (_c, _g, _p, share) => void shared.push(share!) });
    await t.tick(1000);
    await t.reload(false);
    await t.tick(1000);
    await t.reload(true);
    expect(shared).toEqual([false, true]);
  });
});
