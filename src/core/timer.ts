// setTimeout and setInterval take at most 2^31-1 ms (about 24.8 days). A
// longer delay (a --max-worker-lifetime of a year, a --check-interval typed
// in ms, a worker's WATCHDOG_USEC of 10^23) fires after 1 ms instead, with a
// TimeoutOverflowWarning written straight to stderr each time: a timer that
// spins and a master that floods its own log. Delays are capped here; a
// timer that fires before its deadline finds nothing due and is armed again.

/** The longest delay a timer takes as it is. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** `ms` as a timer can take it: at least 0, at most MAX_TIMER_MS. */
export const timerDelay = (ms: number): number => Math.min(Math.max(0, ms), MAX_TIMER_MS);
