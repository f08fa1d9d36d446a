// One program's desired state and the convergence to it (issue 20): the
// slots (worker id → generation), the configs of its generations, the
// running Reload and the TTIN/TTOU count. The Loop hands it events and asks
// it for its next deadline; it acts on processes only through the World (by
// way of its Workers table). A reload is "set what is wanted", a rollback
// "drop the Reload", a scale change "add or drop a slot"; manage() says
// what to spawn and retire to get there.
import { constants } from "node:os";
import type { Config } from "../config/schema.ts";
import type { StatusReport } from "../control/status.ts";
import { buildStatus, type LastReload } from "../control/status.ts";
import type { WorkerHandle } from "../processes/handle.ts";
import type { Queue } from "../core/queue.ts";
import type { Event, ReloadResult } from "./events.ts";
import { CRASH_LOOP_AFTER } from "../core/backoff.ts";
import type { Metrics, ReloadOutcome } from "./metrics.ts";
import { manage } from "./manage.ts";
import { Reload } from "./reload.ts";
import { clearsAt, newSlot, recordFailure, type Slot } from "./slots.ts";
import { Upkeep } from "./upkeep.ts";
import { Workers, fields } from "./workers.ts";
import { parseNotify } from "../net/notify.ts";
import type { Logger, World } from "./world.ts";

/** What a Program asks of the Loop it runs in. */
export interface ProgramHost {
  readonly queue: Queue<Event>;
  /** Set once the master is stopping: nothing new starts. */
  readonly stopping?: { now: boolean; reason: string };
  /** This program's reload ended (done, rolled back, or refused). */
  reloadEnded(program: Program, result: ReloadResult): void;
  /** Stop the whole master with this exit code (--give-up-after). */
  giveUp(reason: string, code: number): void;
  /** Whether a pid is a worker of any program (or the guard). */
  owns(pid: number): boolean;
  /** The master runs several programs: log lines name them. */
  readonly several: boolean;
  /** Counters for /metrics (metrics.ts): bumped where each event happens. */
  readonly metrics: Metrics;
  /** There is more to converge than one step may do (spawns): converge again on the loop's next turn. */
  more(): void;
}

/**
 * Spawns in one step of the loop: Bun.spawn blocks the loop for about 6 ms
 * a process here, so a reload of 64 workers in one step kept every signal,
 * /healthz and `sup status` waiting for seconds. The rest follow on the
 * next turns, with other events in between.
 */
const SPAWNS_PER_STEP = 4;

/** Why a program runs no workers now. */
export type Hold =
  | { kind: "stopped"; why: string } // sup stop NAME, or removed from the config
  | { kind: "waiting"; why: string } // its depends-on are not met yet
  | { kind: "blocked"; why: string }; // a dependency failed for good

export class Program {
  readonly workers: Workers;
  readonly slots = new Map<number, Slot>();
  /** generation → the config it runs. */
  readonly configs = new Map<number, Config>();
  /** The newest committed generation (what status calls "the" generation). */
  generation = 1;
  private genCounter = 1;
  /** A TTIN/TTOU count, kept across reloads while the config's processes stays `base`. */
  private scaled?: { base: number; count: number };
  reload?: Reload;
  /** A one-shot program's reload: it runs again; done when every worker is. */
  private rerun?: { reason: string; startedAt: number };
  lastReload?: LastReload;
  /** The last reload was rolled back: the code on disk may be what failed it (cleared by a reload that succeeds). */
  private failedReload?: { generation: number };
  hold?: Hold;
  /** What depends-on asks of this program: it ever spawned a worker, was ever all ready. */
  everSpawned = false;
  wasReady = false;
  /** sup restart NAME: start again once every worker has stopped. */
  private startWhenStopped = false;
  /** The generation new connections go to (net/sockets.ts), and whether at once or once it accepts. */
  private steered = "1 true";

  /** Watchdog, liveness probes, lifetime and memory of its ready workers, and the replacements they ask for. */
  readonly upkeep: Upkeep;

