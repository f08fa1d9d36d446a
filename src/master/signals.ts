// The master's signal policy as one table (unicorn's `case`, as data),
// mirrored for users in SIGNALS.md. Handlers only turn a signal into an event.
import type { Event } from "./events.ts";

export type SignalAction =
  | { kind: "reload"; rolling: boolean }
  | { kind: "stop"; now: boolean }
  | { kind: "interrupt" } // graceful stop; a second one stops at once
  | { kind: "status" }
  | { kind: "scale"; delta: number };

export const SIGNAL_TABLE = {
  SIGHUP: { kind: "reload", rolling: false },
  SIGUSR2: { kind: "reload", rolling: true },
  SIGTERM: { kind: "stop", now: false },
  SIGINT: { kind: "interrupt" },
  SIGQUIT: { kind: "stop", now: true },
  SIGUSR1: { kind: "status" },
  SIGTTIN: { kind: "scale", delta: 1 },
  SIGTTOU: { kind: "scale", delta: -1 },
} as const satisfies Record<string, SignalAction>;

export type MasterSignal = keyof typeof SIGNAL_TABLE;
export const MASTER_SIGNALS = Object.keys(SIGNAL_TABLE) as MasterSignal[];

/** The event a signal means, given whether a stop is already under way. */
export function eventForSignal(sig: MasterSignal, stopping: boolean): Event {
  const action: SignalAction = SIGNAL_TABLE[sig];
  const reason = `signal ${sig.slice(3)}`;
  switch (action.kind) {
    case "reload":
      return { type: "reload", reason, rolling: action.rolling };
    case "stop":
      return { type: "stop", reason, now: action.now };
    case "interrupt":
      return { type: "stop", reason, now: stopping };
    case "status":
      return { type: "status" };
    case "scale":
      return { type: "scale", delta: action.delta, reason };
  }
}
