// Everything that can happen to the master, as data. Producers (signal
// handlers, the deadline timer, worker exits and output, the notify socket,
// probes, config loads, the control socket, file triggers) push these; only
// the arbiter loop acts on them.
import type { Config, Setup } from "../config/schema.ts";
import type { StatusReport } from "../control/status.ts";
import type { WorkerHandle } from "../processes/handle.ts";
import type { ReloadTarget } from "./reload-run.ts";
import type { MasterSignal } from "./signals.ts";
import type { StatsAnswer } from "./metrics.ts";

export interface ReloadResult {
  ok: boolean;
  generation: number;
  message: string;
  /** Failed with nothing serving (stop-first): `sup reload --wait` exits 3, not 1. */
  outage?: boolean;
}

export type Event =
  | { type: "signal"; sig: MasterSignal }
  | { type: "timer" }
  | { type: "exit"; worker: WorkerHandle; code: number | null; signal: string | null }
  /** sd_notify text from the notify socket (sender pid and uid) or a worker's notify pipe. */
  | { type: "notify"; text: string; worker?: WorkerHandle; pid?: number; uid?: number }
  | { type: "probe"; worker: WorkerHandle; ok: boolean }
  /** A liveness probe of a ready worker came back (--health). */
  | { type: "health"; worker: WorkerHandle; ok: boolean; detail: string }
  | { type: "config"; seq: number; config?: Config | Setup; error?: string }
  /** targets: every program ("all", the default), those whose config changed ("changed"), or these names. */
  | { type: "reload"; reason: string; rolling: boolean; reply?: (r: ReloadResult) => void; targets?: ReloadTarget }
  /** sup stop|start|restart NAME. */
  | { type: "program"; op: "stop" | "start" | "restart"; name: string; reply?: (r: { ok: boolean; message: string }) => void }
  | { type: "stop"; reason: string; now: boolean }
  | { type: "scale"; delta: number; reason: string }
  | { type: "status"; reply?: (s: StatusReport) => void; memory?: boolean } // no reply: log the table (USR1); memory false: no /proc reads
  /** The stats server asks (sources/stats.ts): the readiness verdict, and with `full` the report and counters. */
  | { type: "stats"; full: boolean; reply: (a: StatsAnswer) => void }
  /** USR1, `sup reopen-logs`, --touch-logreopen: open the --logto file again. */
  | { type: "reopen"; reason: string; reply?: (r: { ok: boolean; message: string }) => void }
  /** SIGCHLD: a child changed state; reparented orphans may wait to be reaped. */
  | { type: "child" }
  /** Nothing happened: converge again (a step had more to spawn than it may do at once). */
  | { type: "converge" }
  /** A bug in sup's own code, caught outside the loop (a callback): the loop stops the workers and exits 70. */
  | { type: "fault"; error: unknown };