  constructor(
    readonly name: string,
    public config: Config,
    readonly world: World,
    private readonly host: ProgramHost,
    /** The config's own program (one that declares none, or a uwsgi.ini's app): a HUP always reloads it. */
    readonly implicit = false,
  ) {
    this.configs.set(1, config);
    if (Object.keys(config["depends-on"]).length > 0) this.hold = { kind: "waiting", why: "its dependencies" };
    // autostart = false: stopped from the start, as if `sup stop NAME` had come first; `sup start NAME` runs it.
    if (!config.autostart) this.hold = { kind: "stopped", why: "autostart = false" };
    this.workers = new Workers(world, host.queue, (w) => this.configFor(w), name, (pid) => host.owns(pid), host.several);
    const program = this;
    this.upkeep = new Upkeep({
      world,
      workers: this.workers,
      slots: this.slots,
      queue: host.queue,
      configFor: (w) => this.configFor(w),
      get config() {
        return program.config;
      },
      replaced: (reason) => host.metrics.replaced(name, reason),
    });
    for (let id = 1; id <= this.countFor(config); id++) this.slots.set(id, newSlot(id, 1));
    if (!config.autostart) this.log.info(`program ${name} stays stopped (autostart = false): sup start ${name} runs it`, { event: "program.stop", program: name });
  }

  private get log(): Logger {
    return this.world.log;
  }

  // --- queries (they never change anything) ---

  /** The earliest time anything of this program is due (ms), Infinity for none. */
  nextDeadline(now: number): number {
    let at = this.workers.deadline();
    for (const w of this.workers.list) {
      const slot = this.slots.get(w.id);
      if (slot && w.live && slot.generation === w.generation) at = Math.min(at, clearsAt(slot, w.startedAt));
    }
    for (const s of this.slots.values()) if (s.respawnAt !== undefined && s.respawnAt !== Infinity) at = Math.min(at, s.respawnAt);
    if (this.reload?.starting) at = Math.min(at, this.reload.peek(this.workers.list, now).recheckAt);
    if (!this.hold) at = Math.min(at, this.upkeep.deadline());
    return at;
  }

  /** Every slot runs a ready worker of its generation, or is done (and no reload runs). */
  get allReady(): boolean {
    return !this.reloading && [...this.slots.values()].every((s) => s.done || this.workers.list.some((w) => w.id === s.id && w.generation === s.generation && w.state === "ready"));
  }

  get reloading(): boolean {
    return this.reload !== undefined || this.rerun !== undefined;
  }

  /** Workers of an older generation still run and share the current one's sockets: they may be handed new connections. */
  get sharesWithOlder(): boolean {
    return this.workers.list.some((w) => w.generation < this.generation) && this.world.ownsSockets?.(this.generation, this.name) === false;
  }

  /** Every worker finished (a one-shot program): completed when each exited 0. */
  get finished(): { ok: boolean } | undefined {
    const slots = [...this.slots.values()];
    if (slots.length === 0 || !slots.every((s) => s.done) || this.workers.list.length > 0) return undefined;
    return { ok: slots.every((s) => s.done!.ok) };
  }

  /** It will not run again by itself: finished, or blocked by a failed dependency. */
  get final(): boolean {
    return this.finished !== undefined || this.hold?.kind === "blocked";
  }

  /** One word for status: running, starting, ready, waiting, blocked, stopped, completed, failed, reloading. */
  get state(): string {
    if (this.hold) return this.hold.kind;
    const f = this.finished;
    if (f) return f.ok ? "completed" : "failed";
    if (this.reloading) return "reloading";
    return this.allReady ? "ready" : "starting";
  }

  countFor(cfg: Config): number {
    return this.scaled?.base === cfg.processes ? this.scaled.count : cfg.processes;
  }

  configFor(w: { generation: number }): Config {
    return this.configs.get(w.generation) ?? this.config;
  }

  private slotConfig(id: number): Config {
    const r = this.reload;
    return r?.starting && r.replacing(id) && r.config ? r.config : this.configs.get(this.slots.get(id)?.generation ?? this.generation) ?? this.config;
  }

