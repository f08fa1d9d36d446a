// Workers that stay healthy (issue 21), on a master built from fakes: the
// watchdog, liveness probes, lifetimes spread per worker, memory, and every
// replacement spawn-before-kill within --max-surge, never below N ready.
import { expect, test } from "bun:test";
import { prog, setup } from "./fake-world.ts";

const notify = (t: ReturnType<typeof setup>, pid: number, text: string) => t.loop.queue.push({ type: "notify", pid, uid: 0, text });
const pidOf = (t: ReturnType<typeof setup>, id: number) => t.handles().find((w) => w.id === id && w.live)!.pid;

test("watchdog: WATCHDOG=1 in time keeps a worker; silence past the deadline replaces it, new one first, then the old gets SIGABRT before TERM", async () => {
  const t = setup([prog("app", { processes: 2, watchdog: 5, "ready-timeout": 30 })]);
  await t.tick(1000); // ready at 1 s
  for (let i = 0; i < 3; i++) {
    await t.tick(4000);
    for (const w of t.handles()) notify(t, w.pid, "WATCHDOG=1");
    await t.settle();
  }
  expect(t.live()).toEqual(["app.1.1.ready", "app.2.1.ready"]);
  const hung = pidOf(t, 2);
  notify(t, pidOf(t, 1), "WATCHDOG=1"); // worker 1 keeps talking, worker 2 goes silent
  await t.tick(5000);
  expect(t.lines.join("\n")).toMatch(/app worker 2 pid \d+ gen 1 is replaced \(watchdog\): silent for 5\.0s \(no WATCHDOG=1 within 5s\)/);
  expect(t.live()).toEqual(["app.1.1.ready", "app.2.1.ready", "app.2.1.starting"]); // the successor starts; the hung one stays until it is ready
  await t.tick(1000); // successor ready (delay:1), grace 0
  const old = t.handles().find((w) => w.pid === hung)!;
  expect(old.state).toBe("stopping");
  expect(old.termAt).toBeDefined(); // SIGABRT sent, TERM still to come
  expect(t.lines.join("\n")).toContain("stopping (replaced (watchdog)): SIGABRT first, TERM 1s later");
  expect(t.loop.report().workers.filter((w) => w.state === "ready")).toHaveLength(2);
});

test("WATCHDOG=trigger replaces at once; WATCHDOG_USEC changes a worker's own deadline", async () => {
  const t = setup([prog("app", { processes: 2, watchdog: 5 })]);
  await t.tick(1000);
  notify(t, pidOf(t, 1), "WATCHDOG_USEC=20000000");
  notify(t, pidOf(t, 2), "WATCHDOG=trigger");
  await t.settle();
  expect(t.lines.join("\n")).toContain("is replaced (watchdog): it asked to be replaced (WATCHDOG=trigger)");
  await t.tick(6000); // worker 1 has 20 s now
  expect(t.lines.filter((l) => l.includes("worker 1") && l.includes("is replaced"))).toEqual([]);
});

test("WATCHDOG_USEC that is not a number of µs (empty, words, signs, hex) is ignored: it does not turn the watchdog off", async () => {
  const t = setup([prog("app", { processes: 1, watchdog: 5 })]);
  await t.tick(1000);
  for (const v of ["", "abc", "-1", "0x10", " 5", "1e9"]) notify(t, pidOf(t, 1), `WATCHDOG_USEC=${v}`);
  await t.settle();
  await t.tick(5000);
  expect(t.lines.join("\n")).toMatch(/app worker 1 pid \d+ gen 1 is replaced \(watchdog\): silent for 5\.0s/);
});

test("health: K failures in a row replace the worker, not before, and its siblings are left alone", async () => {
  const failing = new Set<number>();
  const t = setup([prog("app", { processes: 3, health: "http:/health", "health-interval": 10, "health-failures": 3 })], {
    probeHealth: async (_spec, target) => (failing.has(target.pid) ? { ok: false, detail: "http://127.0.0.1:1/health answered 500" } : { ok: true, detail: "200" }),
  });
  await t.tick(1000);
  const sick = pidOf(t, 2);
  failing.add(sick);
  await t.tick(10_000);
  await t.tick(10_000);
  expect(t.lines.join("\n")).toContain("health check failed (2 of 3 in a row): http://127.0.0.1:1/health answered 500");
  expect(t.lines.join("\n")).not.toContain("is replaced");
  await t.tick(10_000);
  expect(t.lines.join("\n")).toMatch(/app worker 2 pid \d+ gen 1 is replaced \(health\): 3 health checks failed in a row/);
  await t.tick(1000);
  expect(t.handles().find((w) => w.pid === sick)!.state).toBe("stopping");
  expect(t.spawned.filter((s) => s.id === 1 || s.id === 3)).toHaveLength(2); // siblings never replaced
  expect(t.loop.report().programs[0]).toBeDefined();
});

