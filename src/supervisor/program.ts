// One program's desired state and the convergence to it (issue 20): the
// slots (worker id → generation), the configs of its generations, the
// running Reload and the TTIN/TTOU count. The Loop hands it events and asks
// it for its next deadline; it acts on processes only through the World (by
// way of its Workers table). A reload is "set what is wanted", a rollback
// "drop the Reload", a scale change "add or drop a slot"; manage() says
// what to spawn and retire to get there.
import type { Config } from "../config/schema.ts";
import type { StatusReport } from "../control/status.ts";
import { buildStatus, type LastReload } from "../control/status.ts";
import type { WorkerHandle } from "../processes/handle.ts";
import type { Queue } from "../core/queue.ts";
import type { Event, ReloadResult } from "./events.ts";
import { manage } from "./manage.ts";
import { Reload } from "./reload.ts";
import { clearsAt, newSlot, recordFailure, type Slot } from "./slots.ts";
import { Workers, fields } from "./workers.ts";
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
}

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
  lastReload?: LastReload;

  constructor(
    readonly name: string,
    public config: Config,
    private readonly world: World,
    private readonly host: ProgramHost,
  ) {
    this.configs.set(1, config);
    this.workers = new Workers(world, host.queue, (w) => this.configFor(w));
    for (let id = 1; id <= this.countFor(config); id++) this.slots.set(id, newSlot(id, 1));
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
    return at;
  }

  /** Every slot runs a ready worker of its generation (and no reload runs). */
  get allReady(): boolean {
    return !this.reload && [...this.slots.values()].every((s) => this.workers.list.some((w) => w.id === s.id && w.generation === s.generation && w.state === "ready"));
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

  report(o: { masterPid: number; uptime: number; stopping: boolean; reloading: boolean }): StatusReport {
    const now = this.world.now();
    return buildStatus({
      ...o,
      generation: this.generation,
      target: this.slots.size,
      lastReload: this.lastReload,
      workers: this.workers.list.map((w) => ({ id: w.id, pid: w.pid, generation: w.generation, state: this.isCandidate(w) ? `${w.state} (new)` : w.state, uptime: (now - w.startedAt) / 1000, status: w.statusText })),
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
  }

  /** Not ready in time: a candidate rolls its reload back; any other worker is killed and counts as a crash. */
  private notReady(w: WorkerHandle, why: string) {
    if (this.isCandidate(w)) return this.rollback(`${w.label} ${why}${tail(w.stderrTail)}`);
    // Nothing wants it any more (a rollback a moment ago, in the same pass of
    // due timeouts, or a scale-down): manage() retires it with that reason.
    const slot = this.slots.get(w.id);
    if (slot?.generation !== w.generation) return;
    this.log.error(`${w.label} ${why}; killing it`, fields(w, "worker.timeout"));
    this.workers.killNotReady(w);
    slot.respawnAt = Infinity; // not before it has exited
  }

  /** A worker exited: expected (we asked), a failed candidate (roll back), or a crash (back off). */
  reap(w: WorkerHandle, code: number | null, signal: string | null, stopNow: boolean) {
    const now = this.world.now();
    const killAt = stopNow ? now : (w.killAt ?? now + this.configFor(w)["worker-reload-mercy"] * 1000);
    const candidate = this.isCandidate(w);
    this.workers.exited(w, code, signal, killAt);
    const after = `after ${((now - w.startedAt) / 1000).toFixed(2)}s`;
    if (w.stopReason) return this.log.info(`${w.label} exited ${w.exitText} (${w.stopReason})`, fields(w, "worker.exit", { code, signal, reason: w.stopReason }));
    if (candidate) return this.rollback(`${w.label} exited ${w.exitText} ${after}${tail(w.stderrTail)}`);
    const slot = this.slots.get(w.id);
    if (!slot || slot.generation !== w.generation) return this.log.info(`${w.label} exited ${w.exitText} ${after}`, fields(w, "worker.exit", { code, signal }));
    this.fail(slot, (now - w.startedAt) / 1000, w.exitText, w.stderrTail, `${w.label} exited ${w.exitText} ${after}`, fields(w, "worker.exit", { code, signal }));
  }

  private fail(slot: Slot, uptime: number, exitText: string, stderr: string[], what: string, f: ReturnType<typeof fields>) {
    const cfg = this.configs.get(slot.generation) ?? this.config;
    const r = recordFailure(slot, { now: this.world.now(), uptime, exitText, stderr, backoffMax: cfg["backoff-max"], waitForChange: this.world.hasFileTriggers?.(cfg) ?? false });
    this.log.warn(`${what}; ${r.next === "change" ? "waiting for changes" : `respawn in ${r.next.toFixed(1)}s`}`, { ...f, restarts: slot.restarts });
    if (r.crashLoop) {
      const why = r.next === "change" ? "the code looks broken; waiting for changes" : `retrying every ${r.next.toFixed(1)}s`;
      this.log.error(`worker ${slot.id} crash loop: ${slot.failures} exits in a row, last ${exitText}; ${why}${tail(slot.lastStderr)}`, { event: "worker.crashloop", worker: slot.id, gen: slot.generation, failures: slot.failures });
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
    // A commit or rollback changes what is wanted: converge again to that
    // (twice at most: a rollback's spawn failures cannot roll back again).
    for (let pass = 0; pass < 3 && !this.host.stopping; pass++) {
      const before = this.reload;
      this.convergeOnce();
      if (this.reload === before) break;
    }
    this.releaseUnused();
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
    for (const a of manage({ slots: this.slots, workers: this.workers.list, reload: r, now, canSpawn })) {
      if (this.reload !== r) return; // a spawn failed and rolled the reload back
      if (a.kind === "retire") this.workers.retire(a.worker, a.reason);
      else this.spawn(a.id, a.generation, a.candidate);
    }
  }

  private spawn(id: number, generation: number, candidate: boolean) {
    try {
      this.workers.spawn(id, generation, this.configs.get(generation) ?? this.config);
    } catch (e) {
      // Could not even be spawned: a candidate rolls back, a slot counts a failure.
      const what = `worker ${id} gen ${generation} cannot start: ${(e as Error).message}`;
      if (candidate) return this.rollback(what);
      const slot = this.slots.get(id);
      if (slot) this.fail(slot, 0, "spawn error", [(e as Error).message], what, { event: "worker.error", worker: id, gen: generation });
    }
  }

  /** Generations no slot or reload uses: forget their configs, release their sockets. */
  private releaseUnused() {
    for (const gen of [...this.configs.keys()]) {
      if (gen === this.generation || gen === this.reload?.to) continue;
      if ([...this.slots.values()].some((s) => s.generation === gen)) continue;
      this.configs.delete(gen);
      this.world.release?.(gen);
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
        this.world.accept?.(config, generation);
      } catch (e) {
        error = (e as Error).message;
        this.world.release?.(generation);
      }
    }
    if (error || !config) {
      const message = `${error}; keeping the old config and workers`;
      this.log.error(`reload failed: ${message}`, { event: "reload.fail", reason: r.reason });
      return this.endReload({ ok: false, generation: this.generation, message });
    }
    this.genCounter = generation;
    this.configs.set(generation, config);
    r.begin(generation, config, this.countFor(config));
    const how = r.stopFirst ? `${r.rolling ? " one at a time" : ""}, stopping each old worker first` : r.rolling ? ", one at a time" : "";
    this.log.info(`reload gen ${generation} started: ${r.count} new worker${r.count === 1 ? "" : "s"}${how} (${r.reason})`, { event: "reload.start", gen: generation, rolling: r.rolling, reason: r.reason });
  }

  /** Rolling: id's new worker is proven; the id is the new generation's from now on. */
  private switchSlot(id: number, r: Reload) {
    r.switched.add(id);
    const slot = this.slots.get(id) ?? newSlot(id, r.to);
    Object.assign(slot, { generation: r.to, failures: 0, respawnAt: undefined });
    this.slots.set(id, slot);
  }

  private commit(r: Reload) {
    for (const id of r.ids()) this.switchSlot(id, r);
    for (const id of [...this.slots.keys()]) if (id > r.count) this.slots.delete(id);
    this.generation = r.to;
    this.config = r.config!;
    const secs = ((this.world.now() - r.startedAt) / 1000).toFixed(2);
    this.log.info(`reload gen ${r.to} done in ${secs}s (${r.reason})`, { event: "reload.done", gen: r.to, seconds: Number(secs) });
    this.endReload({ ok: true, generation: r.to, message: `generation ${r.to} serving` });
  }

  /** The new generation failed: drop the reload; manage() stops its workers, the slots keep what runs. */
  private rollback(why: string) {
    const r = this.reload!;
    const message = `reload gen ${r.to} rolled back: ${why}${portHint(why)}`;
    const next = /^(autoreload|touch):/.test(r.reason) ? "; the new code does not start, waiting for changes" : "";
    this.log.error(`${message}\n  ${this.serving()}${next}`, { event: "reload.rollback", gen: r.to });
    this.endReload({ ok: false, generation: this.generation, message });
  }

  private endReload(result: ReloadResult) {
    const r = this.reload!;
    this.reload = undefined;
    this.lastReload = { reason: r.reason, at: Date.now(), ok: result.ok, generation: result.generation, message: result.message };
    this.host.reloadEnded(this, result);
  }

  /** The master stops: a running reload ends unfinished (its replies are the Loop's); every worker is stopped. */
  stop(now: boolean) {
    const r = this.reload;
    this.reload = undefined;
    if (r) this.lastReload = { reason: r.reason, at: Date.now(), ok: false, generation: this.generation, message: "the master is stopping" };
    this.workers.stopAll(now);
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

export function tail(lines: string[]): string {
  return lines.length ? `; last stderr:\n    ${lines.slice(-5).join("\n    ")}` : "";
}

/** A new worker that died of "address already in use" binds its own port: say what works instead. */
function portHint(why: string): string {
  if (!/address already in use|EADDRINUSE|errno 98|port is already in use/i.test(why)) return "";
  return "\n  the app binds its own port, which the old worker still holds: use --reload-strategy stop-first (the old worker stops before the new one starts), or let sup hold the socket with --listen and serve fd 3";
}
