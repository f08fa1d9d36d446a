// One reload request as the Loop runs it (reloads.ts): the config is loaded
// once (off the loop), then each target program reloads in turn, one after
// another, and the replies get one result for all. Requests that arrive
// meanwhile join the one queued run (at most one), whatever their number.
import type { Config } from "../config/schema.ts";
import type { ReloadResult } from "./events.ts";

/**
 * Which programs a reload is for: every one (sup reload), those whose
 * config changed (SIGHUP), or these by name (sup reload web, a trigger).
 */
export type ReloadTarget = "all" | "changed" | string[];

const RANK = { named: 0, changed: 1, all: 2 } as const;

export class ReloadRun {
  readonly replies: ((r: ReloadResult) => void)[] = [];
  mode: keyof typeof RANK;
  /** Programs asked for by name (on top of what the mode takes). */
  readonly names = new Set<string>();
  /** The loaded config (each program's), or why it could not be loaded. */
  loaded?: { configs?: Map<string, Config>; error?: string };
  /** Programs still to reload, in order. */
  queue: string[] = [];
  /** The program whose reload runs now. */
  current?: unknown;
  /** True while a program's reload is being begun (its refusal ends it at once, inside the call). */
  beginning = false;
  readonly results = new Map<string, ReloadResult>();

  constructor(
    readonly seq: number,
    readonly reason: string,
    public rolling: boolean,
    targets: ReloadTarget,
    readonly startedAt: number,
  ) {
    this.mode = Array.isArray(targets) ? "named" : targets;
    if (Array.isArray(targets)) for (const t of targets) this.names.add(t);
  }

  /** A later request joins this (queued) run: rolling if any asked, every target any asked. */
  join(rolling: boolean, targets: ReloadTarget, reply?: (r: ReloadResult) => void) {
    this.rolling ||= rolling;
    const mode = Array.isArray(targets) ? "named" : targets;
    if (RANK[mode] > RANK[this.mode]) this.mode = mode;
    if (Array.isArray(targets)) for (const t of targets) this.names.add(t);
    if (reply) this.replies.push(reply);
  }

  /** What to ask for again when this run was the queued one. */
  get targets(): ReloadTarget {
    return this.mode === "named" ? [...this.names] : this.mode;
  }

  /** One result for every program it reloaded: the only one's, or each named. */
  result(generation: number): ReloadResult {
    const all = [...this.results];
    if (all.length === 0) return this.loaded?.error ? { ok: false, generation, message: this.loaded.error } : { ok: true, generation, message: "no program changed" };
    if (all.length === 1) return all[0]![1];
    return {
      ok: all.every(([, r]) => r.ok),
      outage: all.some(([, r]) => r.outage),
      generation: all[0]![1].generation,
      message: all.map(([name, r]) => `${name}: ${r.message}`).join("; "),
    };
  }
}