  /** A worker of the reload's new generation whose id has not switched to it yet. */
  isCandidate(w: WorkerHandle): boolean {
    const r = this.reload;
    return r !== undefined && r.starting && w.generation === r.to && this.slots.get(w.id)?.generation !== r.to;
  }

  /** Who serves now, in words, for the rollback line. */
  serving(): string {
    const byGen = new Map<number, number>();
    for (const w of this.workers.list) if (w.state === "ready" && this.slots.get(w.id)?.generation === w.generation) byGen.set(w.generation, (byGen.get(w.generation) ?? 0) + 1);
    if (byGen.size === 0) return `no worker is serving: generation ${this.generation} has no ready worker (its slots respawn)`;
    return [...byGen].map(([g, n]) => `generation ${g} keeps serving (${n} worker${n === 1 ? "" : "s"})`).join(", ");
  }

  report(o: { masterPid: number; uptime: number; stopping: boolean; reloading: boolean; memory?: boolean }): StatusReport {
    const now = this.world.now();
    return buildStatus({
      ...o,
      program: { name: this.name, state: this.state, hold: this.hold?.why, restart: this.config.restart },
      generation: this.generation,
      target: this.slots.size,
      lastReload: this.lastReload,
      workers: this.workers.list.map((w) => ({ id: w.id, pid: w.pid, generation: w.generation, state: this.isCandidate(w) ? `${w.state} (new)` : w.state, uptime: (now - w.startedAt) / 1000, status: w.statusText ?? w.note })),
      slots: [...this.slots.values()],
    });
  }

  // --- events ---

  /** The timer fired: escalations, readiness that is due, crash records that clear. */
  onTimer() {
    const now = this.world.now();
    for (const { w, due } of this.workers.due(now)) {
      if (due.kind === "ready") this.workers.ready(w, due.how);
      else if (due.kind === "timeout") this.notReady(w, `not ready within ${due.seconds}s (--ready-timeout)`);
    }
    for (const w of this.workers.list) {
      const slot = this.slots.get(w.id);
      if (slot?.failures && w.state === "ready" && slot.generation === w.generation && now >= clearsAt(slot, w.startedAt)) slot.failures = 0;
    }
    if (!this.hold) this.upkeep.onTimer();
  }

  /** A sd_notify message from one of its workers: true when the loop must converge (a worker became ready, or asked to be replaced). */
  notified(text: string, worker?: WorkerHandle, pid?: number, uid?: number): boolean {
    const w = this.workers.sender(worker, pid, uid);
    if (!w) return false;
    const watchdog = this.upkeep.notified(w, parseNotify(text));
    return this.workers.notified(text, w) || watchdog;
  }

  /** Not ready in time: a candidate rolls its reload back; any other worker is killed and counts as a crash. */
  private notReady(w: WorkerHandle, why: string) {
    if (this.isCandidate(w)) return this.rollback(`${w.label} ${why}${tail(w.stderrTail)}`);
    // Nothing wants it any more (a rollback a moment ago, in the same pass of
    // due timeouts, or a scale-down): manage() retires it with that reason.
    const slot = this.slots.get(w.id);
    if (slot?.generation !== w.generation) return;
    this.log.error(`${w.label} ${why}; stopping it${readyHint(this.configFor(w).ready)}`, fields(w, "worker.timeout"));
    this.workers.retireNotReady(w, why);
    this.host.metrics.replaced(this.name, "ready-timeout");
    slot.respawnAt = Infinity; // not before it has exited
  }

