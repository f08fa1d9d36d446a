// The master's signal policy as one table (unicorn's `case`, as data),
// mirrored for users in SIGNALS.md. Handlers only push the signal as an
// event; the arbiter runs the one method the table names (gunicorn's
// handle_<sig>), so every decision, the second INT's included, is made in
// the loop with the loop's state.

export type SignalAction = "gracefulReload" | "rollingReload" | "terminate" | "interrupt" | "quit" | "reopenLogs" | "scaleUp" | "scaleDown";

export const SIGNAL_TABLE = {
  SIGHUP: "gracefulReload",
  SIGUSR2: "rollingReload",
  SIGTERM: "terminate",
  SIGINT: "interrupt",
  SIGQUIT: "quit",
  SIGUSR1: "reopenLogs", // then the status table, as uWSGI's USR1 (SIGNALS.md says why both)
  SIGTTIN: "scaleUp",
  SIGTTOU: "scaleDown",
} as const satisfies Record<string, SignalAction>;

export type MasterSignal = keyof typeof SIGNAL_TABLE;
export const MASTER_SIGNALS = Object.keys(SIGNAL_TABLE) as MasterSignal[];
