// Answers that are true (issue 18 item 5), on a master built from fakes.
import { expect, test } from "bun:test";
import { prog, setup } from "./fake-world.ts";

test("a worker never ready under notify: status says starting; at the timeout it gets the stop signal, not SIGKILL; timeouts in a row back off", async () => {
  const t = setup([prog("app", { ready: "notify", "ready-timeout": 3, "backoff-max": 10 })]);
  await t.settle();
  expect(t.loop.report().workers.map((w) => w.state)).toEqual(["starting"]);
  await t.tick(3000);
  const w = [...t.loop.programs.values()][0]!.workers.list[0]!;
  expect(w.state).toBe("stopping");
  expect(w.killed).toBe(false); // the stop signal first; SIGKILL only after the mercy
  expect(t.lines.join("\n")).toContain("is the app sending READY=1 to $NOTIFY_SOCKET (sd_notify), or writing READY=1 to fd $SUP_NOTIFY_FD?");
  const respawns: string[] = [];
  for (let i = 0; i < 3; i++) {
    await t.drain();
    respawns.push(t.lines.findLast((l) => l.includes("respawn in"))!.replace(/.*respawn in /, ""));
    await t.tick(20_000); // past any backoff
    await t.tick(3000); // the next one is not ready either
  }
  expect(respawns).toEqual(["0.1s", "0.2s", "0.4s"]);
});

test("after a rolled-back reload, an old worker that crashes respawns into the code that failed it, and status and log say so", async () => {
  const t = setup([prog("app", { processes: 2 })]);
  await t.tick(1000);
  t.loop.queue.push({ type: "reload", reason: "test", rolling: false });
  await t.settle();
  await t.exit("app", 1, 1, 2); // a new worker fails at boot: rolled back
  expect(t.lines.join("\n")).toContain("rolled back");
  await t.drain();
  await t.exit("app", 1, 2, 1); // then an old worker crashes
  await t.tick(200);
  expect(t.lines.join("\n")).toContain("respawned into code that failed the last reload (gen 2 rolled back); if it fails too, the other workers of gen 1 keep serving");
  expect(t.loop.report().workers.find((w) => w.id === 2)!.status).toBe("respawned into code that failed the last reload (gen 2 rolled back)");
});

test("stop-first into broken code: the reload says nothing serves (outage), not 'rolled back', and status shows no ready worker", async () => {
  const t = setup([prog("app", { "reload-strategy": "stop-first" })]);
  await t.tick(1000);
  const results: { ok: boolean; outage?: boolean; message: string }[] = [];
  t.loop.queue.push({ type: "reload", reason: "test", rolling: false, reply: (r) => results.push(r) });
  await t.settle();
  await t.drain(); // the old worker stops first
  await t.exit("app", 1, 1, 2); // the new one fails at boot
  expect(results).toHaveLength(1);
  expect(results[0]).toMatchObject({ ok: false, outage: true });
  expect(results[0]!.message).toContain("stop-first had already stopped the old workers, so it cannot keep the old code: nothing serves now");
  expect(results[0]!.message).not.toContain("rolled back");
  expect(t.loop.report().workers.filter((w) => w.state === "ready")).toEqual([]);
});

test("a reload's answer says how long it took and what it replaced", async () => {
  const t = setup([prog("app", { processes: 2 })]);
  await t.tick(1000);
  const old = t.spawned.map((s) => s.pid);
  const results: string[] = [];
  t.loop.queue.push({ type: "reload", reason: "test", rolling: false, reply: (r) => results.push(r.message) });
  await t.settle();
  await t.tick(1500);
  expect(results).toEqual([`generation 2 serving, reload took 1.50s; replaced 2 workers of gen 1 (pid ${old.join(", ")})`]);
});

test("a step spawns at most 4 workers; the rest follow on the next turns, with other events in between (Bun.spawn blocks ~6 ms each)", async () => {
  const t = setup([prog("app", { processes: 16 })]);
  expect(t.spawned).toHaveLength(4); // the first step, before any other event
  await t.settle();
  expect(t.spawned).toHaveLength(16);
});