  /** A worker exited: expected (we asked), a failed candidate (roll back), or a crash (back off). */
  reap(w: WorkerHandle, code: number | null, signal: string | null, stopNow: boolean) {
    const now = this.world.now();
    const killAt = stopNow ? now : (w.killAt ?? now + this.configFor(w)["worker-reload-mercy"] * 1000);
    const candidate = this.isCandidate(w);
    this.workers.exited(w, code, signal, killAt);
    const after = `after ${((now - w.startedAt) / 1000).toFixed(2)}s`;
    if (w.stopReason && !w.failed) return this.log.info(`${w.label} exited ${w.exitText} (${w.stopReason})`, fields(w, "worker.exit", { code, signal, reason: w.stopReason }));
    if (candidate) return this.rollback(`${w.label} exited ${w.exitText} ${after}${tail(w.stderrTail)}`);
    const slot = this.slots.get(w.id);
    if (!slot || slot.generation !== w.generation) return this.log.info(`${w.label} exited ${w.exitText} ${after}`, fields(w, "worker.exit", { code, signal }));
    const cfg = this.configFor(w);
    if (cfg["on-exit"] === "stop-all") {
      this.log.error(`${w.label} exited ${w.exitText} ${after}; on-exit = stop-all: stopping every program${tail(w.stderrTail)}`, fields(w, "worker.exit", { code, signal }));
      return this.host.giveUp(`${this.name}: ${w.label} exited ${w.exitText}`, exitCodeOf(code, signal));
    }
    const ok = code === 0 && !signal;
    if (cfg.restart === "never" || (cfg.restart === "on-failure" && ok)) {
      slot.done = { ok, exit: w.exitText };
      slot.respawnAt = Infinity;
      if (ok) this.log.info(`${w.label} exited ${w.exitText} ${after}: done (restart = ${cfg.restart})`, fields(w, "worker.done", { code, signal }));
      else this.log.error(`${w.label} exited ${w.exitText} ${after}: failed, not restarted (restart = ${cfg.restart})${tail(w.stderrTail)}`, fields(w, "worker.failed", { code, signal }));
      return this.endRerunIfDone();
    }
    // Not ready in time, again and again: each counts as a failure in a row, whatever its uptime, so they back off.
    const uptime = w.failed ? 0 : (now - w.startedAt) / 1000;
    this.fail(slot, uptime, w.failed ? `${w.exitText} after ${w.stopReason}` : w.exitText, w.stderrTail, `${w.label} exited ${w.exitText} ${after}${w.failed ? ` (${w.stopReason})` : ""}`, fields(w, "worker.exit", { code, signal }));
  }

  private fail(slot: Slot, uptime: number, exitText: string, stderr: string[], what: string, f: ReturnType<typeof fields>) {
    const cfg = this.configs.get(slot.generation) ?? this.config;
    const r = recordFailure(slot, { now: this.world.now(), uptime, exitText, stderr, backoffMax: cfg["backoff-max"], waitForChange: this.world.hasFileTriggers?.(cfg) ?? false });
    this.host.metrics.crash(this.name, slot.id);
    if (slot.failures === CRASH_LOOP_AFTER) this.host.metrics.crashLoop(this.name, slot.id);
    this.log.warn(`${what}; ${r.next === "change" ? "waiting for changes" : `respawn in ${r.next.toFixed(1)}s`}`, { ...f, restarts: slot.restarts });
    if (r.crashLoop) {
      const why = r.next === "change" ? "the code looks broken; waiting for changes" : `retrying every ${r.next.toFixed(1)}s`;
      this.log.error(`worker ${slot.id} crash loop: ${slot.failures} exits in a row, last ${exitText}; ${why}${tail(slot.lastStderr, 5)}`, { event: "worker.crashloop", worker: slot.id, gen: slot.generation, failures: slot.failures });
    }
    const giveUp = cfg["give-up-after"];
    if (giveUp > 0 && slot.failures >= giveUp) {
      this.log.error(`giving up: worker ${slot.id} exited ${slot.failures} times in a row (--give-up-after ${giveUp}); stopping with exit 1`, { event: "master.giveup", worker: slot.id });
      this.host.giveUp(`gave up on worker ${slot.id}`, 1);
    }
  }

  // --- convergence ---

  /** Applies what the reload's state makes due, then what manage() says, until nothing changes the Reload. */
  converge() {
    if (this.startWhenStopped && this.workers.empty) this.start("restart");
    if (this.hold) return this.releaseUnused(); // nothing runs while held
    // A commit or rollback changes what is wanted: converge again to that
    // (twice at most: a rollback's spawn failures cannot roll back again).
    for (let pass = 0; pass < 3 && !this.host.stopping; pass++) {
      const before = this.reload;
      this.convergeOnce();
      if (this.reload === before) break;
    }
    this.steer();
    this.releaseUnused();
  }

