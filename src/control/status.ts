// The status report: what `sup status`, `sup status --json` and USR1 show.
import { readFileSync } from "node:fs";
import type { Arbiter } from "../master/arbiter.ts";
import type { LastReload } from "../master/reload.ts";
import { CRASH_LOOP_AFTER } from "../master/backoff.ts";

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

export interface StatusReport {
  master: { pid: number; uptime: number; generation: number; target: number; stopping: boolean; reloading: boolean; lastReload?: LastReload };
  workers: WorkerStatus[];
  crashing: { id: number; failures: number; lastExit?: string; lastStderr: string[]; waitingForChange: boolean }[];
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

export function buildStatus(arb: Arbiter, now: number): StatusReport {
  const workers = arb.workers
    .map((w) => ({
      id: w.id,
      pid: w.pid,
      generation: w.generation,
      state: w.candidate ? `${w.state} (new)` : w.state,
      uptime: Math.round((now - w.startedAt) / 100) / 10,
      restarts: arb.slots.get(w.id)?.restarts ?? 0,
      rss: rssOf(w.pid),
      lastExit: arb.slots.get(w.id)?.lastExit,
      status: w.statusText,
    }))
    .sort((a, b) => a.id - b.id || a.generation - b.generation);
  const crashing = [...arb.slots.values()]
    .filter((s) => s.failures >= CRASH_LOOP_AFTER)
    .map((s) => ({ id: s.id, failures: s.failures, lastExit: s.lastExit, lastStderr: s.lastStderr, waitingForChange: s.respawnAt === Infinity }));
  return {
    master: {
      pid: arb.deps.masterPid,
      uptime: Math.round((now - arb.startedAt) / 100) / 10,
      generation: arb.generation,
      target: arb.target,
      stopping: !!arb.stopping,
      reloading: !!arb.reloads.tx,
      lastReload: arb.reloads.last,
    },
    workers,
    crashing,
  };
}

const mb = (b: number) => (b ? `${(b / 1048576).toFixed(1)}M` : "-");

/** Human table, one line per worker (also what USR1 logs). */
export function statusTable(r: StatusReport): string[] {
  const m = r.master;
  const lines = [`master pid ${m.pid} up ${m.uptime}s gen ${m.generation} workers ${r.workers.length}/${m.target}${m.reloading ? " (reloading)" : ""}${m.stopping ? " (stopping)" : ""}`];
  if (m.lastReload) lines.push(`last reload ${new Date(m.lastReload.at).toISOString()} (${m.lastReload.reason}): ${m.lastReload.ok ? "ok" : "failed"}: ${m.lastReload.message.split("\n")[0]}`);
  lines.push(`${"ID".padEnd(4)}${"PID".padEnd(9)}${"GEN".padEnd(5)}${"STATE".padEnd(16)}${"UPTIME".padEnd(9)}${"RESTARTS".padEnd(10)}RSS`);
  for (const w of r.workers) lines.push(`${String(w.id).padEnd(4)}${String(w.pid).padEnd(9)}${String(w.generation).padEnd(5)}${w.state.padEnd(16)}${`${w.uptime}s`.padEnd(9)}${String(w.restarts).padEnd(10)}${mb(w.rss)}`);
  for (const c of r.crashing) {
    lines.push(`worker ${c.id}: crash loop, ${c.failures} exits in a row, last ${c.lastExit ?? "?"}${c.waitingForChange ? ", waiting for changes" : ""}`);
    for (const l of c.lastStderr.slice(-5)) lines.push(`    ${l}`);
  }
  return lines;
}
