// When is a new worker ready? (DESIGN.md §4, `--ready`) notify: it said
// READY=1 (on the notify socket or pipe; arrives as an event); tcp/http: a
// probe of its own port answered (probes run off the loop and come back as
// events); delay: it stayed alive that long. Each starting worker has one
// ReadyWatch that says when it next needs the master: the delay's end, the
// next probe, the ready timeout. The arbiter folds those into its one timer.
import type { ReadySpec } from "../net/probe.ts";

/** Time between probes of one starting worker. */
export const PROBE_EVERY_MS = 100;

export type ReadyDue = { kind: "ready"; how: string } | { kind: "timeout"; seconds: number } | { kind: "probe" } | undefined;

export class ReadyWatch {
  private probing = false;
  private nextProbeAt: number;

  constructor(
    readonly spec: ReadySpec,
    private readonly startedAt: number,
    private readonly timeoutMs: number,
  ) {
    this.nextProbeAt = startedAt;
  }

  /** The next time this watch needs the master (ms), Infinity for none. */
  deadline(): number {
    const timeout = this.startedAt + this.timeoutMs;
    switch (this.spec.kind) {
      case "delay":
        return Math.min(timeout, this.startedAt + this.spec.seconds * 1000);
      case "tcp":
      case "http":
        return this.probing ? timeout : Math.min(timeout, this.nextProbeAt);
      case "notify":
        return timeout;
    }
  }

  /** What is due at `now`: ready by delay, a probe to start, or the timeout. */
  due(now: number): ReadyDue {
    if (now >= this.startedAt + this.timeoutMs) return { kind: "timeout", seconds: this.timeoutMs / 1000 };
    if (this.spec.kind === "delay" && now >= this.startedAt + this.spec.seconds * 1000) return { kind: "ready", how: `alive ${this.spec.seconds}s` };
    if ((this.spec.kind === "tcp" || this.spec.kind === "http") && !this.probing && now >= this.nextProbeAt) {
      this.probing = true;
      return { kind: "probe" };
    }
    return undefined;
  }

  /** A probe came back negative: try again a little later. */
  probeFailed(now: number) {
    this.probing = false;
    this.nextProbeAt = now + PROBE_EVERY_MS;
  }

  /** How the log names a probe that answered. */
  get probeName(): string {
    const s = this.spec;
    return s.kind === "http" ? s.url : s.kind === "tcp" ? `tcp ${s.host}:${s.port}` : s.kind;
  }
}
