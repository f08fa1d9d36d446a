// A program's upkeep of its ready workers (issue 21): each one's vitals
// (watchdog, liveness probes, lifetime), the memory of every worker's
// process group every check-interval, and the replacements these ask for,
// run spawn-before-kill within --max-surge (replacements.ts). The Program
// calls it: deadline() (a query), onTimer(), notified(), probed(), and
// converge() before manage(), which keeps the replaced workers serving.
import type { Config } from "../config/schema.ts";
import type { Queue } from "../core/queue.ts";
import type { WorkerHandle } from "../processes/handle.ts";
import type { Event } from "./events.ts";
import { Replacements, successorOf, type Replacement } from "./replacements.ts";
import type { Slot } from "./slots.ts";
import { Vitals, type ReplaceReason } from "./vitals.ts";
import { fields, type Workers } from "./workers.ts";
import type { World } from "./world.ts";

export interface UpkeepHost {
  readonly world: World;
  readonly workers: Workers;
  readonly slots: ReadonlyMap<number, Slot>;
  readonly queue: Queue<Event>;
  configFor(w: { generation: number }): Config;
  /** The program's config now (its newest generation's). */
  readonly config: Config;
  /** Counts a replacement for /metrics (metrics.ts). */
  replaced?(reason: string): void;
}

export class Upkeep {
  readonly replacements = new Replacements();
  private readonly vitals = new Map<WorkerHandle, Vitals>();
  private memoryAt = 0;

  constructor(private readonly host: UpkeepHost) {}

  private get now(): number {
    return this.host.world.now();
  }

  /** The earliest time anything here is due (ms). A query: it changes nothing. */
  deadline(): number {
    const cfg = this.host.config;
    let at = Infinity;
    for (const v of this.vitals.values()) at = Math.min(at, v.deadline());
    at = Math.min(at, this.replacements.deadline(this.host.workers.list, cfg["reload-grace"] * 1000, this.hungLimit(cfg)));
    if (cfg["reload-on-rss"] > 0 && this.vitals.size + this.readyCount() > 0) at = Math.min(at, this.memoryAt + cfg["check-interval"] * 1000);
    return at;
  }

  private readyCount(): number {
    return this.host.workers.list.filter((w) => w.state === "ready").length;
  }

  /** How long a hung worker may wait for its successor: its successor's own ready timeout. */
  private hungLimit(cfg: Config): number {
    return cfg["ready-timeout"] * 1000;
  }

  onTimer() {
    const now = this.now;
    for (const [w, v] of this.vitals) {
      const due = v.due(now);
      if (due?.kind === "replace") this.replace(w, due.reason, due.detail);
      else if (due?.kind === "probe") this.probe(w, v, due.spec);
    }
    const cfg = this.host.config;
    if (cfg["reload-on-rss"] > 0 && now >= this.memoryAt + cfg["check-interval"] * 1000) this.checkMemory(cfg);
  }

  private probe(w: WorkerHandle, v: Vitals, spec: Parameters<NonNullable<World["probeHealth"]>>[0]) {
    const cfg = this.host.configFor(w);
    const probe = this.host.world.probeHealth;
    if (!probe) return void v.probed(true, "", this.now);
    void probe(spec, { id: w.id, pid: w.pid, port: w.port, privatePort: w.privatePort ?? 0 }, cfg["health-timeout"] * 1000).then((r) =>
      this.host.queue.push({ type: "health", worker: w, ok: r.ok, detail: r.detail }),
    );
  }

  /** A liveness probe came back. */
  probed(w: WorkerHandle, ok: boolean, detail: string) {
    const v = this.vitals.get(w);
    if (!v) return;
    const due = v.probed(ok, detail, this.now);
    if (!ok) this.host.world.log.warn(`${w.label} health check failed (${v.failures} of ${this.host.configFor(w)["health-failures"]} in a row): ${detail}`, fields(w, "worker.health"));
    if (due?.kind === "replace") this.replace(w, due.reason, due.detail);
  }

