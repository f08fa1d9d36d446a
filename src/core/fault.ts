// Where a bug in sup's own code goes when it is thrown outside the master's
// loop (in a callback: a timer, a stream, a socket handler). While a master
// runs, its loop takes it as an event and stops the workers before exiting
// 70; anywhere else (a client verb, start-up) there is nothing to stop.
let sink: ((e: unknown) => void) | undefined;

/** The running master's loop takes faults from now on (undefined: none does). */
export function setFaultSink(fn: ((e: unknown) => void) | undefined): void {
  sink = fn;
}

/** Hands a fault to the loop; false when no loop runs. */
export function reportFault(e: unknown): boolean {
  if (!sink) return false;
  sink(e);
  return true;
}
