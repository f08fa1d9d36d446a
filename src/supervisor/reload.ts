// One reload from request to its end, as data and decisions (issue 9). The
// arbiter owns the worker table; a Reload only says what the table should
// become: which generation and count are wanted, which ids have switched,
// and, given the candidates' states, what is due next. It never touches a
// worker. A rollback is the arbiter dropping the Reload: what is wanted goes
// back to the slots, and manage() converges to that.
import type { Config } from "../config/schema.ts";
import type { ReloadResult } from "./events.ts";

export type Reply = (r: ReloadResult) => void;

/** What a Reload needs to know of a new worker. */
export interface CandidateView {
  id: number;
  generation: number;
  state: "starting" | "ready" | "stopping" | "exited";
  readyAt?: number; // ms
}

export type ReloadPhase = "loading" | "starting";


export class Reload {
  phase: ReloadPhase = "loading";
  /** The generation it brings; 0 while the config loads. */
  to = 0;
  config?: Config;
  count = 0;
  stopFirst = false;
  /** Rolling: ids already handed to the new generation. */
  readonly switched = new Set<number>();
  /** Rolling: ids whose new worker is ready but still in its grace period (decide() keeps this). */
  private inGrace = new Set<number>();
  readonly replies: Reply[] = [];

  constructor(
    readonly seq: number,
    readonly reason: string,
    public rolling: boolean,
    readonly startedAt: number,
  ) {}

  /** ms a new worker must stay up after it is ready before the old one goes (--reload-grace). */
  graceMs = 0;

  /** The config is loaded and accepted: the new generation may start. */
  begin(generation: number, config: Config, count: number) {
    this.phase = "starting";
    this.graceMs = config["reload-grace"] * 1000;
    this.to = generation;
    this.config = config;
    this.count = count;
    this.stopFirst = config["reload-strategy"] === "stop-first";
  }

  get starting(): boolean {
    return this.phase === "starting";
  }

  /** Ids the new generation takes, in order. */
  ids(): number[] {
    return Array.from({ length: this.count }, (_, i) => i + 1);
  }

  /** Ids not handed over yet. */
  pending(): number[] {
    return this.ids().filter((id) => !this.switched.has(id));
  }

  /**
   * Is id `id` being replaced right now? All at once, or rolling: one new
   * worker starting at a time, lowest id first; the next one may start while
   * the one before it is ready and in its grace period.
   */
  replacing(id: number): boolean {
    if (!this.starting || this.switched.has(id) || id > this.count) return false;
    if (!this.rolling) return true;
    for (const p of this.pending()) {
      if (p === id) return true;
      if (!this.inGrace.has(p)) return false;
    }
    return false;
  }

  /** Stop-first: the old worker of this id must be gone before its replacement starts. */
  stopsFirst(id: number): boolean {
    return this.stopFirst && this.replacing(id);
  }

  /** A new worker counts once it has been ready for the grace period. */
  proven(c: CandidateView, now: number): boolean {
    return c.state === "ready" && c.readyAt !== undefined && now - c.readyAt >= this.graceMs;
  }

  /**
   * What the candidates' states make due: ids to switch now (rolling), or
   * the whole commit, and the next time to look again (a grace ending).
   * Pure: the Loop's deadline query asks this without changing anything.
   */
  peek(candidates: CandidateView[], now: number): { switchIds: number[]; commit: boolean; recheckAt: number; inGrace: Set<number> } {
    const inGrace = new Set<number>();
    if (!this.starting) return { switchIds: [], commit: false, recheckAt: Infinity, inGrace };
    let recheckAt = Infinity;
    const ready = new Set<number>();
    for (const c of candidates) {
      if (c.generation !== this.to || c.state !== "ready" || this.switched.has(c.id)) continue;
      if (this.proven(c, now)) ready.add(c.id);
      else {
        inGrace.add(c.id);
        recheckAt = Math.min(recheckAt, c.readyAt! + this.graceMs);
      }
    }
    const pending = this.pending();
    let switchIds: number[] = [];
    let commit: boolean;
    if (this.rolling) {
      switchIds = pending.filter((id) => ready.has(id));
      commit = pending.length === switchIds.length;
    } else commit = pending.every((id) => ready.has(id));
    // Something is due now: a decision asked for a moment later (by the
    // timer's arming) must find the timer armed for it, not Infinity.
    if (commit || switchIds.length > 0) recheckAt = now;
    return { switchIds, commit, recheckAt, inGrace };
  }

  /** peek(), acted on: remembers which new workers are in their grace (replacing() lets the next rolling id start then). */
  decide(candidates: CandidateView[], now: number): { switchIds: number[]; commit: boolean; recheckAt: number } {
    const { inGrace, ...d } = this.peek(candidates, now);
    this.inGrace = inGrace;
    return d;
  }
}
