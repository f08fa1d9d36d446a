// Reloads as the Loop runs them (gunicorn's reload, for several programs):
// a request loads the config once, off the loop; then the config's shape is
// applied (programs added start, programs removed stop) and each target
// program reloads in turn, in depends-on order, one after another; the
// replies get one result for all. A request that arrives meanwhile joins
// the one queued behind it, whatever their number.
//
// Targets: "all" (sup reload: every program), "changed" (SIGHUP: programs
// whose config changed, as supervisorctl update does; the config's own
// program, that of a config without [programs] or a uwsgi.ini's app, a HUP
// always reloads, as uWSGI's does) or names (sup reload web, a program's own
// touch or autoreload trigger).
import type { Config, ProgramConfig, Setup } from "../config/schema.ts";
import type { Queue } from "../core/queue.ts";
import type { Event, ReloadResult } from "./events.ts";
import type { Lifecycle } from "./lifecycle.ts";
import type { Program } from "./program.ts";
import { ReloadRun, type ReloadTarget } from "./reload-run.ts";
import type { World } from "./world.ts";

export interface ReloadsHost {
  readonly queue: Queue<Event>;
  readonly world: World;
  readonly lifecycle: Lifecycle;
  readonly programs: ReadonlyMap<string, Program>;
  readonly stopping?: unknown;
  /** The generation a one-program master reports. */
  readonly mainGeneration: number;
  addProgram(pc: ProgramConfig): void;
  removeProgram(p: Program, why: string): void;
}

/** A load's result as programs: a bare Config (what tests and one-command masters load) is one implicit program. */
export function asPrograms(loaded: Config | Setup): ProgramConfig[] {
  return "programs" in loaded && Array.isArray(loaded.programs) ? loaded.programs : [{ name: "", config: loaded as Config, where: "" }];
}

export class Reloads {
  private run?: ReloadRun;
  private pending?: ReloadRun;
  private seq = 0;
  /** Replies of runs done whose programs' old workers could still take new connections (a shared socket): sent once those exited. */
  private held: { programs: string[]; replies: ((r: ReloadResult) => void)[]; result: ReloadResult }[] = [];

  constructor(private readonly host: ReloadsHost) {}

  /** A reload is under way (loading, or a program reloading). */
  get running(): boolean {
    return this.run !== undefined;
  }

  /** The program whose reload runs now. */
  get current(): Program | undefined {
    return this.run?.current as Program | undefined;
  }

  request(reason: string, rolling: boolean, reply?: (r: ReloadResult) => void, targets: ReloadTarget = "all") {
    const h = this.host;
    if (h.stopping) return reply?.({ ok: false, generation: h.mainGeneration, message: "the master is stopping" });
    if (Array.isArray(targets)) {
      const unknown = targets.filter((t) => !h.programs.has(t));
      if (unknown.length) return reply?.({ ok: false, generation: h.mainGeneration, message: `no program ${unknown.join(", ")} (programs: ${[...h.programs.keys()].join(", ")})` });
    }
    if (this.run) {
      (this.pending ??= new ReloadRun(0, reason, rolling, targets, h.world.now())).join(rolling, targets, reply);
      h.world.log.info(`reload requested (${reason}); queued after the running one`, { event: "reload.queued", reason });
      return;
    }
    h.world.log.info(`reload requested (${reason})`, { event: "reload.request", reason, rolling });
    const run = (this.run = new ReloadRun(++this.seq, reason, rolling, targets, h.world.now()));
    if (reply) run.replies.push(reply);
    h.lifecycle.reloadStarted(reason);
    // Loading reads files and parses them: off the loop; the result comes back as an event.
    h.world.loadConfig().then(
      (config) => h.queue.push({ type: "config", seq: run.seq, config }),
      (e) => h.queue.push({ type: "config", seq: run.seq, error: (e as Error).message }),
    );
  }

