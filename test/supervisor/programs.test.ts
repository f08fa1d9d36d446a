// Several programs in one master (issue 20), with an injected spawn and
// clock: start order on depends-on, one-shot tasks, on-exit, one reload per
// program, the config's shape applied on HUP, and stop/start/restart of one
// program. No processes, no sleeping.
import { expect, test } from "bun:test";
import { prog, setup } from "./fake-world.ts";

const migrate = prog("migrate", { restart: "never" });
const web = prog("web", { processes: 2, "depends-on": { migrate: "completed" } });
const worker = prog("worker", { "depends-on": { web: "ready" } });

test("start order: a one-shot migration completes, then web starts, then the worker once web is ready", async () => {
  const t = setup([migrate, web, worker]);
  await t.settle();
  expect(t.live()).toEqual(["migrate.1.1.starting"]);
  expect(t.lines.join("\n")).toContain("program web waits for migrate to be completed");
  await t.exit("migrate", 0);
  expect(t.live()).toEqual(["web.1.1.starting", "web.2.1.starting"]);
  expect(t.lines.join("\n")).toContain("worker 1 pid");
  expect(t.lines.join("\n")).toMatch(/exited code 0 after [\d.]+s: done \(restart = never\)/);
  await t.tick(1000);
  expect(t.live()).toEqual(["web.1.1.ready", "web.2.1.ready", "worker.1.1.starting"]);
  expect(t.loop.report().programs.map((p) => `${p.name}:${p.state}`)).toEqual(["migrate:completed", "web:ready", "worker:starting"]);
});

test("a dependency that fails blocks what needs it; when nothing can run any more the master exits 1", async () => {
  const t = setup([migrate, web, worker]);
  await t.settle();
  await t.exit("migrate", 2);
  expect(t.lines.join("\n")).toContain("program web will not start: migrate failed (code 2)");
  expect(t.lines.join("\n")).toContain("program worker will not start: web will not start");
  expect(await t.done).toBe(1);
  expect(t.spawned.map((s) => s.program)).toEqual(["migrate"]);
});

test("restart on-failure: exit 0 is done, a crash is retried; every program done stops the master with 0", async () => {
  const t = setup([prog("task", { restart: "on-failure", "backoff-max": 0.1 })]);
  await t.settle();
  await t.exit("task", 1);
  await t.tick(100);
  expect(t.live()).toEqual(["task.1.1.starting"]);
  await t.exit("task", 0);
  expect(await t.done).toBe(0);
  expect(t.lines.join("\n")).toContain("every program has completed");
});

test("on-exit = stop-all: a worker that exits stops every program, and the master exits with its code", async () => {
  const t = setup([prog("web"), prog("sidecar", { "on-exit": "stop-all" })]);
  await t.tick(1000);
  await t.exit("sidecar", 3);
  expect(t.live()).toEqual(["web.1.1.stopping"]);
  await t.drain();
  expect(await t.done).toBe(3);
});

test("sup reload web: only web gets a new generation; the worker's pids are left alone", async () => {
  const t = setup([prog("web", { processes: 2 }), prog("worker")]);
  await t.tick(1000);
  const before = t.spawned.filter((s) => s.program === "worker").map((s) => s.pid);
  const results: boolean[] = [];
  t.loop.queue.push({ type: "reload", reason: "test", rolling: false, targets: ["web"], reply: (r) => results.push(r.ok) });
  await t.settle();
  await t.tick(1000);
  await t.drain();
  expect(results).toEqual([true]);
  expect(t.live()).toEqual(["web.1.2.ready", "web.2.2.ready", "worker.1.1.ready"]);
  expect(t.spawned.filter((s) => s.program === "worker").map((s) => s.pid)).toEqual(before);
  const bad: string[] = [];
  t.loop.queue.push({ type: "reload", reason: "test", rolling: false, targets: ["nope"], reply: (r) => bad.push(r.message) });
  await t.settle();
  expect(bad[0]).toContain("no program \"nope\" (programs: web, worker)");
});

test("sup reload (all): one program after another, in depends-on order", async () => {
  const t = setup([prog("worker", { "depends-on": { web: "ready" } }), prog("web")]);
  await t.tick(1000); // web ready
  await t.tick(1000); // worker ready
  t.loop.queue.push({ type: "reload", reason: "test", rolling: false, targets: "all" });
  await t.settle();
  expect(t.live()).toEqual(["web.1.1.ready", "web.1.2.starting", "worker.1.1.ready"]);
  await t.tick(1000);
  await t.drain();
  expect(t.live()).toEqual(["web.1.2.ready", "worker.1.1.ready", "worker.1.2.starting"]);
  await t.tick(1000);
  await t.drain();
  expect(t.live()).toEqual(["web.1.2.ready", "worker.1.2.ready"]);
});

