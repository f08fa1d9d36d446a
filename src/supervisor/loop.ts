// The master loop (gunicorn's arbiter, thin): it takes events one at a time
// and is the only code that changes the master's state. Signal handlers, the
// deadline timer, worker exits, notify datagrams, probe results, config
// loads, the control socket and file triggers only push events. Each event
// goes to the Program it concerns (or to the Loop's own verbs: signals,
// reloads, stop, status); then every Program converges to its desired
// state, and one timer is armed for the earliest deadline any Program has
// (Puma's @next_check): an idle master with nothing due has no timer at all.
//
// A bug in sup's own code, thrown anywhere on the loop, is logged once with
// its stack and stops the workers gracefully; the master then exits 70
// (EX_SOFTWARE). It never leaves workers without a master.
import type { Config, ProgramConfig, Setup } from "../config/schema.ts";
import { combineStatus, statusTable, type StatusReport } from "../control/status.ts";
import { Queue } from "../core/queue.ts";
import type { WorkerHandle } from "../processes/handle.ts";
import type { Event, ReloadResult } from "./events.ts";
import { Lifecycle } from "./lifecycle.ts";
import { Program, type ProgramHost } from "./program.ts";
import type { ReloadTarget } from "./reload-run.ts";
import { Reloads, asPrograms } from "./reloads.ts";
import { gate } from "./depends.ts";
import { SIGNAL_TABLE, type SignalAction } from "./signals.ts";
import { Metrics, type StatsAnswer } from "./metrics.ts";
import { readiness } from "./serving.ts";
import type { Logger, World } from "./world.ts";
import { timerDelay } from "../core/timer.ts";

/** EX_SOFTWARE (sysexits.h): the master stopped because of a bug in sup. */
export const EXIT_BUG = 70;

export class Loop implements ProgramHost {
  readonly queue = new Queue<Event>();
  readonly programs = new Map<string, Program>();
  stopping?: { now: boolean; reason: string };
  /** TERM with --shutdown-delay: /readyz says 503 and the workers serve on until `until` (ms), then the graceful stop. */
  draining?: { until: number; reason: string };
  /** ProgramHost: counters for /metrics. */
  readonly metrics = new Metrics();
  exitCode = 0;
  readonly startedAt: number;
  readonly lifecycle: Lifecycle;
  /** ProgramHost: the config declares programs (or has several): log lines and output name them. */
  several = false;
  readonly reloads: Reloads = new Reloads(this);
  /** Programs removed from the config, dropped once their workers are gone. */
  private readonly removed = new Set<Program>();
  /** Set once the first programs exist: a program added later is checked and bound by the World first. */
  private booted = false;
  private faults = 0;
  private timer?: ReturnType<typeof setTimeout>;
  private timerAt = Infinity;

  constructor(
    readonly world: World,
    setup: Config[] | ProgramConfig[] | Setup,
  ) {
    this.startedAt = world.now();
    this.lifecycle = new Lifecycle(world.lifecycle);
    const isProgram = (x: Config | ProgramConfig): x is ProgramConfig => "config" in x && "name" in x;
    const pcs = Array.isArray(setup) ? setup.map((x: Config | ProgramConfig) => (isProgram(x) ? x : asPrograms(x)[0]!)) : setup.programs;
    this.several = pcs.length > 1 || pcs.some((pc) => pc.name !== "");
    for (const pc of pcs) this.addProgram(pc);
    this.booted = true;
  }

  get log(): Logger {
    return this.world.log;
  }

