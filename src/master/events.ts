// Everything that can happen to the master, as data. Producers push these;
// only the arbiter loop acts on them.
import type { WorkerHandle } from "../worker/handle.ts";
import type { StatusReport } from "../control/status.ts";

export interface ReloadResult {
  ok: boolean;
  generation: number;
  message: string;
}

export type Event =
  | { type: "exit"; worker: WorkerHandle; code: number | null; signal: string | null }
  | { type: "tick" }
  | { type: "ready"; worker: WorkerHandle; how: string }
  | { type: "reload"; reason: string; rolling: boolean; reply?: (r: ReloadResult) => void }
  | { type: "stop"; reason: string; now: boolean }
  | { type: "scale"; delta: number; reason: string }
  | { type: "status"; reply?: (s: StatusReport) => void }; // no reply: log the table (USR1)
