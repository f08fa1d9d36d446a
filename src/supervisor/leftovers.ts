// What a worker leaves behind when it exits: the rest of its process group,
// and processes that left the group (setsid, a double fork) and came back to
// the master, which is their subreaper; in cgroup mode, all that is left in
// its cgroup. They get TERM, and SIGKILL after the worker's mercy (systemd's
// KillMode=control-group). Liveness is checked at
// growing intervals, never by a full /proc scan: with the master reaping
// every orphan, kill(2) with signal 0 is a true answer.

/** First re-check of a leftover, doubling up to the cap (ms). */
const CHECK_MIN_MS = 20;
const CHECK_MAX_MS = 1000;

/** A process group (kill -pgid), one process, or a worker's cgroup (its directory). */
export type LeftoverKind = "group" | "pid" | "cgroup";

export interface Leftover {
  kind: LeftoverKind;
  target: number | string;
  label: string;
  killAt: number;
  checkAt: number;
  step: number;
}

export type SignalFn = (kind: LeftoverKind, target: number | string, sig: NodeJS.Signals | 0) => boolean;

export class Leftovers {
  private items: Leftover[] = [];

  constructor(
    private readonly signal: SignalFn,
    /** Told when a leftover is gone (the guard stops watching it). */
    private readonly onGone: (kind: LeftoverKind, target: number | string) => void = () => {},
  ) {}

  get size(): number {
    return this.items.length;
  }

  has(kind: LeftoverKind, target: number | string): boolean {
    return this.items.some((l) => l.kind === kind && l.target === target);
  }

  /** Sends TERM now; SIGKILL at killAt (0: at once) if it is still there. */
  add(kind: LeftoverKind, target: number | string, label: string, now: number, killAt: number, sig: NodeJS.Signals = "SIGTERM") {
    if (this.has(kind, target)) return;
    if (!this.signal(kind, target, killAt <= now ? "SIGKILL" : sig)) return this.onGone(kind, target); // already gone
    this.items.push({ kind, target, label, killAt, checkAt: now + CHECK_MIN_MS, step: CHECK_MIN_MS });
  }

  deadline(): number {
    let at = Infinity;
    for (const l of this.items) at = Math.min(at, l.checkAt, l.killAt < 0 ? Infinity : l.killAt);
    return at;
  }

  /** Drops what is gone; SIGKILLs what outlived its mercy. Returns the labels killed. */
  check(now: number): string[] {
    const killed: string[] = [];
    this.items = this.items.filter((l) => {
      if (!this.signal(l.kind, l.target, 0)) {
        this.onGone(l.kind, l.target);
        return false;
      }
      if (l.killAt >= 0 && now >= l.killAt) {
        this.signal(l.kind, l.target, "SIGKILL");
        killed.push(l.label);
        l.killAt = -1; // sent; keep checking until it is gone
      }
      if (now >= l.checkAt) {
        l.step = Math.min(l.step * 2, CHECK_MAX_MS);
        l.checkAt = now + l.step;
      }
      return true;
    });
    return killed;
  }

  /** An immediate stop: everything gets SIGKILL now. */
  killAll(now: number) {
    for (const l of this.items) {
      if (l.killAt !== -1) l.killAt = now;
    }
  }
}
