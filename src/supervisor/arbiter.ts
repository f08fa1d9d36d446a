// The master loop (gunicorn's arbiter): one loop takes events one at a time
// and is the only code that changes the master's state. Signal handlers, the
// deadline timer, worker exits, notify datagrams, probe results, config
// loads, the control socket and file triggers only push events.
//
// What should run is desired state: the slots (worker id → generation) and,
// while a reload runs, the Reload (reload.ts). After every event, converge()
// applies what manage() says (manage.ts), and one timer is armed for the
// earliest deadline anything has (Puma's @next_check, unicorn's
// murder_lazy_workers): an idle master with nothing due has no timer at all.
import type { Config } from "../config/schema.ts";
import { buildStatus, statusTable, type LastReload, type StatusReport } from "../control/status.ts";
import type { WorkerHandle } from "../processes/handle.ts";
import type { ArbiterDeps, Logger } from "./deps.ts";
import type { Event, ReloadResult } from "./events.ts";
import { Lifecycle } from "./lifecycle.ts";
import { manage } from "./manage.ts";
import { Queue } from "../core/queue.ts";
import { Reload, type Reply } from "./reload.ts";
import { SIGNAL_TABLE, type SignalAction } from "./signals.ts";
import { clearsAt, newSlot, recordFailure, type Slot } from "./slots.ts";
import { Workers, fields } from "./workers.ts";

export type { ArbiterDeps, Logger, Orphan, Prepared } from "./deps.ts";

export class Arbiter {
  readonly queue = new Queue<Event>();
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
  private pendingReload?: { reason: string; rolling: boolean; replies: Reply[] };
  private reloadSeq = 0;
  lastReload?: LastReload;
  stopping?: { now: boolean; reason: string };
  exitCode = 0;
  private readonly lifecycle: Lifecycle;
  readonly startedAt: number;
  private timer?: ReturnType<typeof setTimeout>;
  private timerAt = Infinity;

  constructor(
    public config: Config,
    readonly deps: ArbiterDeps,
  ) {
    this.configs.set(1, config);
    this.startedAt = deps.now();
    this.lifecycle = new Lifecycle(deps.lifecycle);
    this.workers = new Workers(deps, this.queue, (w) => this.configFor(w));
    for (let id = 1; id <= this.countFor(config); id++) this.slots.set(id, newSlot(id, 1));
  }

  get log(): Logger {
    return this.deps.log;
  }

  /** Runs until every worker is gone after a stop. Returns the exit code. */
  async run(): Promise<number> {
    const n = this.slots.size;
    this.log.info(`master started pid ${this.deps.masterPid}, ${n} worker${n === 1 ? "" : "s"} of: ${this.config.command.join(" ")}`, { event: "master.start" });
    this.converge();
    while (!(this.stopping && this.workers.empty)) {
      this.arm();
      let ev = await this.queue.take();
      // A STATUS= datagram changes nothing to converge on or time: a chatty
      // app (libsystemd's STATUS=, WATCHDOG=1) costs a parse, not a manage().
      // One that made a worker ready was handled here; converge on it.
      while (ev.type === "notify" && !this.workers.notified(ev.text, ev.worker, ev.pid, ev.uid)) ev = await this.queue.take();
      if (ev.type !== "notify") this.handle(ev);
      this.converge();
    }
    clearTimeout(this.timer);
    this.log.info(`master stopped (${this.stopping.reason})${this.exitCode ? `, exit ${this.exitCode}` : ""}`, { event: "master.stop", code: this.exitCode });
    return this.exitCode;
  }

  /** Every event but notify, which run() gives to workers.notified() itself. */
  private handle(ev: Exclude<Event, { type: "notify" }>): void {
    switch (ev.type) {
      case "signal":
        return this[SIGNAL_TABLE[ev.sig] satisfies SignalAction](`signal ${ev.sig.slice(3)}`);
      case "timer":
        return this.onTimer();
      case "exit":
        return this.reap(ev.worker, ev.code, ev.signal);
      case "probe":
        return this.workers.probed(ev.worker, ev.ok);
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
        return this.deps.reapOrphans?.((pid) => this.workers.owns(pid));
    }
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
    let at = this.workers.deadline();
    for (const w of this.workers.list) {
      const slot = this.slots.get(w.id);
      if (slot && w.live && slot.generation === w.generation) at = Math.min(at, clearsAt(slot, w.startedAt));
    }
    for (const s of this.slots.values()) if (s.respawnAt !== undefined && s.respawnAt !== Infinity) at = Math.min(at, s.respawnAt);
    if (this.reload?.starting) at = Math.min(at, this.reload.decide(this.workers.list, this.deps.now()).recheckAt);
    return at;
  }