  /**
   * New connections go to the reload's generation once it can serve as many
   * as the current one (its workers ready, as many as the current one has
   * ready, or its first when none is): all of them to one new worker while
   * its siblings still boot would queue them there. Once its workers accept
   * (they may say ready before), or at once at the commit; back at once on
   * a rollback.
   */
  private steer() {
    const r = this.reload?.starting ? this.reload : undefined;
    const readyOf = (gen: number) => this.workers.list.filter((w) => w.generation === gen && w.state === "ready").length;
    const to = r && readyOf(r.to) >= Math.max(1, Math.min(r.count, readyOf(this.generation))) ? r.to : this.generation;
    const now = to !== r?.to;
    if (`${to} ${now}` === this.steered) return;
    this.steered = `${to} ${now}`;
    this.world.steer?.(to, now, this.name);
  }

  private convergeOnce() {
    const now = this.world.now();
    const r = this.reload;
    if (r?.starting) {
      const { switchIds, commit } = r.decide(this.workers.list, now);
      for (const id of switchIds) this.switchSlot(id, r);
      if (commit) return this.commit(r);
    }
    const canSpawn = (id: number) => this.workers.portFor(id, this.slotConfig(id)) !== undefined;
    const replacing = this.upkeep.converge(this.reloading);
    let spawns = 0;
    for (const a of manage({ slots: this.slots, workers: this.workers.list, reload: r, now, canSpawn, replacing })) {
      if (this.reload !== r) return; // a spawn failed and rolled the reload back
      if (a.kind === "retire") this.workers.retire(a.worker, a.reason);
      else if (spawns++ < SPAWNS_PER_STEP) this.spawn(a.id, a.generation, a.candidate);
      else this.host.more(); // the rest on the loop's next turn
    }
  }

  private spawn(id: number, generation: number, candidate: boolean) {
    try {
      const w = this.workers.spawn(id, generation, this.configs.get(generation) ?? this.config);
      this.everSpawned = true;
      if (candidate) this.workers.bootNicer(w);
      // A respawn of the serving generation after a failed reload starts from
      // the code on disk, which may be the code that failed: say so.
      const f = this.failedReload;
      if (!candidate && f && this.slots.get(id)?.restarts) {
        w.note = `respawned into code that failed the last reload (gen ${f.generation} rolled back)`;
        this.log.warn(`${w.label} ${w.note}; if it fails too, the other workers of gen ${generation} keep serving`, fields(w, "worker.respawn.failed-code"));
      }
    } catch (e) {
      // Could not even be spawned: a candidate rolls back, a slot counts a failure.
      const what = `worker ${id} gen ${generation} cannot start: ${(e as Error).message}`;
      if (candidate) return this.rollback(what);
      const slot = this.slots.get(id);
      if (slot) this.fail(slot, 0, "spawn error", [(e as Error).message], what, { event: "worker.error", worker: id, gen: generation });
    }
  }

  /** Generations no slot or reload uses and no worker runs: forget their configs, release their sockets. */
  private releaseUnused() {
    for (const gen of [...this.configs.keys()]) {
      if (gen === this.generation || gen === this.reload?.to) continue;
      if ([...this.slots.values()].some((s) => s.generation === gen)) continue;
      if (this.workers.list.some((w) => w.generation === gen)) continue; // still accepting, perhaps
      this.configs.delete(gen);
      this.world.release?.(gen, this.name);
    }
  }

  // --- reloads ---

