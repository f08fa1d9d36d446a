// The worker table: the processes that run, with their readiness watches
// and what exited workers left behind. Its verbs act on processes (spawn,
// retire, reap) and return what happened; what it means (a crash, a failed
// reload) is the arbiter's to decide. Only the arbiter calls it, on the loop.
import type { Config } from "../config/schema.ts";
import type { Fields } from "../output/log.ts";
import { parseNotify } from "../net/notify.ts";
import { expandReady, parseReady, probeOnce } from "../net/probe.ts";
import { WorkerHandle, parseSignal, signalGroup } from "../processes/handle.ts";
import type { World, Orphan } from "./world.ts";
import type { Event } from "./events.ts";
import { Leftovers } from "./leftovers.ts";
import type { Queue } from "../core/queue.ts";
import { ReadyWatch, type ReadyDue } from "./readiness.ts";

/** How long a worker gets to dump its stack after the diagnostic signal, before the stop signal. */
const DIAGNOSE_MS = 1000;

export const fields = (w: WorkerHandle, event: string, extra?: Fields): Fields => ({ event, ...(w.program ? { program: w.program } : {}), worker: w.id, wpid: w.pid, gen: w.generation, ...extra });

function signalPid(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

export class Workers {
  /** Workers that run as another user (uid): whose sd_notify datagrams come from that uid. */
  private readonly uids = new WeakMap<WorkerHandle, number>();
  list: WorkerHandle[] = [];
  private readonly watches = new Map<WorkerHandle, ReadyWatch>();
  /** Workers booting at a lower CPU priority (--boot-nice) until they are ready, or at the latest until this time (ms). */
  private readonly nicer = new Map<WorkerHandle, number>();
  readonly leftovers: Leftovers;
  /** An exited worker's cgroup → its process group, which the guard stops watching once the cgroup is empty. */
  private readonly groupOfCgroup = new Map<string, number>();

  constructor(
    private readonly deps: World,
    private readonly queue: Queue<Event>,
    private readonly configFor: (w: { generation: number }) => Config,
    /** The program these workers run (for the World: sockets, env, output prefix). */
    private readonly program?: string,
    /** Whether a pid is any program's worker (what came back to the master is an orphan only if not). */
    private readonly anyOwns: (pid: number) => boolean = (pid) => this.owns(pid),
    /** Log lines name the program (the master runs several). */
    private readonly named = false,
  ) {
    this.leftovers = new Leftovers(
      (kind, t, sig) => (kind === "group" ? signalGroup(t as number, sig) : kind === "pid" ? signalPid(t as number, sig) : (deps.cgroups?.signal(t as string, sig) ?? false)),
      (kind, t) => {
        if (kind !== "cgroup") return deps.guard?.unwatch(kind === "group" ? "g" : "p", t as number);
        deps.cgroups?.remove(t as string);
        // The guard watched the worker's group too: an empty cgroup means it is gone.
        const pid = this.groupOfCgroup.get(t as string);
        this.groupOfCgroup.delete(t as string);
        if (pid !== undefined) deps.guard?.unwatch("g", pid);
      },
    );
  }

  /** Children Bun waits for itself: every worker, and the guard. */
  owns(pid: number): boolean {
    return pid === this.deps.guard?.pid || this.list.some((w) => w.pid === pid);
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
    const held = new Set(this.list.filter((w) => w.id === id).map((w) => w.port));
    return [first, first + 1].find((p) => !held.has(p));
  }

  /** Starts worker `id` of `generation`; throws (with the reason) when it cannot. */
  spawn(id: number, generation: number, cfg: Config): WorkerHandle {
    const now = this.deps.now();
    const port = this.portFor(id, cfg) ?? 0;
    const prepared = this.deps.prepare(cfg, id, generation, port, this.program);
    const spec = expandReady(parseReady(cfg.ready), { id, port, privatePort: prepared.privatePort });
    const box: { w?: WorkerHandle } = {};
    let pid: number;
    try {
      ({ pid } = this.deps.spawn({
        ...prepared,
        onExit: (code, signal) => this.queue.push({ type: "exit", worker: box.w!, code, signal }),
        onLine: (stream, line, cut) => {
          if (stream === "stderr" && box.w) box.w.noteStderr(line);
          this.deps.line?.(stream, id, generation, line, cut, cfg, this.program);
        },
        onNotify: (text) => box.w && this.queue.push({ type: "notify", worker: box.w, text }),
      }));
    } catch (e) {
      if (prepared.cgroup) this.deps.cgroups?.remove(prepared.cgroup);
      throw e;
    }
    const w = (box.w = new WorkerHandle(id, generation, pid, now, port, this.named ? this.program : undefined));
    w.privatePort = prepared.privatePort;
    w.cgroup = prepared.cgroup;
    if (prepared.uid !== undefined) this.uids.set(w, prepared.uid);
    this.deps.guard?.watch("g", pid);
    this.list.push(w);
    this.watches.set(w, new ReadyWatch(spec, now, cfg["ready-timeout"] * 1000));
    this.deps.log.info(`${w.label} spawned${port ? ` port ${port}` : ""}`, fields(w, "worker.spawn"));
    return w;
  }

  /** The polite stop: stop signal to its group, SIGKILL after the mercy. */
  retire(w: WorkerHandle, reason: string, diagnose = false) {
    const cfg = this.configFor(w);
    this.watches.delete(w);
    const diag = diagnose ? parseSignal(cfg["watchdog-signal"]) : undefined;
    w.term(parseSignal(cfg["stop-signal"]) ?? "SIGTERM", this.deps.now(), cfg["worker-reload-mercy"], reason, diag ? { signal: diag, ms: DIAGNOSE_MS } : undefined);
    this.deps.log.info(`${w.label} stopping (${reason})${diag ? `: ${diag} first, ${cfg["stop-signal"]} ${DIAGNOSE_MS / 1000}s later` : ""}`, fields(w, "worker.stop", { reason }));
  }

  /** The worker of this notify message: the pipe names it; on the socket, the sender is the worker or in its session, and of its user. */
  sender(worker?: WorkerHandle, pid?: number, uid?: number): WorkerHandle | undefined {
    let w = worker;
    if (!w && pid) {
      w = this.list.find((x) => x.pid === pid) ?? this.list.find((x) => x.pid === (this.deps.sessionOf?.(pid) ?? -1));
      if (w && uid !== undefined && uid !== 0 && uid !== process.geteuid?.() && uid !== this.uids.get(w)) return undefined; // another user's process
    }
    return !w || w.state === "exited" ? undefined : w;
  }

  /**
   * A reload's new worker boots at a lower CPU priority (--boot-nice), so
   * the serving workers keep theirs. Where they take every CPU it would
   * starve: it gets the usual priority back at half its ready timeout at
   * the latest, to be ready before the timeout rolls the reload back.
   */
  bootNicer(w: WorkerHandle) {
    const cfg = this.configFor(w);
    if (cfg["boot-nice"] <= 0 || !this.deps.bootPriority) return;
    this.deps.bootPriority.lower(w.pid, cfg["boot-nice"]);
    this.nicer.set(w, w.startedAt + cfg["ready-timeout"] * 500);
  }

  private bootNormal(w: WorkerHandle) {
    if (this.nicer.delete(w)) this.deps.bootPriority?.restore(w.pid);
  }

  ready(w: WorkerHandle, how: string) {
    if (w.state !== "starting") return;
    w.markReady(this.deps.now());
    this.watches.delete(w);
    this.bootNormal(w);
    this.deps.log.info(`${w.label} ready (${how}) in ${((w.readyAt! - w.startedAt) / 1000).toFixed(2)}s`, fields(w, "worker.ready"));
  }

  /** Stops a worker that was not ready in time (stop signal, SIGKILL after the mercy); its exit then counts as a failure. */
  retireNotReady(w: WorkerHandle, why: string) {
    this.retire(w, why);
    w.failed = true;
  }

  /** The timer's work on processes: escalate, SIGKILL leftovers past their mercy; the readiness that is due. */
  due(now: number): { w: WorkerHandle; due: NonNullable<ReadyDue> }[] {
    for (const w of this.list) {
      if (w.escalate(now)) this.deps.log.warn(`${w.label} did not stop within ${this.configFor(w)["worker-reload-mercy"]}s; sent SIGKILL`, fields(w, "worker.kill"));
    }
    for (const label of this.leftovers.check(now)) this.deps.log.warn(`${label} outlived its worker; sent SIGKILL`, { event: "leftover.kill" });
    for (const [w, at] of this.nicer) if (now >= at) this.bootNormal(w);
    const out: { w: WorkerHandle; due: NonNullable<ReadyDue> }[] = [];
    for (const w of this.list) {
      const due = w.state === "starting" ? this.watches.get(w)?.due(now) : undefined;
      if (due?.kind === "probe") this.startProbe(w);
      else if (due) out.push({ w, due });
    }
    return out;
  }

  deadline(): number {
    let at = this.leftovers.deadline();
    for (const t of this.nicer.values()) at = Math.min(at, t);
    for (const w of this.list) {
      if (w.state === "stopping" && !w.killed && w.killAt !== undefined) at = Math.min(at, w.killAt, w.termAt?.at ?? Infinity);
      if (w.state === "starting") at = Math.min(at, this.watches.get(w)?.deadline() ?? Infinity);
    }
    return at;
  }

  private startProbe(w: WorkerHandle) {
    const watch = this.watches.get(w)!;
    void (this.deps.probe ?? probeOnce)(watch.spec).then((ok) => this.queue.push({ type: "probe", worker: w, ok }));
  }

  /** A probe came back: the worker is ready, or the watch tries again soon. */
  probed(w: WorkerHandle, ok: boolean) {
    const watch = this.watches.get(w);
    if (!watch || w.state !== "starting") return;
    if (ok) this.ready(w, watch.probeName);
    else watch.probeFailed(this.deps.now());
  }

  /**
   * sd_notify: the pipe names its worker; on the socket, the sender is the
   * worker or in its session, and of our user. True when a worker became
   * ready (a STATUS= alone changes nothing the loop converges on).
   */
  notified(text: string, worker?: WorkerHandle, pid?: number, uid?: number): boolean {
    const w = this.sender(worker, pid, uid);
    if (!w) return false;
    const msg = parseNotify(text);
    const status = msg.get("STATUS");
    if (status !== undefined) w.statusText = status;
    if (msg.get("READY") !== "1" || w.state !== "starting" || this.configFor(w).ready !== "notify") return false;
    this.ready(w, "notify");
    return true;
  }

  /** A worker exited: out of the table; its group and what escaped it are stopped with it (after `killAt`). */
  exited(w: WorkerHandle, code: number | null, signal: string | null, killAt: number) {
    const now = this.deps.now();
    w.markExited(code, signal);
    this.list = this.list.filter((x) => x !== w);
    this.watches.delete(w);
    this.nicer.delete(w);
    // Whatever it forked goes with it (systemd's KillMode=control-group):
    // its cgroup, which holds all of it, or its group and what escaped it.
    const escaped = this.escapedFrom(w);
    if (w.cgroup) {
      this.groupOfCgroup.set(w.cgroup, w.pid);
      this.leftovers.add("cgroup", w.cgroup, `cgroup ${w.cgroup} of worker ${w.id}`, now, killAt);
    }
    else this.leftovers.add("group", w.pid, `process group ${w.pid} of worker ${w.id}`, now, killAt);
    if (escaped.length === 0) return;
    const n = escaped.length;
    this.deps.log.warn(`worker ${w.id} left ${n} process${n === 1 ? "" : "es"} outside its group: ${escaped.map((p) => `pid ${p.pid} ${p.comm}`).join(", ")}; stopping ${n === 1 ? "it" : "them"}${w.cgroup ? " with its cgroup" : ""}`, fields(w, "worker.escaped", { count: n }));
    if (w.cgroup) return;
    for (const p of escaped) {
      this.deps.guard?.watch("p", p.pid);
      this.leftovers.add("pid", p.pid, `process ${p.pid} (${p.comm}) left by worker ${w.id}`, now, killAt);
    }
  }

  /**
   * Processes that left w's group: in its cgroup, or (without one) those
   * that came back to the master when w or their parent died.
   */
  private escapedFrom(w: WorkerHandle): Orphan[] {
    if (w.cgroup) return (this.deps.cgroups?.members(w.cgroup) ?? []).filter((o) => o.pgid !== w.pid);
    return (this.deps.orphans?.(this.anyOwns) ?? []).filter(
      (o) =>
        o.pgid !== w.pid && // its group is stopped as a group
        !this.leftovers.has("pid", o.pid) &&
        !(o.worker?.program !== undefined && this.named && o.worker.program !== this.program) && // another program's
        !(o.worker && this.list.some((x) => x.id === o.worker!.id && x.generation === o.worker!.generation)), // another worker's, still running
    );
  }

  /** Stop everything: gracefully (retire) or at once (SIGKILL, leftovers too). */
  stopAll(now: boolean) {
    for (const w of this.list) {
      if (now) w.kill("stop");
      else this.retire(w, "stop");
    }
    if (now) this.leftovers.killAll(this.deps.now());
  }

  get empty(): boolean {
    return this.list.length === 0 && this.leftovers.size === 0;
  }

  /**
   * Once every worker is gone on a stop: processes that came back to the
   * master since (the subreaper) are stopped too, before it exits. A
   * leftover's own child is orphaned only when the leftover dies of its
   * TERM, after its worker's exit was handled; without this it would outlive
   * the master. Returns how many there were.
   */
  stopStrays(killAt: number): number {
    const now = this.deps.now();
    const strays = (this.deps.orphans?.(this.anyOwns) ?? []).filter((o) => !this.leftovers.has("pid", o.pid));
    for (const p of strays) {
      this.deps.guard?.watch("p", p.pid);
      this.leftovers.add("pid", p.pid, `process ${p.pid} (${p.comm})`, now, killAt);
    }
    const n = strays.length;
    if (n) this.deps.log.warn(`${n} process${n === 1 ? "" : "es"} came back to the master after ${n === 1 ? "its parent" : "their parents"} stopped: ${strays.map((p) => `pid ${p.pid} ${p.comm}`).join(", ")}; stopping ${n === 1 ? "it" : "them"}`, { event: "worker.escaped", count: n });
    return n;
  }
}
