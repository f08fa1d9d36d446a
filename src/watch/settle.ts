// When a storm of file changes is over: the reload waits until the tree has
// been quiet for `settle` ms, but never more than `maxWait` ms after the first
// change, so an endless storm (a log file under the tree, a build in a loop)
// still reloads. nodemon reloads once per file of a `git pull`; this is the
// debounce with a ceiling that watchexec and gunicorn's reloader lack.
//
// Pure: callers pass `now` (ms), tests inject it.

export interface SettleTimes {
  readonly settle: number; // ms of quiet that end a storm
  readonly maxWait: number; // ms after the first change when the reload goes regardless
}

/** The ceiling used by sup: ten times the settle time, at least 5 s. */
export function maxWaitFor(settleMs: number): number {
  return Math.max(10 * settleMs, 5000);
}

export class Settle {
  private first: number | null = null;
  private last = 0;
  private held = 0;

  constructor(private readonly times: SettleTimes) {}

  /** A scan found changes, the latest made at `at` (ms; a file's ctime can say it was before the scan). */
  changed(at: number): void {
    if (this.first === null) {
      this.first = at;
      this.last = at;
    } else this.last = Math.max(this.last, at);
  }

  /** The storm is not over before `until` (ms; 0 = no hold), whatever the quiet: a file is half written, or gone and may come back (events engine). The maximum wait still holds. */
  hold(until: number): void {
    if (this.first !== null) this.held = until;
  }

  /** Changes are collected and not yet taken. */
  pending(): boolean {
    return this.first !== null;
  }

  /** The storm is over (quiet for `settle`) or has lasted `maxWait`. */
  due(now: number): boolean {
    if (this.first === null) return false;
    return (now - this.last >= this.times.settle && now >= this.held) || now - this.first >= this.times.maxWait;
  }

  /** When `due` turns true if nothing else changes; null when nothing is pending. */
  dueAt(): number | null {
    if (this.first === null) return null;
    return Math.min(Math.max(this.last + this.times.settle, this.held), this.first + this.times.maxWait);
  }

  /** The reload was requested: start over. */
  take(): void {
    this.first = null;
    this.held = 0;
  }
}
