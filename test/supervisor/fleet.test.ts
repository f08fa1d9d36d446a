// What the stats server is answered from (issue 22), with the master built
// from fakes: the counters of reloads by trigger and result, crashes and
// crash loops; the /readyz verdict with several programs; TERM with
// --shutdown-delay draining before the stop.
import { expect, test } from "bun:test";
import type { StatsAnswer } from "../../src/supervisor/metrics.ts";
import { triggerOf } from "../../src/supervisor/metrics.ts";
import { prog, setup } from "./fake-world.ts";

async function ask(t: ReturnType<typeof setup>, full = true): Promise<StatsAnswer> {
  let got: StatsAnswer | undefined;
  t.loop.queue.push({ type: "stats", full, reply: (a) => (got = a) });
  await t.settle();
  return got!;
}

const reload = async (t: ReturnType<typeof setup>, reason: string) => {
  t.loop.queue.push({ type: "reload", reason, rolling: false, targets: "all" });
  await t.settle();
};

test("reloads are counted by program, trigger and result, with their durations", async () => {
  const t = setup([prog("web", { processes: 2 })]);
  await t.tick(1000);
  await reload(t, "signal HUP");
  await t.tick(1500); // the new workers are ready: done, 1.5 s after the request
  await t.drain();
  await reload(t, "control: sup reload");
  await t.exit("web", 1, 1, 3); // a new worker dies at boot: rolled back
  await t.drain();
  const m = (await ask(t)).metrics!;
  expect([...m.reloads].sort()).toEqual([["web\0control\0rolled_back", 1], ["web\0signal\0done", 1]]);
  const h = m.reloadSeconds.get("web")!;
  expect(h.count).toBe(2);
  expect(h.sum).toBeCloseTo(1.5, 3);
  expect(h.counts[0]).toBe(1); // ≤ 0.5 s: the rollback, at once
  expect(h.counts[2]).toBe(2); // ≤ 2.5 s: both
});

test("a worker that keeps crashing counts each crash and one crash loop", async () => {
  const t = setup([prog("web")]);
  for (let i = 0; i < 6; i++) {
    await t.tick(20_000); // past any backoff
    await t.exit("web", 1);
  }
  const m = (await ask(t)).metrics!;
  expect(m.crashes.get("web\0" + "1")).toBe(6);
  expect(m.crashLoops.get("web\0" + "1")).toBe(1);
});

test("triggers are told from the reload's reason", () => {
  expect(["signal HUP", "control: sup reload web", "touch: app.ini", "autoreload: a.py and 3 more", "test"].map(triggerOf)).toEqual(["signal", "control", "touch", "autoreload", "other"]);
});

test("ready means every long-running program has a ready worker of its generation; a stopped one and one-shots do not count", async () => {
  const t = setup([prog("migrate", { restart: "never" }), prog("web"), prog("queue")]);
  await t.settle();
  let a = await ask(t, false);
  expect(a.serving.ready).toBe(false);
  expect(a.serving.why).toContain("program web has no ready worker of generation 1");
  await t.tick(1000);
  await t.exit("migrate", 0);
  expect((await ask(t, false)).serving).toEqual({ ready: true, why: "web: 1 ready, queue: 1 ready" });
  await t.exit("queue", 1); // a crash: queue has no ready worker until its respawn is ready
  expect((await ask(t, false)).serving.why).toContain("program queue has no ready worker");
  t.loop.queue.push({ type: "program", op: "stop", name: "queue" });
  await t.settle();
  a = await ask(t, false);
  expect(a.serving).toEqual({ ready: true, why: "web: 1 ready" });
});

test("TERM with --shutdown-delay drains: not ready, workers serve on, then the graceful stop; a second TERM stops at once", async () => {
  const t = setup([prog("web", { processes: 2, "shutdown-delay": 5 })]);
  await t.tick(1000);
  t.loop.queue.push({ type: "signal", sig: "SIGTERM" });
  await t.settle();
  let a = await ask(t);
  expect(a.serving).toEqual({ ready: false, why: "draining before the stop (--shutdown-delay)" });
  expect(a.draining).toBe(true);
  expect(t.live()).toEqual(["web.1.1.ready", "web.2.1.ready"]);
  // A reload during the drain is refused: the master is about to stop.
  const results: { ok: boolean; message: string }[] = [];
  t.loop.queue.push({ type: "reload", reason: "signal HUP", rolling: false, reply: (r) => results.push(r) });
  await t.settle();
  expect(results[0]).toMatchObject({ ok: false, message: expect.stringContaining("draining") });
  await t.tick(4999);
  expect(t.live()).toEqual(["web.1.1.ready", "web.2.1.ready"]);
  await t.tick(1);
  expect(t.live()).toEqual(["web.1.1.stopping", "web.2.1.stopping"]);
  expect(t.lines.join("\n")).toContain("graceful stop requested (signal TERM, after --shutdown-delay)");

  const u = setup([prog("web", { "shutdown-delay": 30 })]);
  await u.tick(1000);
  u.loop.queue.push({ type: "signal", sig: "SIGTERM" });
  await u.settle();
  u.loop.queue.push({ type: "signal", sig: "SIGTERM" });
  await u.settle();
  expect(u.live()).toEqual(["web.1.1.stopping"]);
});

test("INT during the drain skips the delay; without --shutdown-delay TERM stops at once", async () => {
  const t = setup([prog("web", { "shutdown-delay": 30 })]);
  await t.tick(1000);
  t.loop.queue.push({ type: "signal", sig: "SIGTERM" });
  await t.settle();
  t.loop.queue.push({ type: "signal", sig: "SIGINT" });
  await t.settle();
  expect(t.live()).toEqual(["web.1.1.stopping"]);
  expect(t.lines.join("\n")).toContain("graceful stop requested (signal INT)");

  const u = setup([prog("web")]);
  await u.tick(1000);
  u.loop.queue.push({ type: "signal", sig: "SIGTERM" });
  await u.settle();
  expect(u.live()).toEqual(["web.1.1.stopping"]);
});

test("a replacement is counted by program and reason (WATCHDOG=trigger: watchdog)", async () => {
  const t = setup([prog("web", { processes: 2, watchdog: 30 })]);
  await t.tick(1000);
  const w = t.loop.programs.get("web")!.workers.list.find((x) => x.id === 1)!;
  t.loop.queue.push({ type: "notify", text: "WATCHDOG=trigger", worker: w });
  await t.settle();
  expect([...(await ask(t)).metrics!.replacements]).toEqual([["web\0watchdog", 1]]);
});