  /** Runs until every worker is gone after a stop. Returns the exit code. */
  async run(): Promise<number> {
    const all = [...this.programs.values()];
    const n = all.reduce((sum, p) => sum + p.slots.size, 0);
    const what = this.several ? `programs ${all.map((p) => `${p.name} (${p.slots.size})`).join(", ")}` : `${n} worker${n === 1 ? "" : "s"} of: ${all[0]?.config.command.join(" ") ?? "nothing"}`;
    this.log.info(`master started pid ${this.world.masterPid}, ${what}`, { event: "master.start" });
    this.step(() => {});
    while (!this.finished()) {
      this.arm();
      let ev = await this.queue.take();
      // A STATUS= datagram changes nothing to converge on or time: a chatty
      // app (libsystemd's STATUS=, WATCHDOG=1) costs a parse, not a manage().
      // One that made a worker ready is handled here; converge on it.
      while (ev.type === "notify" && !this.notified(ev)) ev = await this.queue.take();
      // A scrape or probe (stats) only reads: no convergence after it (a scraper every 100 ms costs its answer only).
      if (ev.type === "stats") this.answer(ev);
      else if (ev.type === "notify") this.step(() => {});
      else {
        const e = ev;
        this.step(() => this.handle(e));
      }
    }
    clearTimeout(this.timer);
    this.log.info(`master stopped (${this.stopping?.reason})${this.exitCode ? `, exit ${this.exitCode}` : ""}`, { event: "master.stop", code: this.exitCode });
    return this.exitCode;
  }

  /** One event's work and the convergence after it; a throw is a bug in sup. */
  private step(work: () => void) {
    try {
      work();
      this.converge();
    } catch (e) {
      this.fault(e);
    }
  }

