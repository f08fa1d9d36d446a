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
import type { Config } from "../config/schema.ts";
import { statusTable, type StatusReport } from "../control/status.ts";
import { Queue } from "../core/queue.ts";
import type { WorkerHandle } from "../processes/handle.ts";
import type { Event, ReloadResult } from "./events.ts";
import { Lifecycle } from "./lifecycle.ts";
import { Program, type ProgramHost } from "./program.ts";
import { ReloadRun, type ReloadTarget } from "./reload-run.ts";
import { SIGNAL_TABLE, type SignalAction } from "./signals.ts";
import type { Logger, World } from "./world.ts";

/** EX_SOFTWARE (sysexits.h): the master stopped because of a bug in sup. */
export const EXIT_BUG = 70;

export class Loop implements ProgramHost {
  readonly queue = new Queue<Event>();
  readonly programs = new Map<string, Program>();
  stopping?: { now: boolean; reason: string };
  exitCode = 0;
  readonly startedAt: number;
  private readonly lifecycle: Lifecycle;
  /** The reload under way (loading its config, then one program after another), and at most one queued behind it. */
  private reloadRun?: ReloadRun;
  private pending?: ReloadRun;
  private reloadSeq = 0;
  private faults = 0;
  private timer?: ReturnType<typeof setTimeout>;
  private timerAt = Infinity;

  constructor(
    readonly world: World,
    configs: Config[],
  ) {
    this.startedAt = world.now();
    this.lifecycle = new Lifecycle(world.lifecycle);
    for (const cfg of configs) this.addProgram(programName(cfg, this.programs), cfg);
  }

  get log(): Logger {
    return this.world.log;
  }

  private addProgram(name: string, cfg: Config): Program {
    const p = new Program(name, cfg, this.world, this);
    this.programs.set(name, p);
    return p;
  }

  /** Runs until every worker is gone after a stop. Returns the exit code. */
  async run(): Promise<number> {
    const first = [...this.programs.values()][0];
    const n = [...this.programs.values()].reduce((sum, p) => sum + p.slots.size, 0);
    this.log.info(`master started pid ${this.world.masterPid}, ${n} worker${n === 1 ? "" : "s"} of: ${first?.config.command.join(" ") ?? "nothing"}`, { event: "master.start" });
    this.step(() => {});
    while (!(this.stopping && this.empty)) {
      this.arm();
      let ev = await this.queue.take();
      // A STATUS= datagram changes nothing to converge on or time: a chatty
      // app (libsystemd's STATUS=, WATCHDOG=1) costs a parse, not a manage().
      // One that made a worker ready is handled here; converge on it.
      while (ev.type === "notify" && !this.notified(ev)) ev = await this.queue.take();
      if (ev.type === "notify") this.step(() => {});
      else {
        const e = ev;
        this.step(() => this.handle(e));
      }
    }
    clearTimeout(this.timer);
    this.log.info(`master stopped (${this.stopping.reason})${this.exitCode ? `, exit ${this.exitCode}` : ""}`, { event: "master.stop", code: this.exitCode });
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

  private handle(ev: Exclude<Event, { type: "notify" }>): void {
    switch (ev.type) {
      case "signal":
        return this[SIGNAL_TABLE[ev.sig] satisfies SignalAction](`signal ${ev.sig.slice(3)}`);
      case "timer":
        for (const p of this.programs.values()) p.onTimer();
        return;
      case "exit":
        return this.programOf(ev.worker)?.reap(ev.worker, ev.code, ev.signal, this.stopping?.now ?? false);
      case "probe":
        return this.programOf(ev.worker)?.workers.probed(ev.worker, ev.ok);
      case "config":
        return this.onConfig(ev.seq, ev.config, ev.error);
      case "reload":
        return this.requestReload(ev.reason, ev.rolling, ev.reply);
      case "stop":
        return this.stop(ev.reason, ev.now);
      case "scale":
        return this.scale(ev.delta, ev.reason);
      case "status":
        return this.status(ev.reply);
      case "child":
        return this.world.reapOrphans?.((pid) => this.owns(pid));
      case "fault":
        return this.fault(ev.error);
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
    if (ev.worker) return this.programOf(ev.worker)?.workers.notified(ev.text, ev.worker) ?? false;
    for (const p of this.programs.values()) if (p.workers.notified(ev.text, undefined, ev.pid, ev.uid)) return true;
    return false;
  }

  /** Children Bun waits for itself: every worker, and the guard. */
  private owns(pid: number): boolean {
    return [...this.programs.values()].some((p) => p.workers.owns(pid));
  }

  private get empty(): boolean {
    return [...this.programs.values()].every((p) => p.workers.empty);
  }

  // --- signals (SIGNAL_TABLE names these) ---

  gracefulReload(reason: string) {
    this.requestReload(reason, false);
  }
  rollingReload(reason: string) {
    this.requestReload(reason, true);
  }
  terminate(reason: string) {
    this.stop(reason, false);
  }
  interrupt(reason: string) {
    this.stop(reason, !!this.stopping); // Ctrl-C twice: the second one stops at once
  }
  quit(reason: string) {
    this.stop(reason, true);
  }
  logStatus() {
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
    let at = Infinity;
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
    }, Math.max(0, at - this.world.now()));
  }

