// The master loop (gunicorn's arbiter): one loop takes events one at a time
// and is the only code that changes the worker table. Everything else
// (signals, timers, pollers, the control socket, worker exits) pushes events.
import type { Config } from "../config/schema.ts";
import type { Fields } from "../log.ts";
import { WorkerHandle, groupAlive, parseSignal, signalGroup } from "../worker/handle.ts";
import type { SpawnFn } from "../worker/spawn.ts";
import { BACKOFF_RESET_AFTER, CRASH_LOOP_AFTER, backoffDelay, nextFailures } from "./backoff.ts";
import type { Event, ReloadResult } from "./events.ts";
import { Queue } from "./queue.ts";
import { Readiness, type ReadyProbe } from "./readiness.ts";
import { Reloads } from "./reload.ts";
import { buildStatus, statusTable, type StatusReport } from "../control/status.ts";

export interface Logger {
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
}

export interface ArbiterDeps {
  spawn: SpawnFn;
  now(): number; // ms, monotonic enough for timeouts
  log: Logger;
  masterPid: number;
  /** Re-reads every config layer; throws ConfigError to keep the old one. */
  loadConfig(): Promise<Config>;
  /** Full argv and env for a worker (shim, resolved command, sockets, notify). */
  prepare(cfg: Config, id: number, generation: number): { argv: string[]; env: Record<string, string>; fds: number[]; cwd: string; notify?: ReadyProbe };
  /** Applies a new config outside the worker table (triggers, sockets); throws to refuse it. */
  applyConfig?(next: Config, prev: Config): Promise<void>;
  /** Lifecycle notes for systemd and `reload --wait`. */
  onLifecycle?(what: "ready" | "reloading" | "reloaded" | "stopping", detail: string): void;
  /** True when file triggers are on: a crash loop then waits for a change. */
  hasFileTriggers?(cfg: Config): boolean;
  /** Tests drive ticks themselves (with their own clock) instead of a timer. */
  manualTicks?: boolean;
}

/** Per worker id: the crash accounting that outlives each process. */
export interface Slot {
  id: number;
  generation: number; // the generation its next respawn gets
  failures: number;
  restarts: number;
  respawnAt?: number; // ms; undefined = not waiting; Infinity = waiting for a change
  lastExit?: string;
  lastStderr: string[];
}

export class Arbiter {
  readonly queue = new Queue<Event>();
  workers: WorkerHandle[] = [];
  slots = new Map<number, Slot>();
  configs = new Map<number, Config>(); // generation → the config it runs
  generation = 1;
  genCounter = 1;
  target: number;
  stopping?: { now: boolean; reason: string };
  lingering: { pgid: number; killAt: number }[] = [];
  readonly startedAt: number;
  readonly readiness: Readiness;
  readonly reloads: Reloads;
  firstReadyNoted = false;
  private timer?: ReturnType<typeof setTimeout>;
  private timerDue = Infinity;

  constructor(
    public config: Config,
    readonly deps: ArbiterDeps,
  ) {
    this.target = config.processes;
    this.configs.set(1, config);
    this.startedAt = deps.now();
    this.readiness = new Readiness(this);
    this.reloads = new Reloads(this);
  }

  get log() {
    return this.deps.log;
  }

  /** Runs until every worker is gone after a stop. Returns the exit code. */
  async run(): Promise<number> {
    this.log.info(`master started pid ${this.deps.masterPid}, ${this.target} worker${this.target === 1 ? "" : "s"} of: ${this.config.command.join(" ")}`, { event: "master.start" });
    this.manage();
    this.arm();
    for (;;) {
      const ev = await this.queue.take();
      await this.handle(ev);
      if (this.stopping && this.workers.length === 0 && this.lingering.length === 0) break;
      this.arm();
    }
    clearTimeout(this.timer);
    this.readiness.closeAll();
    this.log.info(`master stopped (${this.stopping!.reason})`, { event: "master.stop" });
    return 0;
  }

  private async handle(ev: Event) {
    switch (ev.type) {
      case "tick":
        return this.tick();
      case "ready":
        if (ev.worker.state === "starting") this.onReady(ev.worker, ev.how);
        return;
      case "exit":
        return this.reap(ev.worker, ev.code, ev.signal);
      case "reload":
        return this.reloads.request(ev.reason, ev.rolling, ev.reply);
      case "stop":
        return this.stop(ev.reason, ev.now);
      case "scale":
        return this.scale(ev.delta, ev.reason);
      case "status":
        return this.status(ev.reply);
    }
  }

