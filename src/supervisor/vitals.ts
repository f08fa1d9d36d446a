// What keeps a ready worker in service, and when it must be replaced (issue
// 21): the watchdog (systemd's protocol: WATCHDOG=1 at least every
// WATCHDOG_USEC, WATCHDOG=trigger, WATCHDOG_USEC=… to change its own
// deadline), liveness probes (K failures in a row), and its lifetime
// (--max-worker-lifetime, spread per worker by --max-worker-lifetime-delta
// so they never come due together). Pure: the Program asks it for its
// deadline and what is due, with its own clock.
import type { Config } from "../config/schema.ts";
import { parseHealth, type HealthSpec } from "../net/health.ts";

export type ReplaceReason = "watchdog" | "health" | "lifetime" | "rss";
export const REPLACE_REASONS: readonly ReplaceReason[] = ["watchdog", "health", "lifetime", "rss"];

export type VitalsDue = { kind: "replace"; reason: ReplaceReason; detail: string } | { kind: "probe"; spec: HealthSpec } | undefined;

export class Vitals {
  /** The watchdog's period (ms), 0 when off; the worker may change it (WATCHDOG_USEC=). */
  private watchdogMs: number;
  private lastPing: number;
  private triggered = false;
  private readonly health?: HealthSpec;
  private readonly healthEveryMs: number;
  private readonly healthFailuresMax: number;
  private nextProbeAt: number;
  private probing = false;
  failures = 0;
  private lastFailure = "";
  /** When its lifetime is over (ms), Infinity when there is no limit. */
  readonly lifetimeDueAt: number;

  constructor(
    cfg: Config,
    private readonly readyAt: number,
    id: number,
    count: number,
  ) {
    this.watchdogMs = cfg.watchdog * 1000;
    this.lastPing = readyAt;
    this.health = cfg.health ? parseHealth(cfg.health) : undefined;
    this.healthEveryMs = cfg["health-interval"] * 1000;
    this.healthFailuresMax = cfg["health-failures"];
    // The first probe one interval after ready: readiness just proved it answers.
    this.nextProbeAt = readyAt + this.healthEveryMs;
    const life = cfg["max-worker-lifetime"];
    const spread = count > 1 ? (((id - 1) % count) / count) * cfg["max-worker-lifetime-delta"] : 0;
    this.lifetimeDueAt = life > 0 ? readyAt + (life + spread) * 1000 : Infinity;
  }

  /** Anything to watch at all (no vitals, no timers). */
  static wanted(cfg: Config): boolean {
    return cfg.watchdog > 0 || cfg.health !== "" || cfg["max-worker-lifetime"] > 0;
  }

  /** The next time it needs the master (ms), Infinity for none. A query: it changes nothing. */
  deadline(): number {
    let at = this.lifetimeDueAt;
    if (this.triggered) return -Infinity;
    if (this.watchdogMs > 0) at = Math.min(at, this.lastPing + this.watchdogMs);
    if (this.health && !this.probing) at = Math.min(at, this.nextProbeAt);
    return at;
  }

  /** What is due at `now`: a replacement (with why), or a probe to start (it is then in flight). */
  due(now: number): VitalsDue {
    if (this.triggered) return { kind: "replace", reason: "watchdog", detail: "it asked to be replaced (WATCHDOG=trigger)" };
    if (this.watchdogMs > 0 && now >= this.lastPing + this.watchdogMs) {
      return { kind: "replace", reason: "watchdog", detail: `silent for ${((now - this.lastPing) / 1000).toFixed(1)}s (no WATCHDOG=1 within ${this.watchdogMs / 1000}s)` };
    }
    if (now >= this.lifetimeDueAt) return { kind: "replace", reason: "lifetime", detail: `up ${((now - this.readyAt) / 1000).toFixed(0)}s, its lifetime is over (--max-worker-lifetime)` };
    if (this.health && !this.probing && now >= this.nextProbeAt) {
      this.probing = true;
      return { kind: "probe", spec: this.health };
    }
    return undefined;
  }

  /** sd_notify from the worker: WATCHDOG=1, WATCHDOG=trigger, WATCHDOG_USEC=N. */
  notify(fields: Map<string, string>, now: number) {
    const w = fields.get("WATCHDOG");
    if (w === "1") this.lastPing = now;
    if (w === "trigger") this.triggered = true;
    // Digits only, as systemd's safe_atou64 reads it: "" or "abc" is ignored, not 0 (which turns the watchdog off).
    const usec = fields.get("WATCHDOG_USEC");
    if (usec !== undefined && /^[0-9]+$/.test(usec)) {
      this.watchdogMs = Number(usec) / 1000;
      this.lastPing = now; // systemd restarts the timer with the new value
    }
  }

  /** A probe came back: a replacement once K failures are in a row. */
  probed(ok: boolean, detail: string, now: number): VitalsDue {
    this.probing = false;
    this.nextProbeAt = now + this.healthEveryMs;
    if (ok) {
      this.failures = 0;
      return undefined;
    }
    this.failures++;
    this.lastFailure = detail;
    if (this.failures < this.healthFailuresMax) return undefined;
    return { kind: "replace", reason: "health", detail: `${this.failures} health checks failed in a row, last: ${this.lastFailure}` };
  }
}