  private converge() {
    // A program's reload that ends starts the next program's: converge that one too.
    for (let pass = 0, run = this.reloadRun?.current; pass < 3; pass++, run = this.reloadRun?.current) {
      for (const p of this.programs.values()) p.converge();
      if (this.reloadRun?.current === run) break;
    }
    if (!this.reloadRun && [...this.programs.values()].every((p) => p.allReady)) {
      const n = [...this.programs.values()].reduce((sum, p) => sum + p.slots.size, 0);
      this.lifecycle.ready(`${n} worker${n === 1 ? "" : "s"} ready`);
    }
  }

  // --- reloads: load the config off the loop, then each target program in turn ---

  requestReload(reason: string, rolling: boolean, reply?: (r: ReloadResult) => void, targets: ReloadTarget = "all") {
    if (this.stopping) return reply?.({ ok: false, generation: this.mainGeneration, message: "the master is stopping" });
    if (this.reloadRun) {
      // At most one reload queued behind the running one; later requests join it.
      (this.pending ??= new ReloadRun(0, reason, rolling, targets, this.world.now())).join(rolling, targets, reply);
      this.log.info(`reload requested (${reason}); queued after the running one`, { event: "reload.queued", reason });
      return;
    }
    this.log.info(`reload requested (${reason})`, { event: "reload.request", reason, rolling });
    const run = (this.reloadRun = new ReloadRun(++this.reloadSeq, reason, rolling, targets, this.world.now()));
    if (reply) run.replies.push(reply);
    this.lifecycle.reloadStarted(reason);
    // Loading reads files and parses them: off the loop; the result comes back as an event.
    this.world.loadConfig().then(
      (config) => this.queue.push({ type: "config", seq: run.seq, config }),
      (e) => this.queue.push({ type: "config", seq: run.seq, error: (e as Error).message }),
    );
  }

  private onConfig(seq: number, config?: Config, error?: string) {
    const run = this.reloadRun;
    if (!run || run.seq !== seq || run.loaded) return; // cancelled by a stop
    run.loaded = { config, error };
    run.queue = run.targets === "all" ? [...this.programs.keys()] : [...run.targets];
    this.next(run);
  }

  /** Starts the run's next program reload; ends the run when none is left. */
  private next(run: ReloadRun) {
    while (this.reloadRun === run) {
      const name = run.queue.shift();
      if (name === undefined) return this.endRun(run);
      const p = this.programs.get(name);
      if (!p) continue;
      run.current = p;
      run.beginning = true;
      p.beginReload(run.seq, run.reason, run.rolling, run.startedAt, run.loaded!.config, run.loaded!.error);
      run.beginning = false;
      if (p.reload) return; // it runs; reloadEnded() comes back here
    }
  }

  /** ProgramHost: a program's reload ended (done, rolled back or refused). */
  reloadEnded(p: Program, result: ReloadResult) {
    const run = this.reloadRun;
    if (!run || run.current !== p) return;
    run.results.set(p.name, result);
    run.current = undefined;
    // From inside beginReload (a refused config), next() goes on by itself.
    if (!run.beginning) this.next(run);
  }

  private endRun(run: ReloadRun) {
    this.reloadRun = undefined;
    const result = run.result(this.mainGeneration);
    this.lifecycle.reloadEnded(result.ok ? `gen ${result.generation}` : `reload rolled back`);
    for (const reply of run.replies) reply(result);
    const p = this.pending;
    this.pending = undefined;
    if (!p) return;
    this.requestReload(p.reason, p.rolling, undefined, p.targets);
    (this.reloadRun as ReloadRun | undefined)?.replies.push(...p.replies); // narrowed to undefined above; requestReload set it
  }

  /** The generation of the first program (what a one-program master reports). */
  private get mainGeneration(): number {
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
    if (first) this.lifecycle.stopping(reason);
    this.log.info(`${now ? "immediate" : "graceful"} stop requested (${reason})`, { event: "master.stopping", reason });
    const result = { ok: false, generation: this.mainGeneration, message: "the master is stopping" };
    for (const reply of [...(this.reloadRun?.replies ?? []), ...(this.pending?.replies ?? [])]) reply(result);
    this.reloadRun = this.pending = undefined;
    for (const p of this.programs.values()) p.stop(now);
  }

  private scale(delta: number, reason: string) {
    if (this.stopping) return;
    for (const p of this.programs.values()) p.scale(delta, reason);
  }

  report(): StatusReport {
    const p = [...this.programs.values()][0]!;
    return p.report({ masterPid: this.world.masterPid, uptime: (this.world.now() - this.startedAt) / 1000, stopping: !!this.stopping, reloading: !!this.reloadRun });
  }

  private status(reply?: (s: StatusReport) => void) {
    this.injectFault();
    const report = this.report();
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
