// The master loop (gunicorn's arbiter): one loop takes events one at a time
// and is the only code that changes the worker table. Signal handlers, the
// deadline timer, worker exits, notify datagrams, probe results, config
// loads, the control socket and file triggers only push events.
//
// What should run is desired state: the slots (worker id → generation) and,
// while a reload runs, the Reload (reload.ts). After every event, manage()
// converges the table to it (manage.ts), and one timer is armed for the
// earliest deadline anything has (Puma's @next_check, unicorn's
// murder_lazy_workers): an idle master with nothing due has no timer at all.
import type { Config } from "../config/schema.ts";
import type { Fields } from "../log.ts";
import { parseReady, expandReady, probeOnce, type ReadySpec } from "../net/probe.ts";
import { parseNotify } from "../net/notify.ts";
import { WorkerHandle, parseSignal, signalGroup } from "../worker/handle.ts";
import type { SpawnFn } from "../worker/spawn.ts";
import { buildStatus, statusTable, type StatusReport } from "../control/status.ts";
import type { Event, ReloadResult } from "./events.ts";
import { Leftovers } from "./leftovers.ts";
import { Lifecycle, type NotifyFn } from "./lifecycle.ts";
import { manage } from "./manage.ts";
import { Queue } from "./queue.ts";
import { ReadyWatch } from "./readiness.ts";
import { Reload, type LastReload, type Reply } from "./reload.ts";
import { SIGNAL_TABLE, type SignalAction } from "./signals.ts";
import { clearsAt, newSlot, recordFailure, type Slot } from "./slots.ts";

export interface Logger {
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
}

/** What one worker needs to start (from run.ts: shim, command, env, sockets). */
export interface Prepared {
  argv: string[];
  env: Record<string, string>;
  fds: number[];
  cwd: string;
  notifyPipe: boolean;
  output: "pipe" | "inherit";
}

export interface Orphan {
  pid: number;
  pgid: number;
  comm: string;
  /** SUP_WORKER_ID / SUP_GENERATION from its environment, when readable. */
  worker?: { id: number; generation: number };
}

export interface ArbiterDeps {
  spawn: SpawnFn;
  now(): number; // ms, monotonic
  log: Logger;
  masterPid: number;
  /** Re-reads every config layer; rejects (ConfigError) to keep the old one. */
  loadConfig(): Promise<Config>;
  /** Takes a loaded config into use for a new generation (checks, binds its sockets); throws to refuse it. */
  accept?(next: Config, generation: number): void;
  /** A generation nothing runs or wants any more: release what it held (sockets). */
  release?(generation: number): void;
  prepare(cfg: Config, id: number, generation: number, port: number): Prepared;
  lifecycle?: NotifyFn;
  /** True when file triggers are on: a crash loop then waits for a change. */
  hasFileTriggers?(cfg: Config): boolean;
  probe?(spec: ReadySpec): Promise<boolean>;
  /** The session id of a pid (getsid), to tell which worker a notify datagram came from. */
  sessionOf?(pid: number): number;
  /** Reaps exited children that are not Bun's (orphans that came back to the subreaper). */
  reapOrphans?(owned: (pid: number) => boolean): void;
  /** Live children that are not Bun's: what left a worker's tree and came back here. */
  orphans?(owned: (pid: number) => boolean): Orphan[];
  /** The guard (guard.ts): what to kill if this master dies by SIGKILL. */
  guard?: { pid: number; watch(kind: "g" | "p", n: number): void; unwatch(kind: "g" | "p", n: number): void };
  /** Tests push timer events themselves (with their own clock). */
  manualTicks?: boolean;
}