  /** Resident memory of each ready worker's process group, read once per check-interval. */
  private checkMemory(cfg: Config) {
    this.memoryAt = this.now;
    const ready = this.host.workers.list.filter((w) => w.state === "ready" && !this.replacements.has(w));
    if (ready.length === 0 || !this.host.world.memory) return;
    const limit = cfg["reload-on-rss"] * 1024 * 1024;
    const memory = this.host.world.memory(ready.map((w) => w.pid));
    for (const w of ready) {
      const rss = memory.get(w.pid)?.rss ?? 0;
      if (rss > limit) this.replace(w, "rss", `its process group uses ${(rss / 1048576).toFixed(0)} MB resident, over --reload-on-rss ${cfg["reload-on-rss"]} MB`);
    }
  }

  /** sd_notify fields of a worker (WATCHDOG=…): true when it asks for something the loop must act on. */
  notified(w: WorkerHandle, msg: Map<string, string>): boolean {
    const v = this.vitals.get(w);
    if (!v || (!msg.has("WATCHDOG") && !msg.has("WATCHDOG_USEC"))) return false;
    v.notify(msg, this.now);
    if (msg.get("WATCHDOG") !== "trigger") return false;
    this.replace(w, "watchdog", "it asked to be replaced (WATCHDOG=trigger)");
    return true;
  }

  private replace(w: WorkerHandle, reason: ReplaceReason, detail: string) {
    this.vitals.delete(w); // no more deadlines for it: it is on its way out
    if (!this.replacements.request(w, reason, detail, this.now)) return;
    this.host.replaced?.(reason);
    const slot = this.host.slots.get(w.id);
    if (slot) {
      slot.replaced[reason] = (slot.replaced[reason] ?? 0) + 1;
      slot.lastReplaced = { reason, detail, at: Date.now() };
    }
    this.host.world.log.warn(`${w.label} is replaced (${reason}): ${detail}`, fields(w, "worker.replace", { reason }));
  }

  /**
   * Before manage(): vitals for newly ready workers, replacements finished
   * (the old worker retired) or given up, new ones let start within the
   * surge. Returns the workers being replaced, for manage() to keep.
   */
  converge(reloading: boolean): Map<number, WorkerHandle> {
    const { workers, slots } = this.host;
    const now = this.now;
    for (const w of workers.list) {
      const cfg = this.host.configFor(w);
      if (w.state === "ready" && !this.vitals.has(w) && !this.replacements.has(w) && Vitals.wanted(cfg)) this.vitals.set(w, new Vitals(cfg, w.readyAt ?? now, w.id, slots.size));
    }
    for (const w of this.vitals.keys()) if (w.state !== "ready") this.vitals.delete(w);
    // A replacement ends when its worker is gone, or belongs to a generation the slot no longer runs; a reload takes over waiting ones.
    for (const r of this.replacements.prune((r) => r.old.live && slots.get(r.old.id)?.generation === r.old.generation && !(reloading && r.startedAt === undefined))) {
      if (r.old.live) this.vitals.delete(r.old);
    }
    const cfg = this.host.config;
    for (const r of this.replacements.done(workers.list, cfg["reload-grace"] * 1000, now)) this.retire(r, `replaced (${r.reason})`);
    for (const r of this.replacements.overdue(now, this.hungLimit(cfg))) {
      const s = successorOf(r, workers.list);
      this.host.world.log.error(`${r.old.label} is hung (${r.detail}) and its replacement ${s ? `${s.label} is not ready` : "did not become ready"} after ${cfg["ready-timeout"]}s: stopping it anyway; until a new worker is ready this program has one worker fewer`, fields(r.old, "worker.hung"));
      this.retire(r, `hung (${r.reason})`);
    }
    if (!reloading) {
      for (const r of this.replacements.start(cfg["max-surge"], now)) this.host.world.log.info(`${r.old.label}: starting its replacement (${r.reason})`, fields(r.old, "worker.replace.start", { reason: r.reason }));
    }
    return this.replacements.running();
  }

  private retire(r: Replacement, why: string) {
    this.host.workers.retire(r.old, why, r.reason === "watchdog" || r.reason === "health");
  }
}
