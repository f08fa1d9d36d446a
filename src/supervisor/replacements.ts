// Replacing one worker without costing capacity (issue 21): a hung worker
// (watchdog), one that fails its liveness probes, one past its lifetime or
// its memory limit is replaced spawn-before-kill, as a reload is: a
// successor of the same id and generation starts beside it, and the old one
// is retired only once the successor has been ready for the reload grace.
// At most --max-surge replacements run at once; the others wait in the
// order they were asked for. A successor that fails leaves the old worker
// serving (the slot's crash backoff paces the next try). Only a hung worker
// is stopped without a ready successor, after a bounded time: it serves
// nothing anyway, and the log says why capacity dropped.
import type { WorkerHandle } from "../processes/handle.ts";
import type { ReplaceReason } from "./vitals.ts";

export interface Replacement {
  old: WorkerHandle;
  reason: ReplaceReason;
  detail: string;
  requestedAt: number;
  /** When its successor was let start (it counts against --max-surge from then on). */
  startedAt?: number;
}

export class Replacements {
  private items: Replacement[] = [];

  get size(): number {
    return this.items.length;
  }

  has(w: WorkerHandle): boolean {
    return this.items.some((r) => r.old === w);
  }

  /** Asks for w to be replaced; false when it already is. */
  request(w: WorkerHandle, reason: ReplaceReason, detail: string, now: number): boolean {
    if (this.has(w)) return false;
    this.items.push({ old: w, reason, detail, requestedAt: now });
    return true;
  }

  /** Old workers being replaced now, by id: manage() keeps each beside its successor. */
  running(): Map<number, WorkerHandle> {
    return new Map(this.items.filter((r) => r.startedAt !== undefined).map((r) => [r.old.id, r.old]));
  }

  /** Lets waiting replacements start, oldest first, while fewer than `surge` run. */
  start(surge: number, now: number): Replacement[] {
    const started: Replacement[] = [];
    let running = this.items.filter((r) => r.startedAt !== undefined).length;
    for (const r of this.items) {
      if (running >= surge) break;
      if (r.startedAt !== undefined || this.items.some((x) => x !== r && x.startedAt !== undefined && x.old.id === r.old.id)) continue;
      r.startedAt = now;
      running++;
      started.push(r);
    }
    return started;
  }

  /** Replacements whose successor (same id and generation, not the old one) has been ready for the grace: the old one can go. */
  done(workers: readonly WorkerHandle[], graceMs: number, now: number): Replacement[] {
    const out = this.items.filter((r) => r.startedAt !== undefined && successorOf(r, workers)?.readyAt !== undefined && now - successorOf(r, workers)!.readyAt! >= graceMs);
    this.items = this.items.filter((r) => !out.includes(r));
    return out;
  }

  /** Hung workers (watchdog) whose successor is not ready `limitMs` after it was let start: they go anyway. */
  overdue(now: number, limitMs: number): Replacement[] {
    const out = this.items.filter((r) => r.reason === "watchdog" && r.startedAt !== undefined && now - r.startedAt >= limitMs);
    this.items = this.items.filter((r) => !out.includes(r));
    return out;
  }

  /** Forgets replacements that `keep` no longer wants (the old worker exited, a reload took over). */
  prune(keep: (r: Replacement) => boolean): Replacement[] {
    const gone = this.items.filter((r) => !keep(r));
    this.items = this.items.filter(keep);
    return gone;
  }

  /** The next time something is due (ms): a grace ending, a hung worker's bound. A query. */
  deadline(workers: readonly WorkerHandle[], graceMs: number, limitMs: number): number {
    let at = Infinity;
    for (const r of this.items) {
      if (r.startedAt === undefined) continue;
      const s = successorOf(r, workers);
      if (s?.readyAt !== undefined) at = Math.min(at, s.readyAt + graceMs);
      if (r.reason === "watchdog") at = Math.min(at, r.startedAt + limitMs);
    }
    return at;
  }
}

/** The new worker that takes r's place: same id and generation, ready or starting, not the old one. */
export function successorOf(r: Replacement, workers: readonly WorkerHandle[]): WorkerHandle | undefined {
  return workers.find((w) => w !== r.old && w.id === r.old.id && w.generation === r.old.generation && w.live && w.startedAt >= r.startedAt!);
}