export class Arbiter {
  readonly queue = new Queue<Event>();
  workers: WorkerHandle[] = [];
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
  private readonly watches = new Map<WorkerHandle, ReadyWatch>();
  private readonly leftovers = new Leftovers(
    (kind, t, sig) => (kind === "group" ? signalGroup(t, sig) : signalPid(t, sig)),
    (kind, t) => this.deps.guard?.unwatch(kind === "group" ? "g" : "p", t),
  );
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
    for (let id = 1; id <= this.countFor(config); id++) this.slots.set(id, newSlot(id, 1));
  }

  get log(): Logger {
    return this.deps.log;
  }

  /** Runs until every worker is gone after a stop. Returns the exit code. */
  async run(): Promise<number> {
    this.log.info(`master started pid ${this.deps.masterPid}, ${this.slots.size} worker${this.slots.size === 1 ? "" : "s"} of: ${this.config.command.join(" ")}`, { event: "master.start" });
    this.converge();
    for (;;) {
      if (this.stopping && this.workers.length === 0 && this.leftovers.size === 0) break;
      this.arm();
      this.handle(await this.queue.take());
      this.converge();
    }
    clearTimeout(this.timer);
    this.log.info(`master stopped (${this.stopping!.reason})${this.exitCode ? `, exit ${this.exitCode}` : ""}`, { event: "master.stop", code: this.exitCode });
    return this.exitCode;
  }

  private handle(ev: Event): void {
    switch (ev.type) {
      case "signal":
        return this[SIGNAL_TABLE[ev.sig] satisfies SignalAction](`signal ${ev.sig.slice(3)}`);
      case "timer":
        return this.onTimer();
      case "exit":
        return this.reap(ev.worker, ev.code, ev.signal);
      case "notify":
        return this.onNotify(ev.text, ev.worker, ev.pid, ev.uid);
      case "probe":
        return this.onProbe(ev.worker, ev.ok);
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
        return this.deps.reapOrphans?.((pid) => this.owns(pid));
    }
  }

  // --- signals (SIGNAL_TABLE names these) ---

  gracefulReload(reason: string) {
    this.requestReload(reason, false);
  }
  terminate(reason: string) {
    this.stop(reason, false);
  }
  logStatus() {
    this.status();
  }
  rollingReload(reason: string) {
    this.requestReload(reason, true);
  }
  interrupt(reason: string) {
    this.stop(reason, !!this.stopping); // Ctrl-C twice: the second one stops at once
  }
  quit(reason: string) {
    this.stop(reason, true);
  }
  scaleUp(reason: string) {
    this.scale(1, reason);
  }
  scaleDown(reason: string) {
    this.scale(-1, reason);
  }

  // --- the one timer ---

  private nextDeadline(): number {
    let at = this.leftovers.deadline();
    for (const w of this.workers) {
      if (w.state === "stopping" && !w.killed && w.killAt !== undefined) at = Math.min(at, w.killAt);
      if (w.state === "starting") at = Math.min(at, this.watches.get(w)?.deadline() ?? Infinity);
      const slot = this.slots.get(w.id);
      if (slot && w.live && slot.generation === w.generation) at = Math.min(at, clearsAt(slot, w.startedAt));
    }
    for (const s of this.slots.values()) if (s.respawnAt !== undefined && s.respawnAt !== Infinity) at = Math.min(at, s.respawnAt);
    if (this.reload?.starting) at = Math.min(at, this.reload.decide(this.workers, this.deps.now()).recheckAt);
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
    for (const w of this.workers) {
      if (w.escalate(now)) this.log.warn(`${w.label} did not stop within ${this.configFor(w)["worker-reload-mercy"]}s; sent SIGKILL`, this.fields(w, "worker.kill"));
      if (w.state !== "starting") continue;
      const due = this.watches.get(w)?.due(now);
      if (due?.kind === "ready") this.onReady(w, due.how);
      else if (due?.kind === "timeout") this.notReady(w, `not ready within ${due.seconds}s (--ready-timeout)`);
      else if (due?.kind === "probe") this.startProbe(w);
    }
    for (const label of this.leftovers.check(now)) this.log.warn(`${label} outlived its worker; sent SIGKILL`, { event: "leftover.kill" });
    for (const w of this.workers) {
      const slot = this.slots.get(w.id);
      if (slot?.failures && w.state === "ready" && slot.generation === w.generation && now >= clearsAt(slot, w.startedAt)) slot.failures = 0;
    }
  }

  // --- convergence ---

  /** Apply what manage() says, then what the reload's state makes due. */
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

  private convergeOnce() {
    const now = this.deps.now();
    const r = this.reload;
    if (r?.starting) {
      const { switchIds, commit } = r.decide(this.workers, now);
      for (const id of switchIds) this.switchSlot(id, r);
      if (commit) return this.commit(r);
    }
    for (const a of manage({ slots: this.slots, workers: this.workers, reload: r, now, canSpawn: (id) => this.portFor(id, this.slotConfig(id)) !== undefined })) {
      if (this.reload !== r) return; // a spawn failed and rolled the reload back
      if (a.kind === "retire") this.retire(a.worker, a.reason);
      else this.spawnWorker(a.id, a.generation, a.candidate);
    }
  }

  private noteFirstReady() {
    if (this.reload) return;
    const ready = [...this.slots.values()].every((s) => this.workers.some((w) => w.id === s.id && w.generation === s.generation && w.state === "ready"));
    if (ready) this.lifecycle.ready(`${this.slots.size} worker${this.slots.size === 1 ? "" : "s"} ready`);
  }

  /** Generations no slot, reload or live worker uses: forget their configs, release their sockets. */
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

  fields(w: WorkerHandle, event: string, extra?: Fields): Fields {
    return { event, worker: w.id, wpid: w.pid, gen: w.generation, ...extra };
  }

  /** Children Bun waits for itself: every worker in the table, and the guard. */
  owns(pid: number): boolean {
    return pid === this.deps.guard?.pid || this.workers.some((w) => w.pid === pid);
  }

  /**
   * With --port-base, worker N gets port BASE+2(N-1) or the one after it:
   * whichever no other process of that id holds, so a new worker never
   * shares its port with the old one it replaces and a probe of {port}
   * reaches only the new worker. Undefined while both are held.
   */
  portFor(id: number, cfg: Config): number | undefined {
    const base = cfg["port-base"];
    if (base <= 0) return 0;
    const first = base + 2 * (id - 1);
    const held = new Set(this.workers.filter((w) => w.id === id).map((w) => w.port));
    return [first, first + 1].find((p) => !held.has(p));
  }

  spawnWorker(id: number, generation: number, candidate: boolean): WorkerHandle | undefined {
    const cfg = this.configs.get(generation) ?? this.config;
    const now = this.deps.now();
    const port = this.portFor(id, cfg) ?? 0;
    let prepared: Prepared;
    let spec: ReadySpec;
    try {
      prepared = this.deps.prepare(cfg, id, generation, port);
      spec = expandReady(parseReady(cfg.ready), { id, port });
    } catch (e) {
      this.cannotStart(id, generation, candidate, e as Error);
      return undefined;
    }
    const box: { w?: WorkerHandle } = {};
    let pid: number;
    try {
      pid = this.deps.spawn({
        ...prepared,
        onExit: (code, signal) => this.queue.push({ type: "exit", worker: box.w!, code, signal }),
        onLine: (stream, line, cut) => {
          if (stream === "stderr" && box.w) box.w.noteStderr(line);
          this.onWorkerLine?.(stream, id, generation, line, cut);
        },
        onNotify: (text) => box.w && this.queue.push({ type: "notify", worker: box.w, text }),
      }).pid;
    } catch (e) {
      this.cannotStart(id, generation, candidate, e as Error);
      return undefined;
    }
    const w = new WorkerHandle(id, generation, pid, now, port);
    box.w = w;
    this.deps.guard?.watch("g", pid);
    this.workers.push(w);
    this.watches.set(w, new ReadyWatch(spec, now, cfg["ready-timeout"] * 1000));
    this.log.info(`${w.label} spawned${port ? ` port ${port}` : ""}`, this.fields(w, "worker.spawn"));
    return w;
  }

  onWorkerLine?: (stream: "stdout" | "stderr", id: number, gen: number, line: Uint8Array, cut: boolean) => void;

  private isCandidate(w: WorkerHandle): boolean {
    const r = this.reload;
    return r !== undefined && r.starting && w.generation === r.to && this.slots.get(w.id)?.generation !== r.to;
  }

  onReady(w: WorkerHandle, how: string) {
    if (w.state !== "starting") return;
    w.markReady(this.deps.now());
    this.watches.delete(w);
    this.log.info(`${w.label} ready (${how}) in ${((w.readyAt! - w.startedAt) / 1000).toFixed(2)}s`, this.fields(w, "worker.ready"));
  }

  /** Not ready in time: a candidate rolls its reload back; any other worker is killed and counts as a crash. */
  private notReady(w: WorkerHandle, why: string) {
    this.watches.delete(w);
    if (this.isCandidate(w)) {
      this.rollback(`${w.label} ${why}${tail(w.stderrTail)}`);
      return;
    }
    this.log.error(`${w.label} ${why}; killing it`, this.fields(w, "worker.timeout"));
    w.kill();
    w.stopReason = undefined; // its exit is a failure, respawned with backoff
    const slot = this.slots.get(w.id);
    if (slot?.generation === w.generation) slot.respawnAt = Infinity; // not before it has exited
  }

  private startProbe(w: WorkerHandle) {
    const watch = this.watches.get(w)!;
    void (this.deps.probe ?? probeOnce)(watch.spec).then((ok) => this.queue.push({ type: "probe", worker: w, ok }));
  }

  private onProbe(w: WorkerHandle, ok: boolean) {
    const watch = this.watches.get(w);
    if (!watch || w.state !== "starting") return;
    if (ok) this.onReady(w, watch.probeName);
    else watch.probeFailed(this.deps.now());
  }

  /** sd_notify from a worker: its pipe names it; the socket's sender is known by pid or by its session. */
  private onNotify(text: string, worker?: WorkerHandle, pid?: number, uid?: number) {
    let w = worker;
    if (!w && pid) {
      if (uid !== undefined && uid !== 0 && uid !== process.geteuid?.()) return; // another user's process
      w = this.workers.find((x) => x.pid === pid);
      if (!w) {
        const sid = this.deps.sessionOf?.(pid) ?? -1;
        w = this.workers.find((x) => x.pid === sid);
      }
    }
    if (!w || w.state === "exited") return;
    const msg = parseNotify(text);
    const status = msg.get("STATUS");
    if (status !== undefined) w.statusText = status;
    if (msg.get("READY") === "1" && this.configFor(w).ready === "notify") this.onReady(w, "notify");
  }

  retire(w: WorkerHandle, reason: string) {
    const cfg = this.configFor(w);
    this.watches.delete(w);
    w.term(parseSignal(cfg["stop-signal"]) ?? "SIGTERM", this.deps.now(), cfg["worker-reload-mercy"], reason);
    this.log.info(`${w.label} stopping (${reason})`, this.fields(w, "worker.stop", { reason }));
  }

  /** A worker exited: account for it; what it left behind is stopped with it. */
  private reap(w: WorkerHandle, code: number | null, signal: string | null) {
    const now = this.deps.now();
    const cfg = this.configFor(w);
    const killAt = this.stopping?.now ? now : (w.killAt ?? now + cfg["worker-reload-mercy"] * 1000);
    w.markExited(code, signal);
    this.workers = this.workers.filter((x) => x !== w);
    this.watches.delete(w);
    // Whatever it forked into its group goes with it (systemd's KillMode=control-group).
    this.leftovers.add("group", w.pid, `process group ${w.pid} of worker ${w.id}`, now, killAt);
    const escaped = this.escapedFrom(w);
    if (escaped.length > 0) {
      this.log.warn(`worker ${w.id} left ${escaped.length} process${escaped.length === 1 ? "" : "es"} outside its group: ${escaped.map((p) => `pid ${p.pid} ${p.comm}`).join(", ")}; stopping ${escaped.length === 1 ? "it" : "them"}`, this.fields(w, "worker.escaped", { count: escaped.length }));
      for (const p of escaped) {
        this.deps.guard?.watch("p", p.pid);
        this.leftovers.add("pid", p.pid, `process ${p.pid} (${p.comm}) left by worker ${w.id}`, now, killAt);
      }
    }
    const uptime = (now - w.startedAt) / 1000;
    if (w.stopReason) {
      this.log.info(`${w.label} exited ${w.exitText} (${w.stopReason})`, this.fields(w, "worker.exit", { code, signal, reason: w.stopReason }));
      return;
    }
    if (this.isCandidate(w)) {
      this.rollback(`${w.label} exited ${w.exitText} after ${uptime.toFixed(2)}s${tail(w.stderrTail)}`);
      return;
    }
    const slot = this.slots.get(w.id);
    if (!slot || slot.generation !== w.generation) {
      this.log.info(`${w.label} exited ${w.exitText} after ${uptime.toFixed(2)}s`, this.fields(w, "worker.exit", { code, signal }));
      return;
    }
    this.fail(slot, uptime, w.exitText, w.stderrTail, `${w.label} exited ${w.exitText} after ${uptime.toFixed(2)}s`, this.fields(w, "worker.exit", { code, signal, uptime }));
  }

  /** Processes that left w's group and came back to the master when w (or their parent) died. */
  private escapedFrom(w: WorkerHandle): Orphan[] {
    return (this.deps.orphans?.((pid) => this.owns(pid)) ?? []).filter(
      (o) =>
        o.pgid !== w.pid && // its group is stopped as a group
        !this.leftovers.has("pid", o.pid) &&
        !(o.worker && this.workers.some((x) => x.id === o.worker!.id && x.generation === o.worker!.generation)), // another worker's, still running
    );
  }

  /** A worker could not even be spawned: a candidate rolls back, a slot counts a failure. */
  private cannotStart(id: number, generation: number, candidate: boolean, e: Error) {
    const what = `worker ${id} gen ${generation} cannot start: ${e.message}`;
    if (candidate) return this.rollback(what);
    const slot = this.slots.get(id);
    if (slot) this.fail(slot, 0, "spawn error", [e.message], what, { event: "worker.error", worker: id, gen: generation });
  }

  private fail(slot: Slot, uptime: number, exitText: string, stderr: string[], what: string, fields: Fields) {
    const cfg = this.configs.get(slot.generation) ?? this.config;
    const f = recordFailure(slot, { now: this.deps.now(), uptime, exitText, stderr, backoffMax: cfg["backoff-max"], waitForChange: this.deps.hasFileTriggers?.(cfg) ?? false });
    this.log.warn(`${what}; ${f.next === "change" ? "waiting for changes" : `respawn in ${f.next.toFixed(1)}s`}`, { ...fields, restarts: slot.restarts });
    if (f.crashLoop) {
      const why = f.next === "change" ? "the code looks broken; waiting for changes" : `retrying every ${f.next.toFixed(1)}s`;
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
    const ready = r;
    const how = ready.stopFirst ? ", stopping each old worker first" : ready.rolling ? ", one at a time" : "";
    this.log.info(`reload gen ${generation} started: ${ready.count} new worker${ready.count === 1 ? "" : "s"}${ready.rolling && ready.stopFirst ? " one at a time" : ""}${how} (${r.reason})`, { event: "reload.start", gen: generation, rolling: ready.rolling, reason: r.reason });
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
    for (const w of this.workers) if (w.state === "ready" && this.slots.get(w.id)?.generation === w.generation) byGen.set(w.generation, (byGen.get(w.generation) ?? 0) + 1);
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
      this.lastReload = { reason: r.reason, at: Date.now(), ok: false, generation: this.generation, message: "the master is stopping" };
      for (const reply of [...r.replies, ...(this.pendingReload?.replies ?? [])]) reply({ ok: false, generation: this.generation, message: "the master is stopping" });
      this.pendingReload = undefined;
    }
    for (const w of this.workers) {
      if (now) w.kill("stop");
      else this.retire(w, "stop");
    }
    if (now) this.leftovers.killAll(this.deps.now());
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
      workers: this.workers.map((w) => ({ id: w.id, pid: w.pid, generation: w.generation, state: this.isCandidate(w) ? `${w.state} (new)` : w.state, uptime: (now - w.startedAt) / 1000, status: w.statusText })),
      slots: [...this.slots.values()],
    });
  }

  private status(reply?: (s: StatusReport) => void) {
    const report = this.report();
    if (reply) return reply(report);
    for (const line of statusTable(report)) this.log.info(line, { event: "master.status" });
  }
}

function signalPid(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

export function tail(lines: string[]): string {
  return lines.length ? `; last stderr:\n    ${lines.slice(-5).join("\n    ")}` : "";
}

/** A new worker that died of "address already in use" binds its own port: say what works instead. */
function portHint(why: string): string {
  if (!/address already in use|EADDRINUSE|errno 98/i.test(why)) return "";
  return "\n  the app binds its own port, which the old worker still holds: use --reload-strategy stop-first (the old worker stops before the new one starts), or let sup hold the socket with --listen and serve fd 3";
}