  /**
   * The Loop loaded the config for reload `seq`: take it into use for a new
   * generation (the World checks it and binds its sockets), or end the
   * reload here, keeping the old config and workers.
   */
  beginReload(seq: number, reason: string, rolling: boolean, startedAt: number, config?: Config, error?: string) {
    const r = (this.reload = new Reload(seq, reason, rolling, startedAt));
    const generation = this.genCounter + 1;
    if (config && !error) {
      try {
        // Rolling and stop-first share the current sockets (old and new side by side, or a backlog while none runs).
        this.world.accept?.(config, generation, this.name, rolling || config["reload-strategy"] === "stop-first");
      } catch (e) {
        error = (e as Error).message;
        this.world.release?.(generation, this.name);
      }
    }
    if (error || !config) {
      const message = `${error}; keeping the old config and workers`;
      this.log.error(`reload failed: ${message}`, { event: "reload.fail", reason: r.reason });
      return this.endReload({ ok: false, generation: this.generation, message }, "failed");
    }
    this.genCounter = generation;
    this.configs.set(generation, config);
    if (this.hold?.kind === "stopped") return this.adoptStopped(generation, config);
    if (config.restart !== "always") return this.beginRerun(r, generation, config);
    r.begin(generation, config, this.countFor(config));
    const how = r.stopFirst ? `${r.rolling ? " one at a time" : ""}, stopping each old worker first` : r.rolling ? ", one at a time" : "";
    this.log.info(`reload gen ${generation} started: ${r.count} new worker${r.count === 1 ? "" : "s"}${how} (${r.reason})`, { event: "reload.start", gen: generation, rolling: r.rolling, reason: r.reason });
  }

  /**
   * A stopped program (sup stop NAME, autostart = false) runs nothing, so no
   * new worker could ever be ready or complete: it takes the new config as
   * the generation its next start runs, and the reload is done at once (a
   * `sup reload` of every program waited for it for ever).
   */
  private adoptStopped(generation: number, config: Config) {
    this.generation = generation;
    this.config = config;
    this.slots.clear();
    for (let id = 1; id <= this.countFor(config); id++) this.slots.set(id, newSlot(id, generation));
    const message = `program ${this.name} is stopped: sup start ${this.name} runs generation ${generation}`;
    this.log.info(`reload gen ${generation}: ${message} (${this.reload!.reason})`, { event: "reload.done", gen: generation });
    this.endReload({ ok: true, generation, message }, "done");
  }

  /**
   * A one-shot program (restart never / on-failure) reloads by running
   * again as the new generation: its reload is done when every worker is,
   * ok when each exited 0 (a migration before the web program's reload).
   */
  private beginRerun(r: Reload, generation: number, config: Config) {
    this.reload = undefined;
    this.rerun = { reason: r.reason, startedAt: r.startedAt };
    this.generation = generation;
    this.config = config;
    this.slots.clear();
    for (let id = 1; id <= this.countFor(config); id++) this.slots.set(id, newSlot(id, generation));
    this.log.info(`reload gen ${generation} started: ${this.slots.size} worker${this.slots.size === 1 ? "" : "s"} run again (restart = ${config.restart}; ${r.reason})`, { event: "reload.start", gen: generation, reason: r.reason });
  }

  private endRerunIfDone() {
    const f = this.finished;
    if (!this.rerun || !f) return;
    const { reason } = this.rerun;
    this.countReload(this.rerun, f.ok ? "done" : "failed");
    this.rerun = undefined;
    const message = f.ok ? `generation ${this.generation} completed` : `generation ${this.generation} failed: ${[...this.slots.values()].map((s) => `worker ${s.id} ${s.done!.exit}`).join(", ")}`;
    this.log[f.ok ? "info" : "error"](`reload gen ${this.generation} ${f.ok ? "done" : "failed"}: ${message} (${reason})`, { event: f.ok ? "reload.done" : "reload.fail", gen: this.generation });
    this.lastReload = { reason, at: Date.now(), ok: f.ok, generation: this.generation, message };
    this.host.reloadEnded(this, { ok: f.ok, generation: this.generation, message });
  }

  /** Rolling: id's new worker is proven; the id is the new generation's from now on. */
  private switchSlot(id: number, r: Reload) {
    r.switched.add(id);
    const slot = this.slots.get(id) ?? newSlot(id, r.to);
    Object.assign(slot, { generation: r.to, failures: 0, respawnAt: undefined });
    this.slots.set(id, slot);
  }

