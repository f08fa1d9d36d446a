// A whole master built from fakes: a spawn that makes no process, a clock
// moved by hand, a log kept in memory. The Loop runs as in production.
import type { Config, ProgramConfig } from "../../src/config/schema.ts";
import { defaults } from "../../src/config/schema.ts";
import { Loop } from "../../src/supervisor/loop.ts";
import type { World } from "../../src/supervisor/world.ts";

let nextPid = 7_000_000; // above pid_max: a stray kill() reaches nobody

export const cfg = (over: Partial<Config> = {}): Config => ({ ...defaults(), command: ["app"], ready: "delay:1", "reload-grace": 0, ...over });
export const prog = (name: string, over: Partial<Config> = {}): ProgramConfig => ({ name, config: cfg(over), where: `test:${name}` });

export function setup(programs: ProgramConfig[], world: Partial<World> = {}) {
  let now = 0;
  const spawned: { pid: number; program: string; id: number; gen: number }[] = [];
  const lines: string[] = [];
  let load: () => Promise<{ programs: ProgramConfig[] }> = async () => ({ programs });
  const accepted: string[] = [];
  const loop = new Loop(
    {
      spawn: (spec) => {
        const pid = nextPid++;
        spawned.push({ pid, program: spec.env.PROGRAM!, id: Number(spec.env.SUP_WORKER_ID), gen: Number(spec.env.SUP_GENERATION) });
        return { pid };
      },
      now: () => now,
      log: { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) },
      masterPid: 1,
      loadConfig: () => load(),
      accept: (_c, gen, program) => accepted.push(`${program}:${gen}`),
      prepare: (c, id, generation, _port, program) => ({
        argv: c.command, cwd: "/", fds: [], notifyPipe: false, output: "pipe",
        env: { SUP_WORKER_ID: String(id), SUP_GENERATION: String(generation), PROGRAM: program ?? "" },
      }),
      manualTicks: true,
      ...world,
    },
    programs,
  );
  const done = loop.run();
  const settle = async () => {
    for (let i = 0; i < 30; i++) await Bun.sleep(0);
  };
  const tick = async (ms: number) => {
    now += ms;
    loop.queue.push({ type: "timer" });
    await settle();
  };
  const workers = () => [...loop.programs.values()].flatMap((p) => p.workers.list.map((w) => ({ p: p.name, w })));
  const live = () => workers().map(({ p, w }) => `${p}.${w.id}.${w.generation}.${w.state}`).sort();
  const exit = async (program: string, code = 0, id = 1, gen?: number) => {
    const x = workers().find(({ p, w }) => p === program && w.id === id && w.live && (gen === undefined || w.generation === gen));
    if (!x) throw new Error(`no live worker ${program}.${id}: ${live().join(" ")}`);
    loop.queue.push({ type: "exit", worker: x.w, code, signal: null });
    await settle();
  };
  const drain = async () => {
    for (const { w } of workers().filter(({ w }) => w.state === "stopping")) loop.queue.push({ type: "exit", worker: w, code: 0, signal: null });
    await settle();
  };
  /** Every live worker of a program, as "id.gen.state". */
  const ready = () => workers().filter(({ w }) => w.state === "ready").length;
  const handles = () => workers().map(({ w }) => w);
  return { loop, ready, handles, now: () => now, spawned, lines, live, tick, exit, drain, settle, done, accepted, setLoad: (f: typeof load) => (load = f) };
}