  /**
   * A bug in sup's own code (here, or in a callback that reported it with a
   * "fault" event): log it once with its stack, stop the workers gracefully
   * within the mercy, exit 70. A second fault while stopping stops them at
   * once; a third leaves it to the guard (the caller sees the throw).
   */
  fault(e: unknown) {
    this.faults++;
    if (this.faults === 1) {
      const stack = e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e);
      this.log.error(`internal error: this is a bug in sup, please report it; stopping the workers (exit ${EXIT_BUG})\n  ${stack.split("\n").join("\n  ")}`, { event: "master.bug" });
    }
    this.exitCode = EXIT_BUG;
    if (this.faults > 2) throw e;
    try {
      this.stop("internal error", this.faults > 1);
    } catch (again) {
      this.fault(again);
    }
  }

  private handle(ev: Exclude<Event, { type: "notify" | "stats" }>): void {
    switch (ev.type) {
      case "signal":
        return this[SIGNAL_TABLE[ev.sig] satisfies SignalAction](`signal ${ev.sig.slice(3)}`);
      case "timer":
        for (const p of this.programs.values()) p.onTimer();
        if (this.draining && this.world.now() >= this.draining.until) this.stop(`${this.draining.reason}, after --shutdown-delay`, false);
        return;
      case "exit":
        return this.programOf(ev.worker)?.reap(ev.worker, ev.code, ev.signal, this.stopping?.now ?? false);
      case "probe":
        return this.programOf(ev.worker)?.workers.probed(ev.worker, ev.ok);
      case "health":
        return this.programOf(ev.worker)?.upkeep.probed(ev.worker, ev.ok, ev.detail);
      case "config":
        return this.reloads.loaded(ev.seq, ev.config, ev.error);
      case "reload":
        return this.requestReload(ev.reason, ev.rolling, ev.reply, ev.targets);
      case "program":
        return this.control(ev.op, ev.name, ev.reply);
      case "stop":
        return this.stop(ev.reason, ev.now);
      case "scale":
        return this.scale(ev.delta, ev.reason);
      case "status":
        return this.status(ev.reply, ev.memory);
      case "reopen":
        return this.reopen(ev.reason, ev.reply);
      case "child":
        return this.world.reapOrphans?.((pid) => this.owns(pid));
      case "fault":
        return this.fault(ev.error);
      case "converge":
        return; // the convergence after every event is the work
    }
  }

  /** SUP_TEST_FAULT (tests only, never in a release build): a bug in the loop, or in a callback. */
  private injectFault() {
    if (this.world.fault === "loop") throw new Error("injected fault in the loop (SUP_TEST_FAULT=loop)");
    if (this.world.fault === "callback") {
      setTimeout(() => {
        throw new Error("injected fault in a callback (SUP_TEST_FAULT=callback)");
      }, 0);
    }
  }

  private programOf(w: WorkerHandle): Program | undefined {
    for (const p of this.programs.values()) if (p.workers.list.includes(w)) return p;
    return undefined;
  }

  /** A sd_notify message: true when it made a worker ready (only that needs a convergence). */
  private notified(ev: Extract<Event, { type: "notify" }>): boolean {
    if (ev.worker) return this.programOf(ev.worker)?.notified(ev.text, ev.worker) ?? false;
    for (const p of this.programs.values()) if (p.notified(ev.text, undefined, ev.pid, ev.uid)) return true;
    return false;
  }

  private moreQueued = false;
  /** ProgramHost: a program has more to converge; one "converge" event comes back on the next turn. */
  more() {
    if (this.moreQueued) return;
    this.moreQueued = true;
    setImmediate(() => {
      this.moreQueued = false;
      this.queue.push({ type: "converge" });
    });
  }

  /** ProgramHost: children Bun waits for itself: every program's workers, and the guard. */
  owns(pid: number): boolean {
    return [...this.programs.values()].some((p) => p.workers.owns(pid));
  }

  private get empty(): boolean {
    return [...this.programs.values()].every((p) => p.workers.empty);
  }

  /** Stopping, every worker and what it left gone, and nothing more came back to the master (Workers.stopStrays). */
  private finished(): boolean {
    if (!this.stopping || !this.empty) return false;
    const first = this.programs.values().next().value;
    if (!first) return true;
    const now = this.world.now();
    return first.workers.stopStrays(this.stopping.now ? now : now + first.config["worker-reload-mercy"] * 1000) === 0;
  }

  // --- signals (SIGNAL_TABLE names these) ---

  gracefulReload(reason: string) {
    this.requestReload(reason, false, undefined, "changed");
  }
  rollingReload(reason: string) {
    this.requestReload(reason, true, undefined, "changed");
  }
  /** TERM: with --shutdown-delay, drain first (Kubernetes keeps sending traffic for a moment); a second TERM stops at once. */
  terminate(reason: string) {
    const delay = this.programs.values().next().value?.config["shutdown-delay"] ?? 0;
    if (this.draining || this.stopping || !(delay > 0)) return this.stop(reason, false);
    this.draining = { until: this.world.now() + delay * 1000, reason };
    this.lifecycle.stopping(`${reason}: draining for ${delay}s`);
    this.log.info(`draining (${reason}): /readyz answers 503 and the workers keep serving for ${delay}s (--shutdown-delay), then the graceful stop; TERM again or INT stops now`, { event: "master.draining", reason, seconds: delay });
  }
  interrupt(reason: string) {
    this.stop(reason, !!this.stopping); // Ctrl-C twice: the second one stops at once
  }
  quit(reason: string) {
    this.stop(reason, true);
  }
  /** USR1: reopen the log file (what logrotate, gunicorn and nginx mean by it), then log the status table (what uWSGI means) into it. */
  reopenLogs(reason: string) {
    this.reopen(reason);
    this.status();
  }
  scaleUp(reason: string) {
    this.scale(1, reason);
  }
  scaleDown(reason: string) {
    this.scale(-1, reason);
  }

  // --- the one timer ---

  private nextDeadline(): number {
    const now = this.world.now();
    let at = this.draining?.until ?? Infinity;
    for (const p of this.programs.values()) at = Math.min(at, p.nextDeadline(now));
    return at;
  }

  private arm() {
    if (this.world.manualTicks) return;
    const at = this.nextDeadline();
    if (at === this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = undefined;
    if (at === Infinity) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.queue.push({ type: "timer" });
    }, timerDelay(at - this.world.now())); // capped: fires early, finds nothing due, is armed again
  }

  private converge() {
    // A program's reload that ends starts the next program's, and a program
    // that becomes ready or completes lets those that depend on it start:
    // converge those too, in the same step.
    for (let pass = 0; pass < 4; pass++) {
      const before = this.reloads.current;
      gate(this.programs);
      const waiting = this.waitingCount();
      for (const p of this.programs.values()) p.converge();
      gate(this.programs);
      if (this.reloads.current === before && this.waitingCount() === waiting) break;
    }
    this.reloads.sendHeld();
    for (const p of this.removed) {
      if (!p.workers.empty) continue;
      this.removed.delete(p);
      this.programs.delete(p.name);
      for (const gen of p.configs.keys()) this.world.release?.(gen, p.name);
      this.log.info(`program ${p.name} removed`, { event: "program.remove", program: p.name });
    }
    if (this.stopping) return;
    const all = [...this.programs.values()];
    if (all.length > 0 && all.every((p) => p.final)) {
      // Every program is done (one-shot tasks): the master's work is over.
      const failed = all.filter((p) => !p.finished?.ok).map((p) => p.name);
      this.exitCode = failed.length ? 1 : 0;
      return this.stop(failed.length ? `every program has finished; failed: ${failed.join(", ")}` : "every program has completed", false);
    }
    if (!this.reloads.running && all.every((p) => p.allReady || p.final || p.hold?.kind === "stopped")) {
      const n = all.reduce((sum, p) => sum + p.slots.size, 0);
      this.lifecycle.ready(`${n} worker${n === 1 ? "" : "s"} ready`);
    }
  }

  private waitingCount(): number {
    let n = 0;
    for (const p of this.programs.values()) if (p.hold?.kind === "waiting") n++;
    return n;
  }

  // --- sup stop|start|restart NAME ---

  /**
   * The programs a control verb's NAME means, as supervisorctl reads it: a
   * program's name; a group's (`group = …`, supervisord's [group:x]), or
   * GROUP:*, every program of it; GROUP:NAME, that one of the group's.
   * A program's own name wins over a group of the same name.
   */
  private named(name: string): string[] | undefined {
    const live = [...this.programs].filter(([, p]) => !this.removed.has(p));
    if (live.some(([n]) => n === name)) return [name];
    const [group, member] = name.includes(":") ? [name.slice(0, name.indexOf(":")), name.slice(name.indexOf(":") + 1)] : [name, "*"];
    const of = live.filter(([, p]) => p.config.group !== "" && p.config.group === group).map(([n]) => n);
    if (member === "*") return of.length ? of : undefined;
    return of.includes(member) ? [member] : undefined;
  }

  /** What a NAME that names nothing is told: the programs, and the groups. */
  private noSuch(name: string): string {
    const groups = [...new Set([...this.programs.values()].map((p) => p.config.group).filter((g) => g !== ""))];
    return `no program ${JSON.stringify(name)} (programs: ${[...this.programs.keys()].join(", ")}${groups.length ? `; groups: ${groups.join(", ")}` : ""})`;
  }

  private control(op: "stop" | "start" | "restart", name: string, reply?: (r: { ok: boolean; message: string }) => void) {
    const names = this.named(name);
    if (!names) return reply?.({ ok: false, message: this.noSuch(name) });
    if (this.stopping) return reply?.({ ok: false, message: "the master is stopping" });
    const said = names.map((n) => {
      const p = this.programs.get(n)!;
      const why = `control: sup ${op} ${name}`;
      if (op === "stop") p.halt(why);
      else if (op === "restart") p.restart(why);
      else if (p.hold?.kind === "stopped" || p.final) p.start(why);
      else return `program ${n} is ${p.state}`;
      return `program ${n}: ${op} requested`;
    });
    reply?.({ ok: true, message: said.join("; ") });
  }

  // --- reloads (reloads.ts) and the programs they add and remove ---

  requestReload(reason: string, rolling: boolean, reply?: (r: ReloadResult) => void, targets?: ReloadTarget) {
    if (this.draining && !this.stopping) {
      this.log.warn(`reload refused (${reason}): the master is draining before its stop (--shutdown-delay)`, { event: "reload.refused", reason });
      return reply?.({ ok: false, generation: this.mainGeneration, message: "the master is draining before its stop (--shutdown-delay)" });
    }
    // A group's name (or GROUP:*, GROUP:NAME) reloads its programs; a name that means nothing is told so by request().
    const names = Array.isArray(targets) ? targets.flatMap((t) => this.named(t) ?? [t]) : targets;
    if (Array.isArray(targets) && targets.some((t) => !this.named(t))) return reply?.({ ok: false, generation: this.mainGeneration, message: this.noSuch(targets.find((t) => !this.named(t))!) });
    this.reloads.request(reason, rolling, reply, names);
  }

  /** ReloadsHost: a program the config now has starts (its sockets bound and checked first). */
  addProgram(pc: ProgramConfig): Program | undefined {
    const name = pc.name || programName(pc.config, this.programs);
    if (!this.booted) return this.createProgram(name, pc);
    try {
      this.world.accept?.(pc.config, 1, name);
    } catch (e) {
      this.log.error(`program ${name} cannot start: ${(e as Error).message}`, { event: "program.error", program: name });
      return undefined;
    }
    this.log.info(`program ${name} added (${pc.where || "config"})`, { event: "program.add", program: name });
    return this.createProgram(name, pc);
  }

  private createProgram(name: string, pc: ProgramConfig): Program {
    const p = new Program(name, pc.config, this.world, this, pc.main ?? pc.name === "");
    this.programs.set(name, p);
    return p;
  }

  /** ReloadsHost: a program the config no longer has stops, and goes once its workers are gone. */
  removeProgram(p: Program, why: string) {
    p.halt(why);
    this.removed.add(p);
  }

  /** ProgramHost: a program's reload ended. */
  reloadEnded(p: Program, result: ReloadResult) {
    this.reloads.ended(p, result);
  }

  /** The generation of the first program (what a one-program master reports). */
  get mainGeneration(): number {
    return [...this.programs.values()][0]?.generation ?? 1;
  }

  // --- stop, scale, status ---

  /** ProgramHost: stop the whole master with this exit code. */
  giveUp(reason: string, code: number) {
    this.exitCode = code;
    this.stop(reason, false);
  }

  stop(reason: string, now: boolean) {
    if (this.stopping && (!now || this.stopping.now)) return;
    const first = !this.stopping;
    this.stopping = { now, reason };
    this.draining = undefined;
    if (first) this.lifecycle.stopping(reason);
    this.log.info(`${now ? "immediate" : "graceful"} stop requested (${reason})`, { event: "master.stopping", reason });
    this.reloads.cancel({ ok: false, generation: this.mainGeneration, message: "the master is stopping" });
    for (const p of this.programs.values()) p.stop(now);
  }

  /** TTIN/TTOU: the first long-running program (the web program, in the usual order) gets one worker more or fewer. */
  private scale(delta: number, reason: string) {
    if (this.stopping) return;
    const p = [...this.programs.values()].find((x) => x.config.restart === "always" && !x.hold) ?? [...this.programs.values()][0];
    p?.scale(delta, reason);
  }

  /** memory: read each worker group's RSS and PSS from /proc (sup status); the stats server reads its own, cached. */
  report(memory = true): StatusReport {
    const o = { masterPid: this.world.masterPid, uptime: (this.world.now() - this.startedAt) / 1000, stopping: !!this.stopping, reloading: this.reloads.running, memory };
    const r = combineStatus([...this.programs.values()].map((p) => p.report(o)));
    // How a worker's tree is stopped, and by whom if the master dies (processes/cgroup.ts, guard.ts).
    const g = this.world.guard;
    if (this.world.killMode) r.master = { ...r.master, killMode: this.world.killMode(), guard: g && g.pid > 0 ? { pid: g.pid, kind: g.kind ?? "" } : undefined };
    return r;
  }

  private answer(ev: Extract<Event, { type: "stats" }>) {
    try {
      ev.reply(this.stats(ev.full));
    } catch (e) {
      this.fault(e);
    }
  }

  /** What /healthz, /readyz, /metrics and /status are answered from: the loop's own state, now. */
  private stats(full: boolean): StatsAnswer {
    const serving = readiness(this.programs.values(), { stopping: !!this.stopping, draining: !!this.draining });
    if (!full) return { serving };
    return { serving, draining: !!this.draining, report: this.report(false), metrics: this.metrics.snapshot() };
  }

  private reopen(reason: string, reply?: (r: { ok: boolean; message: string }) => void) {
    const r = this.world.reopenLogs?.() ?? { ok: true, message: "no log file to reopen" };
    if (r.ok) this.log.info(`${r.message} (${reason})`, { event: "log.reopen", reason });
    else this.log.error(`${r.message} (${reason})`, { event: "log.reopen", reason });
    reply?.(r);
  }

  private status(reply?: (s: StatusReport) => void, memory = true) {
    this.injectFault();
    const report = this.report(memory);
    if (reply) return reply(report);
    for (const line of statusTable(report)) this.log.info(line, { event: "master.status" });
  }
}

/** A program's name: its command's base name, made unique. */
function programName(cfg: Config, taken: ReadonlyMap<string, unknown>): string {
  const base = (cfg.command[0] ?? "program").split("/").pop() || "program";
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}-${i}`;
  return name;
}
