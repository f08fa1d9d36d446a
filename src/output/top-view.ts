// What `sup top` shows (uwsgitop's and `pm2 monit`'s view, for every
// program): a master line, a line per program with its generation and
// last reload, and a row per worker, sorted by the key the user chose.
// Pure: the report, two usage readings and the time between them in,
// lines out, so tests check it without a terminal.
import type { StatusReport, WorkerStatus } from "../control/status.ts";
import type { GroupUsage } from "../processes/usage.ts";

export type SortKey = "cpu" | "mem" | "id" | "uptime" | "restarts";
/** The key that picks each sort, shown on screen. */
export const SORT_KEYS: Record<string, SortKey> = { c: "cpu", m: "mem", i: "id", u: "uptime", r: "restarts" };

export interface Frame {
  report: StatusReport;
  usage: Map<number, GroupUsage>;
  /** The reading before, and the seconds between the two (CPU % is their difference). */
  before?: Map<number, GroupUsage>;
  seconds: number;
  sort: SortKey;
  /** Epoch ms, for "12s ago". */
  now: number;
}

const mb = (b: number | undefined) => (b ? `${(b / 1048576).toFixed(1)}M` : "-");

export function duration(s: number): string {
  if (s < 60) return `${Math.floor(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, "0")}h`;
}

/** CPU % of a worker's group over the frame's interval (one core = 100). */
export function cpuPercent(f: Frame, pid: number): number | undefined {
  const now = f.usage.get(pid);
  const then = f.before?.get(pid);
  if (!now || !then || f.seconds <= 0) return undefined;
  return Math.max(0, ((now.cpu - then.cpu) / f.seconds) * 100);
}

function order(f: Frame): WorkerStatus[] {
  const key: Record<SortKey, (w: WorkerStatus) => number> = {
    cpu: (w) => -(cpuPercent(f, w.pid) ?? -1),
    mem: (w) => -(f.usage.get(w.pid)?.rss ?? 0),
    id: () => 0,
    uptime: (w) => -w.uptime,
    restarts: (w) => -w.restarts,
  };
  const byProgram = (a: WorkerStatus, b: WorkerStatus) => (a.program ?? "").localeCompare(b.program ?? "") || a.id - b.id || a.generation - b.generation;
  return [...f.report.workers].sort((a, b) => key[f.sort](a) - key[f.sort](b) || byProgram(a, b));
}

export function topLines(f: Frame): string[] {
  const r = f.report;
  const m = r.master;
  const ready = r.programs.reduce((n, p) => n + p.ready, 0);
  const lines = [
    `sup master pid ${m.pid}, up ${duration(m.uptime)}, ${r.programs.length} program${r.programs.length === 1 ? "" : "s"}, ${r.workers.length} workers (${ready} ready of ${m.target})${m.reloading ? ", reloading" : ""}${m.stopping ? ", stopping" : ""}`,
  ];
  for (const p of r.programs) {
    const l = p.lastReload;
    const last = l ? `last reload ${duration(Math.max(0, (f.now - l.at) / 1000))} ago ${l.ok ? "ok" : "FAILED"} (${l.reason})` : "no reload yet";
    lines.push(`  ${p.name}: ${p.state}, gen ${p.generation}, ${p.ready}/${p.target} ready; ${last}`);
  }
  lines.push("");
  const head = `${"PROGRAM".padEnd(14)}${"ID".padStart(4)} ${"PID".padStart(8)} ${"GEN".padStart(4)}  ${"STATE".padEnd(16)}${"UPTIME".padStart(8)}${"CPU%".padStart(7)}${"RSS".padStart(9)}${"RESTARTS".padStart(10)}`;
  lines.push(head);
  for (const w of order(f)) {
    const cpu = cpuPercent(f, w.pid);
    const rss = f.usage.get(w.pid)?.rss ?? w.rss;
    lines.push(`${(w.program ?? "").slice(0, 13).padEnd(14)}${String(w.id).padStart(4)} ${String(w.pid).padStart(8)} ${String(w.generation).padStart(4)}  ${w.state.slice(0, 15).padEnd(16)}${duration(w.uptime).padStart(8)}${(cpu === undefined ? "-" : cpu.toFixed(1)).padStart(7)}${mb(rss).padStart(9)}${String(w.restarts).padStart(10)}`);
  }
  for (const c of r.crashing) lines.push(`${c.program ?? ""} worker ${c.id}: crash loop, ${c.failures} exits in a row, last ${c.lastExit ?? "?"}`);
  return lines;
}

/** The key line at the bottom of the live view. */
export function keysLine(sort: SortKey): string {
  return `sort: ${Object.entries(SORT_KEYS).map(([k, v]) => (v === sort ? `[${k}]${v}*` : `[${k}]${v}`)).join(" ")}   [q] quit`;
}
