// sd_notify(3) to the service manager that started sup (Type=notify):
// READY=1 when the first generation is ready, RELOADING=1 and READY=1
// around a reload (Type=notify-reload semantics), STOPPING=1 on stop.
import { CLOCK_MONOTONIC, libc } from "../native/libc.ts";
import { sdNotify } from "./notify.ts";

export type Lifecycle = "ready" | "reloading" | "reloaded" | "stopping";

/**
 * CLOCK_MONOTONIC in µs, as RELOADING=1 wants it (systemd.service(5)).
 * Not process.hrtime: Bun's counts from process start, not from boot.
 */
export function monotonicUsec(): bigint {
  const ts = new BigInt64Array(2); // struct timespec { tv_sec; tv_nsec } on 64-bit Linux
  libc.clock_gettime(CLOCK_MONOTONIC, ts);
  return ts[0]! * 1_000_000n + ts[1]! / 1000n;
}

export function notifySystemd(what: Lifecycle, detail: string, env = process.env): void {
  if (!env.NOTIFY_SOCKET) return;
  switch (what) {
    case "ready":
      sdNotify(`READY=1\nMAINPID=${process.pid}\nSTATUS=${detail}`, env);
      return;
    case "reloading":
      sdNotify(`RELOADING=1\nMONOTONIC_USEC=${monotonicUsec()}\nSTATUS=reloading (${detail})`, env);
      return;
    case "reloaded":
      sdNotify(`READY=1\nSTATUS=${detail}`, env);
      return;
    case "stopping":
      sdNotify(`STOPPING=1\nSTATUS=stopping (${detail})`, env);
      return;
  }
}
