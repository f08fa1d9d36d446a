// One reload request as the Loop runs it: the config is loaded once (off the
// loop), then each target program reloads in turn, one after another, and
// the replies get one result for all. Requests that arrive meanwhile join
// the one queued run (at most one), whatever their number.
import type { Config } from "../config/schema.ts";
import type { ReloadResult } from "./events.ts";

/** Which programs a reload is for: every one, or these by name. */
export type ReloadTarget = "all" | string[];

export class ReloadRun {
  readonly replies: ((r: ReloadResult) => void)[] = [];
  /** The loaded config, once the load came back. */
  loaded?: { config?: Config; error?: string };
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
    public targets: ReloadTarget,
    readonly startedAt: number,
  ) {}

  /** A later request joins this (queued) run: rolling if any asked, every target any asked. */
  join(rolling: boolean, targets: ReloadTarget, reply?: (r: ReloadResult) => void) {
    this.rolling ||= rolling;
    if (this.targets !== "all") this.targets = targets === "all" ? "all" : [...new Set([...this.targets, ...targets])];
    if (reply) this.replies.push(reply);
  }

  /** One result for every program it reloaded: the only one's, or each named. */
  result(generation: number): ReloadResult {
    const all = [...this.results];
    if (all.length === 0) return { ok: false, generation, message: this.loaded?.error ?? "no program to reload" };
    if (all.length === 1) return all[0]![1];
    return {
      ok: all.every(([, r]) => r.ok),
      generation: all[0]![1].generation,
      message: all.map(([name, r]) => `${name}: ${r.message}`).join("; "),
    };
  }
}
