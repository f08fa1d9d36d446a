// Respawn delays for a crashing worker. gunicorn respawns a command that
// exits at once 14-20 times a second and uWSGI about once a second; sup
// doubles from 0.1 s up to a cap, which makes 7 spawns in the first 10 s.

export const BACKOFF_BASE = 0.1;
/** A worker that stayed up this long (seconds) starts its count afresh. */
export const BACKOFF_RESET_AFTER = 10;
/** After this many exits in a row the worker is reported as in a crash loop. */
export const CRASH_LOOP_AFTER = 5;

/** Delay in seconds before the respawn that follows the n-th failure in a row (n ≥ 1). */
export function backoffDelay(failures: number, max: number): number {
  if (failures <= 0) return 0;
  return Math.min(BACKOFF_BASE * 2 ** (failures - 1), max);
}

/** The failure count after a worker that lived `uptime` seconds exited. */
export function nextFailures(failures: number, uptime: number): number {
  return uptime >= BACKOFF_RESET_AFTER ? 1 : failures + 1;
}