  private commit(r: Reload) {
    // What it replaces: the live workers of older generations (stopped by manage() right after).
    const old = this.workers.list.filter((w) => w.live && w.generation !== r.to);
    for (const id of r.ids()) this.switchSlot(id, r);
    for (const id of [...this.slots.keys()]) if (id > r.count) this.slots.delete(id);
    this.generation = r.to;
    this.config = r.config!;
    this.failedReload = undefined;
    const secs = ((this.world.now() - r.startedAt) / 1000).toFixed(2);
    this.log.info(`reload gen ${r.to} done in ${secs}s (${r.reason})`, { event: "reload.done", gen: r.to, seconds: Number(secs) });
    const gens = [...new Set(old.map((w) => w.generation))].sort((a, b) => a - b).join(", ");
    const replaced = old.length ? `; replaced ${old.length} worker${old.length === 1 ? "" : "s"} of gen ${gens} (pid ${old.map((w) => w.pid).join(", ")})` : "";
    this.endReload({ ok: true, generation: r.to, message: `generation ${r.to} serving, reload took ${secs}s${replaced}` }, "done");
  }

  /** The new generation failed: drop the reload; manage() stops its workers, the slots keep what runs. */
  private rollback(why: string) {
    const r = this.reload!;
    this.failedReload = { generation: r.to };
    const next = /^(autoreload|touch):/.test(r.reason) ? "; the new code does not start, waiting for changes" : "";
    const serving = this.serving();
    if (r.stopFirst && serving.startsWith("no worker")) {
      // Stop-first stopped the old workers before the new ones started: there is nothing to roll back to.
      const message = `reload gen ${r.to} failed: the new code did not start, and stop-first had already stopped the old workers, so it cannot keep the old code: nothing serves now; gen ${this.generation} starts again from the code on disk (if that is the code that failed, nothing serves until the next change or reload): ${why}`;
      this.log.error(message, { event: "reload.outage", gen: r.to });
      return this.endReload({ ok: false, outage: true, generation: this.generation, message }, "outage");
    }
    const message = `reload gen ${r.to} rolled back: ${why}${portHint(why)}`;
    this.log.error(`${message}\n  ${serving}${next}`, { event: "reload.rollback", gen: r.to });
    this.endReload({ ok: false, generation: this.generation, message }, "rolled_back");
  }

  private endReload(result: ReloadResult, outcome: ReloadOutcome) {
    const r = this.reload!;
    this.reload = undefined;
    this.countReload(r, outcome);
    this.lastReload = { reason: r.reason, at: Date.now(), ok: result.ok, generation: result.generation, message: result.message };
    this.host.reloadEnded(this, result);
  }

  private countReload(r: { reason: string; startedAt: number }, outcome: ReloadOutcome) {
    this.host.metrics.reload(this.name, r.reason, outcome, (this.world.now() - r.startedAt) / 1000);
  }

  /** The master stops: a running reload ends unfinished (its replies are the Loop's); every worker is stopped. */
  stop(now: boolean) {
    const r = this.reload ?? this.rerun;
    this.reload = this.rerun = undefined;
    if (r) this.lastReload = { reason: r.reason, at: Date.now(), ok: false, generation: this.generation, message: "the master is stopping" };
    if (r) this.countReload(r, "cancelled");
    this.workers.stopAll(now);
  }

  // --- sup stop|start|restart NAME ---

  /** Stops every worker of this program (gracefully) and starts none until start(). */
  halt(why: string) {
    const r = this.reload ?? this.rerun;
    this.reload = this.rerun = undefined;
    if (r) {
      const message = `program ${this.name} stopped (${why})`;
      this.countReload(r, "cancelled");
      this.lastReload = { reason: r.reason, at: Date.now(), ok: false, generation: this.generation, message };
      this.host.reloadEnded(this, { ok: false, generation: this.generation, message });
    }
    this.hold = { kind: "stopped", why };
    this.startWhenStopped = false;
    for (const w of this.workers.list) if (w.live) this.workers.retire(w, why);
    this.log.info(`program ${this.name} stopped (${why})`, { event: "program.stop", program: this.name });
  }