test("lifetimes spread per worker; with --max-surge 1 one replacement runs at a time and ready workers never drop below N", async () => {
  const t = setup([prog("app", { processes: 4, "max-worker-lifetime": 4, "max-worker-lifetime-delta": 4, "max-surge": 1 })]);
  await t.tick(1000);
  let lowest = 4;
  let most = 0;
  for (let step = 0; step < 200; step++) {
    await t.tick(100);
    lowest = Math.min(lowest, t.ready());
    most = Math.max(most, t.handles().filter((w) => w.state === "starting").length);
    await t.drain();
  }
  const replaced = t.lines.filter((l) => l.includes("is replaced (lifetime)"));
  expect(replaced.length).toBeGreaterThanOrEqual(8);
  expect(lowest).toBe(4);
  expect(most).toBe(1);
  // Due at 4, 5, 6 and 7 s after ready: worker N's lifetime is 4 + 4(N-1)/4 s.
  const first = t.lines.findIndex((l) => l.includes("worker 1 pid") && l.includes("is replaced"));
  const second = t.lines.findIndex((l) => l.includes("worker 2 pid") && l.includes("is replaced"));
  expect(first).toBeLessThan(second);
});

test("reload-on-rss: a worker whose group passes the limit is replaced; check every check-interval", async () => {
  let big = 0;
  const t = setup([prog("app", { processes: 2, "reload-on-rss": 100, "check-interval": 5 })], {
    memory: (pids) => new Map(pids.map((p) => [p, { rss: p === big ? 150 * 1048576 : 50 * 1048576 }])),
  });
  await t.tick(1000);
  big = pidOf(t, 1);
  await t.tick(5000);
  expect(t.lines.join("\n")).toMatch(/app worker 1 pid \d+ gen 1 is replaced \(rss\): its process group uses 150 MB resident, over --reload-on-rss 100 MB/);
  await t.tick(1000);
  expect(t.handles().find((w) => w.pid === big)!.state).toBe("stopping");
  const one = t.loop.report().workers.find((w) => w.id === 1 && w.state === "ready")!;
  expect(one.replaced).toEqual({ rss: 1 });
  expect(one.lastReplaced).toMatchObject({ reason: "rss" });
});

test("a successor that fails leaves the old worker serving, and the next try waits for the crash backoff", async () => {
  const t = setup([prog("app", { processes: 1, "max-worker-lifetime": 5 })]);
  await t.tick(1000);
  const old = pidOf(t, 1);
  await t.tick(5000); // lifetime over: successor starts
  expect(t.live()).toEqual(["app.1.1.ready", "app.1.1.starting"]);
  const succ = t.handles().find((w) => w.pid !== old)!;
  t.loop.queue.push({ type: "exit", worker: succ, code: 1, signal: null });
  await t.settle();
  expect(t.handles().find((w) => w.pid === old)!.state).toBe("ready");
  expect(t.lines.join("\n")).toMatch(/respawn in 0\.1s/);
  await t.tick(100);
  expect(t.live()).toEqual(["app.1.1.ready", "app.1.1.starting"]); // tried again
});

test("a hung worker whose replacement never becomes ready is stopped after the ready timeout, and the log says capacity dropped", async () => {
  const t = setup([prog("app", { processes: 2, watchdog: 2, ready: "notify", "ready-timeout": 10 })]);
  await t.settle();
  for (const w of t.handles()) notify(t, w.pid, "READY=1");
  await t.settle();
  const hung = pidOf(t, 1);
  notify(t, pidOf(t, 2), "WATCHDOG_USEC=100000000");
  await t.tick(2000); // worker 1 silent 2 s: its successor starts and never says READY=1
  await t.tick(10_000);
  expect(t.lines.join("\n")).toMatch(/app worker 1 pid \d+ gen 1 is hung \(silent for 2\.0s.*\) and its replacement (app worker 1 pid \d+ gen 1 is not ready|did not become ready) after 10s: stopping it anyway; until a new worker is ready this program has one worker fewer/);
  expect(t.handles().find((w) => w.pid === hung)!.state).toBe("stopping");
});
