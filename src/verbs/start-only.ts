// What a reload cannot change in a running master.
import type { Config } from "../config/schema.ts";
import type { Logger } from "../supervisor/world.ts";

/**
 * Options the master reads at start only (the stats server's address, the
 * log file): a reload that changes them is told so once, instead of
 * silently keeping the old ones.
 */
export class StartOnly {
  private static readonly KEYS = ["stats", "logto", "log-maxsize", "touch-logreopen"] as const;
  private said = "";
  constructor(
    private readonly atStart: Config,
    private readonly log: Logger,
  ) {}
  check(next: Config) {
    const changed = StartOnly.KEYS.filter((k) => JSON.stringify(next[k]) !== JSON.stringify(this.atStart[k]));
    const what = changed.map((k) => `${k} = ${JSON.stringify(next[k])}`).join(", ");
    if (what === this.said) return;
    this.said = what;
    if (changed.length) this.log.warn(`reload: ${what}: read at start only; the master keeps ${changed.map((k) => `${k} = ${JSON.stringify(this.atStart[k])}`).join(", ")} until it is restarted`, { event: "config.start-only" });
  }
}