  /** The load came back: apply its shape, then reload the targets in turn. */
  loaded(seq: number, loaded?: Config | Setup, error?: string) {
    const run = this.run;
    if (!run || run.seq !== seq || run.loaded) return; // cancelled by a stop
    const h = this.host;
    if (error || !loaded) {
      // One report, by the first target: the config is the master's, not a program's.
      const first = run.mode === "named" ? [...run.names][0] : [...h.programs.keys()][0];
      run.loaded = { error: error ?? "no config" };
      run.queue = first ? [first] : [];
      return this.next(run);
    }
    const next = asPrograms(loaded);
    const byName = new Map(next.map((pc) => [this.nameOf(pc), pc]));
    run.loaded = { configs: new Map([...byName].map(([n, pc]) => [n, pc.config])) };
    let targets = [...run.names];
    if (run.mode !== "named") {
      // The config's shape: programs it no longer has stop, new ones start.
      for (const p of [...h.programs.values()]) if (!byName.has(p.name)) h.removeProgram(p, "removed from the config");
      const before = new Set(h.programs.keys());
      for (const [name, pc] of byName) if (!before.has(name)) h.addProgram({ ...pc, name });
      const changed = (n: string) => h.programs.get(n)!.implicit || JSON.stringify(h.programs.get(n)!.config) !== JSON.stringify(byName.get(n)!.config);
      targets = [...before].filter((n) => byName.has(n) && (run.mode === "all" || changed(n) || run.names.has(n)));
    }
    run.queue = dependencyOrder(targets, h.programs);
    if (run.queue.length === 0) h.world.log.info(`reload (${run.reason}): no program changed`, { event: "reload.none" });
    this.next(run);
  }

  /** The implicit program of a new config is the implicit one running now. */
  private nameOf(pc: ProgramConfig): string {
    if (pc.name !== "") return pc.name;
    return [...this.host.programs.values()].find((p) => p.implicit)?.name ?? "";
  }

  /** Starts the run's next program reload; ends the run when none is left. */
  private next(run: ReloadRun) {
    while (this.run === run) {
      const name = run.queue.shift();
      if (name === undefined) return this.end(run);
      const p = this.host.programs.get(name);
      if (!p) continue;
      run.current = p;
      run.beginning = true;
      const l = run.loaded!;
      const config = l.configs?.get(name);
      p.beginReload(run.seq, run.reason, run.rolling, run.startedAt, config, l.error ?? (config ? undefined : `program ${name} is not in the config any more`));
      run.beginning = false;
      if (p.reloading) return; // it runs; ended() comes back here
    }
  }

  /** A program's reload ended (done, rolled back, or refused). */
  ended(p: Program, result: ReloadResult) {
    const run = this.run;
    if (!run || run.current !== p) return;
    run.results.set(p.name, result);
    run.current = undefined;
    // From inside beginReload (a refused config), next() goes on by itself.
    if (!run.beginning) this.next(run);
  }

  private end(run: ReloadRun) {
    const h = this.host;
    this.run = undefined;
    const result = run.result(h.mainGeneration);
    h.lifecycle.reloadEnded(result.ok ? `gen ${result.generation}` : "reload rolled back");
    // `reload --wait` returns once no old worker can be handed a new connection.
    const programs = [...run.results.keys()];
    if (result.ok && programs.some((n) => h.programs.get(n)?.sharesWithOlder)) this.held.push({ programs, replies: run.replies, result });
    else for (const reply of run.replies) reply(result);
    const p = this.pending;
    this.pending = undefined;
    if (!p) return;
    this.request(p.reason, p.rolling, undefined, p.targets);
    (this.run as ReloadRun | undefined)?.replies.push(...p.replies); // narrowed to undefined above; request() set it
  }

  /** Sends the held replies whose programs' old workers have exited (or stopped, with the master). */
  sendHeld() {
    const h = this.host;
    const waiting = (x: { programs: string[] }) => !h.stopping && x.programs.some((n) => h.programs.get(n)?.sharesWithOlder);
    for (const x of this.held.filter((x) => !waiting(x))) for (const reply of x.replies) reply(x.result);
    this.held = this.held.filter(waiting);
  }

  /** The master stops: every waiting reply hears so. */
  cancel(result: ReloadResult) {
    for (const reply of [...(this.run?.replies ?? []), ...(this.pending?.replies ?? [])]) reply(result);
    this.run = this.pending = undefined;
  }
}

/** Names in an order where each comes after what it depends on (among the names). */
function dependencyOrder(names: string[], programs: ReadonlyMap<string, Program>): string[] {
  const out: string[] = [];
  const want = new Set(names);
  const visit = (n: string, seen: Set<string>) => {
    if (out.includes(n) || seen.has(n)) return;
    seen.add(n);
    for (const d of Object.keys(programs.get(n)?.config["depends-on"] ?? {})) if (want.has(d)) visit(d, seen);
    out.push(n);
  };
  for (const n of names) visit(n, new Set());
  return out;
}
