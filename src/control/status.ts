// The status report: what `sup status`, `sup status --json` and USR1 show.
// Each program reports itself (buildStatus); combineStatus makes one report
// of them, grouped by program. Memory is the worker's whole process group
// (processes/memory.ts): RSS, and PSS where /proc lets us read it.
import { CRASH_LOOP_AFTER } from "../core/backoff.ts";
import { groupMemory, type GroupMemory } from "../processes/memory.ts";
import type { Slot } from "../supervisor/slots.ts";

export interface WorkerStatus {
  program?: string;
  id: number;
  pid: number;
  generation: number;
  state: string; // starting | ready | stopping | crashloop | waiting
  uptime: number; // seconds
  restarts: number;
  /** Its id's replacements by reason (watchdog, health, lifetime, rss), and the last one. */
  replaced?: Record<string, number>;
  lastReplaced?: { reason: string; detail: string; at: number };
  /** Resident memory of the worker's process group, bytes (0 when unknown). */
  rss: number;
  /** Proportional set size of the group, bytes, when readable. */
  pss?: number;
  lastExit?: string;
  status?: string; // its sd_notify STATUS=
}

/** How the master stops a worker's whole tree, and its guard (processes/cgroup.ts, processes/guard.ts). */
export interface Containment {
  /** "cgroup /sys/fs/cgroup/…/sup-PID" or "process groups + subreaper". */
  killMode: string;
  guard?: { pid: number; kind: string };
}

export interface ProgramStatus {
  name: string;
  /** ready, starting, reloading, waiting, blocked, stopped, completed, failed */
  state: string;
  /** Why it waits, is blocked or stopped. */
  hold?: string;
  restart: string;
  generation: number;
  target: number;
  ready: number;
  lastReload?: LastReload;
  /** One-shot workers that finished. */
  done: { id: number; exit: string; ok: boolean }[];
}

export interface StatusReport {
  master: { pid: number; uptime: number; generation: number; target: number; stopping: boolean; reloading: boolean; lastReload?: LastReload } & Partial<Containment>;
  workers: WorkerStatus[];
  crashing: { program?: string; id: number; failures: number; lastExit?: string; lastStderr: string[]; waitingForChange: boolean }[];
  programs: ProgramStatus[];
}

/** The last reload, as status shows it. */
export interface LastReload {
  reason: string;
  at: number; // epoch ms
  ok: boolean;
  generation: number;
  message: string;
}

/** What a program knows, as plain data (the status module does not know the supervisor). */
export interface StatusInput {
  masterPid: number;
  uptime: number; // s
  generation: number;
  target: number;
  stopping: boolean;
  reloading: boolean;
  lastReload?: LastReload;
  program?: { name: string; state: string; hold?: string; restart: string };
  workers: { id: number; pid: number; generation: number; state: string; uptime: number; status?: string }[];
  slots: Slot[];
  /** Read each group's memory from /proc (default); false: rss 0 (the stats server fills it from its own cache). */
  memory?: boolean;
}

const tenths = (s: number) => Math.round(s * 10) / 10;

export function buildStatus(s: StatusInput): StatusReport {
  const slot = new Map(s.slots.map((x) => [x.id, x]));
  const memory = s.memory === false ? new Map<number, GroupMemory>() : groupMemory(s.workers.map((w) => w.pid));
  const name = s.program?.name;
  const workers = s.workers
    .map((w) => ({
      program: name,
      id: w.id,
      pid: w.pid,
      generation: w.generation,
      state: w.state,
      uptime: tenths(w.uptime),
      restarts: slot.get(w.id)?.restarts ?? 0,
      ...(Object.keys(slot.get(w.id)?.replaced ?? {}).length ? { replaced: slot.get(w.id)!.replaced as Record<string, number>, lastReplaced: slot.get(w.id)!.lastReplaced } : {}),
      rss: memory.get(w.pid)?.rss ?? 0,
      pss: memory.get(w.pid)?.pss,
      lastExit: slot.get(w.id)?.lastExit,
      status: w.status,
    }))
    .sort((a, b) => a.id - b.id || a.generation - b.generation);
  const crashing = s.slots
    .filter((x) => x.failures >= CRASH_LOOP_AFTER)
    .map((x) => ({ program: name, id: x.id, failures: x.failures, lastExit: x.lastExit, lastStderr: x.lastStderr, waitingForChange: x.respawnAt === Infinity }));
  const ready = s.workers.filter((w) => w.state === "ready" && slot.get(w.id)?.generation === w.generation).length;
  const programs: ProgramStatus[] = [{
    name: name ?? "",
    state: s.program?.state ?? (ready === s.target ? "ready" : "starting"),
    hold: s.program?.hold,
    restart: s.program?.restart ?? "always",
    generation: s.generation,
    target: s.target,
    ready,
    lastReload: s.lastReload,
    done: s.slots.filter((x) => x.done).map((x) => ({ id: x.id, exit: x.done!.exit, ok: x.done!.ok })),
  }];
  return {
    master: { pid: s.masterPid, uptime: tenths(s.uptime), generation: s.generation, target: s.target, stopping: s.stopping, reloading: s.reloading, lastReload: s.lastReload },
    workers,
    crashing,
    programs,
  };
}