  /** Runs again: every slot fresh (a finished one-shot runs once more). */
  start(why: string) {
    this.hold = undefined;
    this.startWhenStopped = false;
    for (const s of this.slots.values()) Object.assign(s, { done: undefined, failures: 0, respawnAt: undefined });
    this.log.info(`program ${this.name} started (${why})`, { event: "program.start", program: this.name });
  }

  /** Stop, then start once every worker has exited. */
  restart(why: string) {
    this.halt(why);
    this.startWhenStopped = true;
  }

  /** Remembers that every worker was ready once (depends-on "ready"). */
  noteReady() {
    if (!this.wasReady && !this.hold && this.allReady) this.wasReady = true;
  }

  /** The Loop's depends-on verdict: run now, keep waiting, or never (a dependency failed). */
  gate(unmet: string[], failed?: string) {
    if (this.hold?.kind !== "waiting") return;
    if (failed) {
      this.hold = { kind: "blocked", why: failed };
      return this.log.error(`program ${this.name} will not start: ${failed}`, { event: "program.blocked", program: this.name });
    }
    if (unmet.length > 0) {
      const why = unmet.join(", ");
      if (this.hold.why !== why) this.log.info(`program ${this.name} waits for ${why}`, { event: "program.wait", program: this.name });
      this.hold = { kind: "waiting", why };
      return;
    }
    this.hold = undefined;
    this.log.info(`program ${this.name} starts: its dependencies are met`, { event: "program.start", program: this.name });
  }

  // --- scale ---

  /** One worker more or fewer (TTIN/TTOU), never below 1. */
  scale(delta: number, reason: string) {
    const newest = this.reload?.config ?? this.config;
    const next = Math.max(1, this.countFor(newest) + delta);
    if (next === this.countFor(newest)) return this.log.warn(`scale request ignored (${reason}): already at 1 worker`, { event: "master.scale" });
    this.scaled = { base: newest.processes, count: next };
    const current = this.countFor(this.config);
    for (let id = 1; id <= current; id++) if (!this.slots.has(id)) this.slots.set(id, newSlot(id, this.generation));
    for (const id of [...this.slots.keys()]) if (id > current) this.slots.delete(id);
    if (this.reload?.config) this.reload.count = this.countFor(this.reload.config);
    this.log.info(`workers ${delta > 0 ? "+1" : "-1"} → ${next} (${reason})`, { event: "master.scale", target: next });
  }
}

/** What to check when a worker is not ready in time, by the kind of --ready. */
function readyHint(ready: string): string {
  if (ready === "notify") return "; is the app sending READY=1 to $NOTIFY_SOCKET (sd_notify), or writing READY=1 to fd $SUP_NOTIFY_FD?";
  if (/^(tcp:|https?:)/.test(ready)) return `; does the app answer ${ready} (the address of this worker)?`;
  return "";
}

/** A worker's exit as the master's own exit code (a shell's: 128 + the signal's number). */
export function exitCodeOf(code: number | null, signal: string | null): number {
  if (signal) return 128 + (constants.signals[signal as keyof typeof constants.signals] ?? 0);
  return code ?? 1;
}

/** A worker's stderr in a report: what it kept (first and last lines, ~4 KB), or the last `max` lines. */
export function tail(lines: string[], max = Infinity): string {
  const shown = lines.slice(-max);
  return shown.length ? `; ${max === Infinity ? "its stderr" : "last stderr"}:\n    ${shown.join("\n    ")}` : "";
}

/** A new worker that died of "address already in use" binds its own port: say what works instead. */
function portHint(why: string): string {
  if (!/address already in use|EADDRINUSE|errno 98|port is already in use/i.test(why)) return "";
  return "\n  the app binds its own port, which the old worker still holds: use --reload-strategy stop-first (the old worker stops before the new one starts), or let sup hold the socket with --listen and serve fd 3";
}
