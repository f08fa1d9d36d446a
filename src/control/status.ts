// The status report: what `sup status`, `sup status --json` and USR1 show.
import { readFileSync } from "node:fs";
import type { Slot } from "../supervisor/slots.ts";
import { CRASH_LOOP_AFTER } from "../core/backoff.ts";

export interface WorkerStatus {
  id: number;
  pid: number;
  generation: number;
  state: string; // starting | ready | stopping | crashloop | waiting
  uptime: number; // seconds
  restarts: number;
  rss: number; // bytes, 0 when unknown
  lastExit?: string;
  status?: string; // its sd_notify STATUS=
}

/** How the master stops a worker's whole tree, and its guard (processes/cgroup.ts, processes/guard.ts). */
export interface Containment {
  /** "cgroup /sys/fs/cgroup/…/sup-PID" or "process groups + subreaper". */
  killMode: string;
  guard?: { pid: number; kind: string };
}

export interface StatusReport {
  master: { pid: number; uptime: number; generation: number; target: number; stopping: boolean; reloading: boolean; lastReload?: LastReload } & Partial<Containment>;
  workers: WorkerStatus[];
  crashing: { id: number; failures: number; lastExit?: string; lastStderr: string[]; waitingForChange: boolean }[];
}

/** The last reload, as status shows it. */
export interface LastReload {
  reason: string;
  at: number; // epoch ms
  ok: boolean;
  generation: number;
  message: string;
}

const PAGE = 4096;

/** Resident memory of a pid from /proc (Linux), 0 elsewhere. */
export function rssOf(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]) * PAGE;
  } catch {
    return 0;
  }
}

/** What the arbiter knows, as plain data (the status module does not know the arbiter). */
export interface StatusInput {
  masterPid: number;
  uptime: number; // s
  generation: number;
  target: number;
  stopping: boolean;
  reloading: boolean;
  lastReload?: LastReload;
  workers: { id: number; pid: number; generation: number; state: string; uptime: number; status?: string }[];
  slots: Slot[];
  containment?: Containment;
}

const tenths = (s: number) => Math.round(s * 10) / 10;

export function buildStatus(s: StatusInput): StatusReport {
  const slot = new Map(s.slots.map((x) => [x.id, x]));
  const workers = s.workers
    .map((w) => ({
      id: w.id,
      pid: w.pid,
      generation: w.generation,
      state: w.state,
      uptime: tenths(w.uptime),
      restarts: slot.get(w.id)?.restarts ?? 0,
      rss: rssOf(w.pid),
      lastExit: slot.get(w.id)?.lastExit,
      status: w.status,
    }))
    .sort((a, b) => a.id - b.id || a.generation - b.generation);
  const crashing = s.slots
    .filter((x) => x.failures >= CRASH_LOOP_AFTER)
    .map((x) => ({ id: x.id, failures: x.failures, lastExit: x.lastExit, lastStderr: x.lastStderr, waitingForChange: x.respawnAt === Infinity }));
  return {
    master: { pid: s.masterPid, uptime: tenths(s.uptime), generation: s.generation, target: s.target, stopping: s.stopping, reloading: s.reloading, lastReload: s.lastReload, ...s.containment },
    workers,
    crashing,
  };
}

const mb = (b: number) => (b ? `${(b / 1048576).toFixed(1)}M` : "-");

/** Human table, one line per worker (also what USR1 logs). */
export function statusTable(r: StatusReport): string[] {
  const m = r.master;
  const lines = [`master pid ${m.pid} up ${m.uptime}s gen ${m.generation} workers ${r.workers.length}/${m.target}${m.reloading ? " (reloading)" : ""}${m.stopping ? " (stopping)" : ""}`];
  if (m.killMode) lines.push(`kill mode: ${m.killMode}${m.guard ? `; guard pid ${m.guard.pid} (${m.guard.kind})` : ""}`);
  if (m.lastReload) lines.push(`last reload ${new Date(m.lastReload.at).toISOString()} (${m.lastReload.reason}): ${m.lastReload.ok ? "ok" : "failed"}: ${m.lastReload.message.split("\n")[0]}`);
  lines.push(`${"ID".padEnd(4)}${"PID".padEnd(9)}${"GEN".padEnd(5)}${"STATE".padEnd(16)}${"UPTIME".padEnd(9)}${"RESTARTS".padEnd(10)}${"RSS".padEnd(8)}STATUS`);
  for (const w of r.workers) lines.push(`${String(w.id).padEnd(4)}${String(w.pid).padEnd(9)}${String(w.generation).padEnd(5)}${w.state.padEnd(16)}${`${w.uptime}s`.padEnd(9)}${String(w.restarts).padEnd(10)}${mb(w.rss).padEnd(8)}${w.status ?? ""}`.trimEnd());
  for (const c of r.crashing) {
    lines.push(`worker ${c.id}: crash loop, ${c.failures} exits in a row, last ${c.lastExit ?? "?"}${c.waitingForChange ? ", waiting for changes" : ""}`);
    for (const l of c.lastStderr.slice(-5)) lines.push(`    ${l}`);
  }
  return lines;
}