/** One report of several programs' (the first program's generation, target and last reload stand for the master's). */
export function combineStatus(reports: StatusReport[]): StatusReport {
  const first = reports[0]!;
  if (reports.length === 1) return first;
  return {
    master: { ...first.master, target: reports.reduce((n, r) => n + r.master.target, 0) },
    workers: reports.flatMap((r) => r.workers),
    crashing: reports.flatMap((r) => r.crashing),
    programs: reports.flatMap((r) => r.programs),
  };
}

/** "lifetime 3": the last reason and how many replacements in all ("-" for none). */
const replacedText = (w: WorkerStatus) => (w.lastReplaced ? `${w.lastReplaced.reason} ${Object.values(w.replaced ?? {}).reduce((a, b) => a + b, 0)}` : "-");

const mb = (b: number | undefined) => (b ? `${(b / 1048576).toFixed(1)}M` : "-");

/**
 * A worker's own words in the table (its STATUS=, its last stderr lines),
 * each control character as \xNN: a worker must not forge a row of the
 * table with a \r, nor send escape sequences to the terminal of whoever runs
 * `sup status` (or reads the USR1 log). `--json` keeps the text as it came.
 */
const visible = (s: string) => s.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);

/** Human table, one line per worker, grouped by program when there are several (also what USR1 logs). */
export function statusTable(r: StatusReport): string[] {
  const m = r.master;
  const several = r.programs.length > 1;
  const ready = r.programs.reduce((n, p) => n + p.ready, 0);
  const lines = [`master pid ${m.pid} up ${m.uptime}s ${several ? `programs ${r.programs.length}` : `gen ${m.generation}`} workers ${r.workers.length}/${m.target}, ${ready} ready${m.reloading ? " (reloading)" : ""}${m.stopping ? " (stopping)" : ""}`];
  const reloadLine = (l: LastReload) => `last reload ${new Date(l.at).toISOString()} (${l.reason}): ${l.ok ? "ok" : "failed"}: ${l.message.split("\n")[0]}`;
  if (m.killMode) lines.push(`kill mode: ${m.killMode}${m.guard ? `; guard pid ${m.guard.pid} (${m.guard.kind})` : ""}`);
  if (!several && m.lastReload) lines.push(reloadLine(m.lastReload));
  const head = `${several ? "PROGRAM".padEnd(12) : ""}${"ID".padEnd(4)}${"PID".padEnd(9)}${"GEN".padEnd(5)}${"STATE".padEnd(16)}${"UPTIME".padEnd(9)}${"RESTARTS".padEnd(10)}${"REPLACED".padEnd(14)}${"GROUP RSS".padEnd(11)}${"GROUP PSS".padEnd(11)}STATUS`;
  const row = (w: WorkerStatus) =>
    `${several ? (w.program ?? "").padEnd(12) : ""}${String(w.id).padEnd(4)}${String(w.pid).padEnd(9)}${String(w.generation).padEnd(5)}${w.state.padEnd(16)}${`${w.uptime}s`.padEnd(9)}${String(w.restarts).padEnd(10)}${replacedText(w).padEnd(14)}${mb(w.rss).padEnd(11)}${mb(w.pss).padEnd(11)}${visible(w.status ?? "")}`.trimEnd();
  for (const p of r.programs) {
    if (several) {
      lines.push(`program ${p.name}: ${p.state}${p.hold ? ` (${p.hold})` : ""}, gen ${p.generation}, ${p.ready}/${p.target} ready${p.restart !== "always" ? `, restart ${p.restart}` : ""}`);
      if (p.lastReload) lines.push(`  ${reloadLine(p.lastReload)}`);
    }
    const ws = r.workers.filter((w) => !several || w.program === p.name);
    if (!several || ws.length) lines.push(head);
    for (const w of ws) lines.push(row(w));
    for (const d of p.done) lines.push(`worker ${several ? `${p.name}.` : ""}${d.id}: ${d.ok ? "done" : "failed"}, ${d.exit}`);
  }
  for (const c of r.crashing) {
    lines.push(`worker ${several ? `${c.program}.` : ""}${c.id}: crash loop, ${c.failures} exits in a row, last ${c.lastExit ?? "?"}${c.waitingForChange ? ", waiting for changes" : ""}`);
    for (const l of c.lastStderr.slice(-5)) lines.push(`    ${visible(l)}`);
  }
  return lines;
}