test("HUP applies the config: a removed program stops, an added one starts, a changed one reloads, an unchanged one is left alone", async () => {
  const t = setup([prog("web"), prog("worker"), prog("cron")]);
  await t.tick(1000);
  t.setLoad(async () => ({ programs: [prog("web"), prog("worker", { processes: 2 }), prog("mailer")] }));
  t.loop.queue.push({ type: "signal", sig: "SIGHUP" });
  await t.settle();
  expect(t.live()).toEqual(["cron.1.1.stopping", "mailer.1.1.starting", "web.1.1.ready", "worker.1.1.ready", "worker.1.2.starting", "worker.2.2.starting"]);
  expect(t.accepted).toEqual(["mailer:1", "worker:2"]);
  await t.tick(1000);
  await t.drain();
  expect(t.live()).toEqual(["mailer.1.1.ready", "web.1.1.ready", "worker.1.2.ready", "worker.2.2.ready"]);
  expect([...t.loop.programs.keys()]).toEqual(["web", "worker", "mailer"]);
});

test("sup stop / start / restart one program", async () => {
  const t = setup([prog("web"), prog("worker")]);
  await t.tick(1000);
  const answers: string[] = [];
  const op = async (o: "stop" | "start" | "restart", name: string) => {
    t.loop.queue.push({ type: "program", op: o, name, reply: (r) => answers.push(r.message) });
    await t.settle();
  };
  await op("stop", "worker");
  await t.drain();
  expect(t.live()).toEqual(["web.1.1.ready"]);
  expect(t.loop.report().programs.find((p) => p.name === "worker")!.state).toBe("stopped");
  await op("start", "worker");
  expect(t.live()).toEqual(["web.1.1.ready", "worker.1.1.starting"]);
  await t.tick(1000);
  await op("restart", "web");
  expect(t.live()).toEqual(["web.1.1.stopping", "worker.1.1.ready"]);
  await t.drain();
  expect(t.live()).toEqual(["web.1.1.starting", "worker.1.1.ready"]);
  await op("stop", "nope");
  expect(answers.at(-1)).toContain('no program "nope"');
});

test("a stopped program (autostart = false, or sup stop NAME) takes a reload's new config for its next start and the reload is done at once; sup reload of every program does not wait for it", async () => {
  const t = setup([prog("web"), prog("import", { autostart: false, restart: "never" })]);
  await t.tick(1000);
  expect(t.live()).toEqual(["web.1.1.ready"]);
  expect(t.loop.report().programs.map((p) => `${p.name}:${p.state}`)).toEqual(["web:ready", "import:stopped"]);
  const results: { ok: boolean; message: string }[] = [];
  t.loop.queue.push({ type: "reload", reason: "test", rolling: false, targets: "all", reply: (r) => results.push(r) });
  await t.settle();
  await t.tick(1000);
  await t.drain();
  await t.settle();
  expect(results.map((r) => r.ok)).toEqual([true]);
  expect(t.lines.join("\n")).toContain("reload gen 2: program import is stopped: sup start import runs generation 2 (test)");
  expect(t.live()).toEqual(["web.1.2.ready"]);
  t.loop.queue.push({ type: "program", op: "start", name: "import", reply: () => {} });
  await t.settle();
  expect(t.live()).toEqual(["import.1.2.starting", "web.1.2.ready"]);
});

test("a control NAME that is a group (group = web) acts on its programs; GROUP:NAME on one; a program's own name wins over a group of that name", async () => {
  const t = setup([prog("app", { group: "web" }), prog("assets", { group: "web" }), prog("web"), prog("queue", { group: "jobs" })]);
  await t.tick(1000);
  const said: string[] = [];
  const ask = async (op: "stop" | "start" | "restart", name: string) => {
    t.loop.queue.push({ type: "program", op, name, reply: (r) => said.push(`${r.ok} ${r.message}`) });
    await t.settle();
  };
  await ask("stop", "web"); // the program named web, not the group
  await ask("stop", "jobs:*");
  await ask("stop", "web:assets");
  await ask("stop", "jobs:app");
  expect(said).toEqual([
    "true program web: stop requested",
    "true program queue: stop requested",
    "true program assets: stop requested",
    'false no program "jobs:app" (programs: app, assets, web, queue; groups: web, jobs)',
  ]);
  await t.drain();
  expect(t.loop.report().programs.map((p) => `${p.name}:${p.state}`)).toEqual(["app:ready", "assets:stopped", "web:stopped", "queue:stopped"]);
});