  /**
   * One timer, re-armed after every event: every 20 ms while anything is in
   * motion (starting, stopping, a respawn due), every second while a crash
   * record waits to be cleared, and none at all when every worker is
   * simply running: an idle master sleeps until a signal or an exit.
   */
  private arm() {
    if (this.deps.manualTicks) return;
    const busy = this.workers.some((w) => w.state === "starting" || w.state === "stopping") || this.lingering.length > 0 || [...this.slots.values()].some((s) => s.respawnAt !== undefined && s.respawnAt !== Infinity);
    const watching = [...this.slots.values()].some((s) => s.failures > 0);
    if (!busy && !watching) return;
    const due = this.deps.now() + (busy ? 20 : 1000);
    if (this.timer && due >= this.timerDue) return;
    clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerDue = Infinity;
      this.queue.push({ type: "tick" });
    }, due - this.deps.now());
  }

  private tick() {
    const now = this.deps.now();
    for (const w of this.workers) {
      if (w.escalate(now)) this.log.warn(`${w.label} did not stop within ${this.configFor(w)["worker-reload-mercy"]}s; sent SIGKILL`, this.fields(w, "worker.kill"));
    }
    this.lingering = this.lingering.filter((g) => {
      if (!groupAlive(g.pgid)) return false;
      if (now < g.killAt) return true;
      this.log.warn(`process group ${g.pgid} outlived its worker; sent SIGKILL`, { event: "group.kill", pgid: g.pgid });
      signalGroup(g.pgid, "SIGKILL");
      return false;
    });
    this.readiness.check(now);
    this.manage();
  }

  configFor(w: { generation: number }): Config {
    return this.configs.get(w.generation) ?? this.config;
  }

  fields(w: WorkerHandle, event: string, extra?: Fields): Fields {
    return { event, worker: w.id, wpid: w.pid, gen: w.generation, ...extra };
  }

  /** Converge: one live worker per id 1..target, none above it. */
  manage() {
    if (this.stopping) return;
    const now = this.deps.now();
    // A worker that has stayed up long enough clears its id's crash record.
    for (const w of this.workers) {
      const slot = this.slots.get(w.id);
      if (slot?.failures && w.state === "ready" && w.generation === slot.generation && now - w.startedAt >= BACKOFF_RESET_AFTER * 1000) slot.failures = 0;
    }
    for (let id = 1; id <= this.target; id++) {
      if (this.workers.some((w) => w.id === id && !w.candidate && w.state !== "stopping")) continue;
      const slot = this.slot(id);
      if (slot.respawnAt !== undefined && now < slot.respawnAt) continue;
      slot.respawnAt = undefined;
      this.spawnWorker(id, slot.generation, false);
    }
    for (const w of this.workers) {
      if (w.id > this.target && !w.candidate && w.state !== "stopping") this.retire(w, "scale down");
    }
    for (const [id, s] of this.slots) if (id > this.target && !this.workers.some((w) => w.id === id)) this.slots.delete(id);
  }

  slot(id: number): Slot {
    let s = this.slots.get(id);
    if (!s) this.slots.set(id, (s = { id, generation: this.generation, failures: 0, restarts: 0, lastStderr: [] }));
    return s;
  }

  spawnWorker(id: number, generation: number, candidate: boolean): WorkerHandle | undefined {
    const cfg = this.configs.get(generation) ?? this.config;
    const now = this.deps.now();
    let prepared;
    try {
      prepared = this.deps.prepare(cfg, id, generation);
    } catch (e) {
      return this.cannotStart(id, generation, candidate, e as Error);
    }
    const box: { w?: WorkerHandle } = {};
    let pid: number;
    try {
      pid = this.deps.spawn({
        argv: prepared.argv,
        cwd: prepared.cwd,
        env: prepared.env,
        fds: prepared.fds,
        onExit: (code, signal) => this.queue.push({ type: "exit", worker: box.w!, code, signal }),
        onLine: (stream, line) => {
          if (stream === "stderr") box.w?.noteStderr(line);
          this.onWorkerLine?.(stream, id, generation, line);
        },
      }).pid;
    } catch (e) {
      prepared.notify?.close();
      return this.cannotStart(id, generation, candidate, e as Error);
    }
    const w = new WorkerHandle(id, generation, pid, now);
    w.candidate = candidate;
    box.w = w;
    this.workers.push(w);
    this.readiness.watch(w, cfg, prepared.notify);
    this.log.info(`${w.label} spawned`, this.fields(w, "worker.spawn"));
    return w;
  }

  onWorkerLine?: (stream: "stdout" | "stderr", id: number, gen: number, line: string) => void;

  /** A worker became ready (notify, probe or delay). */
  onReady(w: WorkerHandle, how: string) {
    w.markReady(this.deps.now());
    this.log.info(`${w.label} ready (${how}) in ${((w.readyAt! - w.startedAt) / 1000).toFixed(2)}s`, this.fields(w, "worker.ready"));
    if (w.candidate) this.reloads.onCandidateReady(w);
    if (!this.firstReadyNoted && this.workers.filter((x) => x.serving).length >= this.target) {
      this.firstReadyNoted = true;
      this.deps.onLifecycle?.("ready", `${this.target} workers ready`);
    }
  }

  retire(w: WorkerHandle, reason: string) {
    const cfg = this.configFor(w);
    w.term(parseSignal(cfg["stop-signal"]) ?? "SIGTERM", this.deps.now(), cfg["worker-reload-mercy"], reason);
    this.log.info(`${w.label} stopping (${reason})`, this.fields(w, "worker.stop", { reason }));
  }

  /** A worker exited: account for it, and respawn with backoff if we did not ask. */
  private reap(w: WorkerHandle, code: number | null, signal: string | null) {
    const now = this.deps.now();
    w.markExited(code, signal);
    this.workers = this.workers.filter((x) => x !== w);
    this.readiness.unwatch(w);
    const uptime = (now - w.startedAt) / 1000;
    // Whatever it forked into its group goes with it (systemd's KillMode=control-group).
    if (groupAlive(w.pid)) {
      signalGroup(w.pid, "SIGTERM");
      this.lingering.push({ pgid: w.pid, killAt: w.killAt ?? now + this.configFor(w)["worker-reload-mercy"] * 1000 });
    }
    if (w.stopReason) {
      this.log.info(`${w.label} exited ${w.exitText} (${w.stopReason})`, this.fields(w, "worker.exit", { code, signal, reason: w.stopReason }));
      return;
    }
    if (w.candidate) return this.reloads.onCandidateFailed(w, `exited ${w.exitText} after ${uptime.toFixed(2)}s`);
    const { slot, next } = this.fail(w.id, w.generation, uptime, w.exitText, w.stderrTail);
    this.log.warn(`${w.label} exited ${w.exitText} after ${uptime.toFixed(2)}s; ${next}`, this.fields(w, "worker.exit", { code, signal, uptime, restarts: slot.restarts }));
  }

  /** A worker could not even be spawned: a failure like a crash at boot. */
  private cannotStart(id: number, generation: number, candidate: boolean, e: Error): undefined {
    const { next } = candidate ? { next: "" } : this.fail(id, generation, 0, "spawn error", [e.message]);
    this.log.error(`worker ${id} gen ${generation} cannot start: ${e.message}${next ? `; ${next}` : ""}`, { event: "worker.error", worker: id, gen: generation });
    return undefined;
  }

  /** Crash accounting for a worker id: backoff, crash loop, waiting for a change. */
  private fail(id: number, generation: number, uptime: number, exitText: string, stderr: string[]) {
    const slot = this.slot(id);
    const cfg = this.configs.get(generation) ?? this.config;
    slot.failures = nextFailures(slot.failures, uptime);
    slot.restarts++;
    slot.lastExit = exitText;
    slot.lastStderr = [...stderr];
    slot.generation = generation;
    const delay = backoffDelay(slot.failures, cfg["backoff-max"]);
    const waitForChange = slot.failures >= CRASH_LOOP_AFTER && (this.deps.hasFileTriggers?.(cfg) ?? false);
    slot.respawnAt = waitForChange ? Infinity : this.deps.now() + delay * 1000;
    if (slot.failures >= CRASH_LOOP_AFTER) {
      const why = waitForChange ? "the code looks broken; waiting for changes" : `retrying every ${delay.toFixed(1)}s`;
      this.log.error(`worker ${id} crash loop: ${slot.failures} exits in a row, last ${exitText}; ${why}${tail(slot.lastStderr)}`, { event: "worker.crashloop", worker: id, gen: generation, failures: slot.failures });
    }
    return { slot, next: waitForChange ? "waiting for changes" : `respawn in ${delay.toFixed(1)}s` };
  }

  stop(reason: string, now: boolean) {
    if (this.stopping && (!now || this.stopping.now)) return;
    const first = !this.stopping;
    this.stopping = { now, reason };
    if (first) this.deps.onLifecycle?.("stopping", reason);
    this.log.info(`${now ? "immediate" : "graceful"} stop requested (${reason})`, { event: "master.stopping", reason });
    this.reloads.cancel("the master is stopping");
    for (const w of this.workers) {
      if (now) w.kill("stop");
      else this.retire(w, "stop");
    }
    if (now) for (const g of this.lingering) g.killAt = 0;
  }

  private scale(delta: number, reason: string) {
    if (this.stopping) return;
    const next = Math.max(1, this.target + delta);
    if (next === this.target) return this.log.warn(`scale request ignored (${reason}): already at 1 worker`, { event: "master.scale" });
    this.target = next;
    this.log.info(`workers ${delta > 0 ? "+1" : "-1"} → ${this.target} (${reason})`, { event: "master.scale", target: this.target });
    this.manage();
  }

  report(): StatusReport {
    return buildStatus(this, this.deps.now());
  }

  private status(reply?: (s: StatusReport) => void) {
    const report = this.report();
    if (reply) return reply(report);
    for (const line of statusTable(report)) this.log.info(line, { event: "master.status" });
  }
}

export function tail(lines: string[]): string {
  return lines.length ? `; last stderr:\n    ${lines.slice(-5).join("\n    ")}` : "";
}

export type { ReloadResult };
