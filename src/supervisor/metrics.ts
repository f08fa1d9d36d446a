// Counters of what happened to the master (issue 22): reloads by trigger
// and result with their durations, crashes and crash loops per worker,
// replacements by reason. Plain numbers that Program and Loop bump in one
// line where the event happens; the stats server reads a copy through a
// "stats" event on the loop (snapshot()), never this object itself.
// Gauges (workers by state, generation, memory) are not kept here: they
// are read from the status report when asked.
import type { StatusReport } from "../control/status.ts";
import type { Serving } from "./serving.ts";

/** How a program's reload ended. */
export type ReloadOutcome = "done" | "rolled_back" | "failed" | "outage" | "cancelled";
export const RELOAD_OUTCOMES: readonly ReloadOutcome[] = ["done", "rolled_back", "failed", "outage", "cancelled"];

/** What asked for a reload, from its reason ("signal HUP", "control: sup reload", "touch: f", "autoreload: f"). */
export type ReloadTrigger = "signal" | "control" | "touch" | "autoreload" | "other";
export const RELOAD_TRIGGERS: readonly ReloadTrigger[] = ["signal", "control", "touch", "autoreload", "other"];

/**
 * Upper bounds (seconds) of the reload duration histogram: a delay:1
 * readiness plus the 3 s grace is ~4 s, a Django app under gunicorn 5-15 s,
 * a rolling reload of 16 workers a minute or more.
 */
export const RELOAD_BUCKETS = [0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300];

export interface Histogram {
  /** counts[i]: observations ≤ RELOAD_BUCKETS[i] (cumulative, as Prometheus exposes them). */
  counts: number[];
  sum: number;
  count: number;
}

/** A copy of every counter, keyed by program (and the other labels joined by "\0"). */
export interface MetricsSnapshot {
  /** `program\0trigger\0outcome` → reloads. */
  reloads: Map<string, number>;
  /** program → reload durations. */
  reloadSeconds: Map<string, Histogram>;
  /** `program\0worker id` → exits it did not ask for (and spawns that failed). */
  crashes: Map<string, number>;
  /** `program\0worker id` → times that id entered a crash loop. */
  crashLoops: Map<string, number>;
  /** `program\0reason` → workers replaced while running (watchdog, health, lifetime, rss: upkeep.ts; ready-timeout). */
  replacements: Map<string, number>;
}

export function triggerOf(reason: string): ReloadTrigger {
  const word = /^(signal|control|touch|autoreload)\b/.exec(reason)?.[1];
  return (word as ReloadTrigger | undefined) ?? "other";
}

const key = (...parts: (string | number)[]) => parts.join("\0");
const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

export class Metrics {
  private readonly reloads = new Map<string, number>();
  private readonly reloadSeconds = new Map<string, Histogram>();
  private readonly crashes = new Map<string, number>();
  private readonly crashLoops = new Map<string, number>();
  private readonly replacements = new Map<string, number>();

  /** A program's reload ended, `seconds` after it was asked for. */
  reload(program: string, reason: string, outcome: ReloadOutcome, seconds: number) {
    bump(this.reloads, key(program, triggerOf(reason), outcome));
    let h = this.reloadSeconds.get(program);
    if (!h) this.reloadSeconds.set(program, (h = { counts: RELOAD_BUCKETS.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < RELOAD_BUCKETS.length; i++) if (seconds <= RELOAD_BUCKETS[i]!) h.counts[i]!++;
    h.sum += seconds;
    h.count++;
  }

  crash(program: string, id: number) {
    bump(this.crashes, key(program, id));
  }

  crashLoop(program: string, id: number) {
    bump(this.crashLoops, key(program, id));
  }

  replaced(program: string, reason: string) {
    bump(this.replacements, key(program, reason));
  }

  snapshot(): MetricsSnapshot {
    const copy = (m: Map<string, number>) => new Map(m);
    return {
      reloads: copy(this.reloads),
      reloadSeconds: new Map([...this.reloadSeconds].map(([k, h]) => [k, { counts: [...h.counts], sum: h.sum, count: h.count }])),
      crashes: copy(this.crashes),
      crashLoops: copy(this.crashLoops),
      replacements: copy(this.replacements),
    };
  }
}

/** The loop's answer to the stats server: the readiness verdict, and for /metrics and /status the rest. */
export interface StatsAnswer {
  serving: Serving;
  draining?: boolean;
  /** The status report without memory (the stats server reads RSS and CPU itself, cached). */
  report?: StatusReport;
  metrics?: MetricsSnapshot;
}