  private arm() {
    if (this.deps.manualTicks) return;
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
    }, Math.max(0, at - this.deps.now()));
  }

  private onTimer() {
    const now = this.deps.now();
    for (const { w, due } of this.workers.due(now)) {
      if (due.kind === "ready") this.workers.ready(w, due.how);
      else if (due.kind === "timeout") this.notReady(w, `not ready within ${due.seconds}s (--ready-timeout)`);
    }
    for (const w of this.workers.list) {
      const slot = this.slots.get(w.id);
      if (slot?.failures && w.state === "ready" && slot.generation === w.generation && now >= clearsAt(slot, w.startedAt)) slot.failures = 0;
    }
  }

  // --- convergence ---

  private converge() {
    // A commit or rollback changes what is wanted: converge again to that
    // (twice at most: a rollback's spawn failures cannot roll back again).
    for (let pass = 0; pass < 3 && !this.stopping; pass++) {
      const before = this.reload;
      this.convergeOnce();
      if (this.reload === before) break;
    }
    this.noteFirstReady();
    this.releaseUnused();
  }

  /** Apply what the reload's state makes due, then what manage() says. */
  private convergeOnce() {
    const now = this.deps.now();
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

  private noteFirstReady() {
    if (this.reload) return;
    const ready = [...this.slots.values()].every((s) => this.workers.list.some((w) => w.id === s.id && w.generation === s.generation && w.state === "ready"));
    if (ready) this.lifecycle.ready(`${this.slots.size} worker${this.slots.size === 1 ? "" : "s"} ready`);
  }

  /** Generations no slot or reload uses: forget their configs, release their sockets. */
  private releaseUnused() {
    for (const gen of [...this.configs.keys()]) {
      if (gen === this.generation || gen === this.reload?.to) continue;
      if ([...this.slots.values()].some((s) => s.generation === gen)) continue;
      this.configs.delete(gen);
      this.deps.release?.(gen);
    }
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

  private isCandidate(w: WorkerHandle): boolean {
    const r = this.reload;
    return r !== undefined && r.starting && w.generation === r.to && this.slots.get(w.id)?.generation !== r.to;
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
  private reap(w: WorkerHandle, code: number | null, signal: string | null) {
    const now = this.deps.now();
    const killAt = this.stopping?.now ? now : (w.killAt ?? now + this.configFor(w)["worker-reload-mercy"] * 1000);
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
    const r = recordFailure(slot, { now: this.deps.now(), uptime, exitText, stderr, backoffMax: cfg["backoff-max"], waitForChange: this.deps.hasFileTriggers?.(cfg) ?? false });
    this.log.warn(`${what}; ${r.next === "change" ? "waiting for changes" : `respawn in ${r.next.toFixed(1)}s`}`, { ...f, restarts: slot.restarts });
    if (r.crashLoop) {
      const why = r.next === "change" ? "the code looks broken; waiting for changes" : `retrying every ${r.next.toFixed(1)}s`;
      this.log.error(`worker ${slot.id} crash loop: ${slot.failures} exits in a row, last ${exitText}; ${why}${tail(slot.lastStderr)}`, { event: "worker.crashloop", worker: slot.id, gen: slot.generation, failures: slot.failures });
    }
    const giveUp = cfg["give-up-after"];
    if (giveUp > 0 && slot.failures >= giveUp) {
      this.log.error(`giving up: worker ${slot.id} exited ${slot.failures} times in a row (--give-up-after ${giveUp}); stopping with exit 1`, { event: "master.giveup", worker: slot.id });
      this.exitCode = 1;
      this.stop(`gave up on worker ${slot.id}`, false);
    }
  }

  // --- reloads ---

  requestReload(reason: string, rolling: boolean, reply?: Reply) {
    if (this.stopping) return reply?.({ ok: false, generation: this.generation, message: "the master is stopping" });
    if (this.reload) {
      // At most one reload queued behind the running one; later requests join it.
      const p = (this.pendingReload ??= { reason, rolling, replies: [] });
      p.rolling ||= rolling;
      if (reply) p.replies.push(reply);
      this.log.info(`reload requested (${reason}); queued after the running one`, { event: "reload.queued", reason });
      return;
    }
    this.log.info(`reload requested (${reason})`, { event: "reload.request", reason, rolling });
    const r = new Reload(++this.reloadSeq, reason, rolling, this.deps.now());
    if (reply) r.replies.push(reply);
    this.reload = r;
    this.lifecycle.reloadStarted(reason);
    // Loading may read files and parse them (c12): off the loop; the result comes back as an event.
    this.deps.loadConfig().then(
      (config) => this.queue.push({ type: "config", seq: r.seq, config }),
      (e) => this.queue.push({ type: "config", seq: r.seq, error: (e as Error).message }),
    );
  }

  private onConfig(seq: number, config?: Config, error?: string) {
    const r = this.reload;
    if (!r || r.seq !== seq || r.phase !== "loading") return; // cancelled by a stop
    const generation = this.genCounter + 1;
    if (config && !error) {
      try {
        this.deps.accept?.(config, generation);
      } catch (e) {
        error = (e as Error).message;
        this.deps.release?.(generation);
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
    const secs = ((this.deps.now() - r.startedAt) / 1000).toFixed(2);
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

  /** Who serves now, in words, for the rollback line. */
  private serving(): string {
    const byGen = new Map<number, number>();
    for (const w of this.workers.list) if (w.state === "ready" && this.slots.get(w.id)?.generation === w.generation) byGen.set(w.generation, (byGen.get(w.generation) ?? 0) + 1);
    if (byGen.size === 0) return `no worker is serving: generation ${this.generation} has no ready worker (its slots respawn)`;
    return [...byGen].map(([g, n]) => `generation ${g} keeps serving (${n} worker${n === 1 ? "" : "s"})`).join(", ");
  }

  private endReload(result: ReloadResult) {
    const r = this.reload!;
    this.reload = undefined;
    this.lastReload = { reason: r.reason, at: Date.now(), ok: result.ok, generation: result.generation, message: result.message };
    this.lifecycle.reloadEnded(result.ok ? `gen ${result.generation}` : `gen ${r.to || "?"} rolled back`);
    for (const reply of r.replies) reply(result);
    const p = this.pendingReload;
    this.pendingReload = undefined;
    if (!p) return;
    if (this.stopping) {
      for (const reply of p.replies) reply({ ok: false, generation: this.generation, message: "the master is stopping" });
      return;
    }
    this.requestReload(p.reason, p.rolling);
    (this.reload as Reload | undefined)?.replies.push(...p.replies); // narrowed to undefined above; requestReload set it
  }

  // --- stop, scale, status ---

  stop(reason: string, now: boolean) {
    if (this.stopping && (!now || this.stopping.now)) return;
    const first = !this.stopping;
    this.stopping = { now, reason };
    if (first) this.lifecycle.stopping(reason);
    this.log.info(`${now ? "immediate" : "graceful"} stop requested (${reason})`, { event: "master.stopping", reason });
    if (this.reload) {
      const r = this.reload;
      this.reload = undefined;
      const result = { ok: false, generation: this.generation, message: "the master is stopping" };
      this.lastReload = { reason: r.reason, at: Date.now(), ...result };
      for (const reply of [...r.replies, ...(this.pendingReload?.replies ?? [])]) reply(result);
      this.pendingReload = undefined;
    }
    this.workers.stopAll(now);
  }

  private scale(delta: number, reason: string) {
    if (this.stopping) return;
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

  report(): StatusReport {
    const now = this.deps.now();
    return buildStatus({
      masterPid: this.deps.masterPid,
      uptime: (now - this.startedAt) / 1000,
      generation: this.generation,
      target: this.slots.size,
      stopping: !!this.stopping,
      reloading: !!this.reload,
      lastReload: this.lastReload,
      workers: this.workers.list.map((w) => ({ id: w.id, pid: w.pid, generation: w.generation, state: this.isCandidate(w) ? `${w.state} (new)` : w.state, uptime: (now - w.startedAt) / 1000, status: w.statusText })),
      slots: [...this.slots.values()],
      containment: this.deps.killMode && {
        killMode: this.deps.killMode(),
        guard: this.deps.guard && this.deps.guard.pid > 0 ? { pid: this.deps.guard.pid, kind: this.deps.guard.kind ?? "" } : undefined,
      },
    });
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

/** A new worker that died of "address already in use" binds its own port: say what works instead. */
function portHint(why: string): string {
  if (!/address already in use|EADDRINUSE|errno 98|port is already in use/i.test(why)) return "";
  return "\n  the app binds its own port, which the old worker still holds: use --reload-strategy stop-first (the old worker stops before the new one starts), or let sup hold the socket with --listen and serve fd 3";
}
