// The supervisor's side of cgroup mode, with a fake World: an exited
// worker's cgroup is a leftover (TERM to what is in it, cgroup.kill after
// the mercy, removed once empty).
import { expect, test } from "bun:test";
import { defaults, type Config } from "../../src/config/schema.ts";
import { Arbiter } from "../../src/supervisor/arbiter.ts";

test("cgroup mode: what a worker left in its cgroup gets TERM, cgroup.kill after the mercy; then the cgroup is removed and the guard stops watching the group", async () => {
  const cfg: Config = { ...defaults(), command: ["app"], ready: "delay:1", "worker-reload-mercy": 2 };
  let now = 0;
  const lines: string[] = [];
  const guard: string[] = [];
  const calls: string[] = [];
  const cgroups = new Map<string, boolean>(); // dir → populated
  let seq = 0;
  const arb = new Arbiter(cfg, {
    spawn: () => ({ pid: 5_000_000 + seq }), // above pid_max: a stray kill() reaches nobody
    now: () => now,
    log: { info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) },
    masterPid: 1,
    loadConfig: async () => cfg,
    prepare: (c, id, generation) => {
      const cgroup = `/cg/worker-${id}-${generation}-${++seq}`;
      cgroups.set(cgroup, true);
      return { argv: c.command, cwd: "/", fds: [], notifyPipe: false, output: "pipe", env: {}, cgroup };
    },
    guard: { pid: 4, kind: "native", watch: (k, w) => guard.push(`+${k} ${w}`), unwatch: (k, w) => guard.push(`-${k} ${w}`) },
    cgroups: {
      signal: (dir, sig) => (calls.push(`${sig} ${dir}`), cgroups.get(dir) ?? false),
      members: () => [{ pid: 7_000_001, pgid: 7_000_001, comm: "daemon" }],
      remove: (dir) => (calls.push(`rmdir ${dir}`), cgroups.delete(dir)),
    },
    killMode: () => "cgroup /cg",
    manualTicks: true,
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
  await settle();
  const w = arb.workers.list[0]!;
  expect(w.cgroup).toBe("/cg/worker-1-1-1");
  expect(guard).toEqual([`+g ${w.pid}`]);
  expect(arb.report().master).toMatchObject({ killMode: "cgroup /cg", guard: { pid: 4, kind: "native" } });

  arb.queue.push({ type: "signal", sig: "SIGTERM" });
  await settle();
  arb.queue.push({ type: "exit", worker: w, code: 0, signal: null });
  await settle();
  expect(lines).toContain("worker 1 left 1 process outside its group: pid 7000001 daemon; stopping it with its cgroup");
  expect(calls).toEqual(["SIGTERM /cg/worker-1-1-1"]);
  await tick(1000);
  expect(calls).toEqual(["SIGTERM /cg/worker-1-1-1", "0 /cg/worker-1-1-1"]);
  await tick(1000); // the mercy (2 s from the stop) is over
  expect(calls).toContain("SIGKILL /cg/worker-1-1-1");
  expect(lines).toContain("cgroup /cg/worker-1-1-1 of worker 1 outlived its worker; sent SIGKILL");
  cgroups.set("/cg/worker-1-1-1", false); // cgroup.kill has done its work
  await tick(1000);
  expect(calls.at(-1)).toBe("rmdir /cg/worker-1-1-1");
  // The guard forgets the group with the cgroup: a pid it kept watching
  // would fill its table over months and, once reused, name another
  // process's group.
  expect(guard).toEqual([`+g ${w.pid}`, `-g ${w.pid}`]);
  expect(await done).toBe(0);
});
