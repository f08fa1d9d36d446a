// CPU time and RSS of each worker's process group, for /metrics and
// `sup top`, from /proc/PID/stat (proc(5)): field 5 is the
// process group, 14-17 utime, stime, cutime, cstime in clock ticks, 24 the
// RSS in pages. cutime/cstime hold the children a member already waited
// for, so a gunicorn arbiter's dead workers still count; a member that
// exits takes its own time with it (the counter can go down: Prometheus
// counts that as a reset). A stat file costs ~11 µs to read on this
// machine, so readings are cached: Usage reads again only when asked after
// `ttlMs`.
import { existsSync, readFileSync, readdirSync } from "node:fs";

export interface GroupUsage {
  /** User + system CPU seconds of the group's live processes and the children they reaped. */
  cpu: number;
  rss: number; // bytes
  processes: number;
}

/** USER_HZ: the unit of /proc's times; 100 on every Linux architecture sup runs on (sysconf(_SC_CLK_TCK)). */
const TICKS = 100;
const PAGE = 4096;

/** /proc/PID/stat's process group, CPU ticks (utime, stime, cutime, cstime) and RSS pages; undefined when gone. */
function statOf(proc: string, pid: number | string): { pgrp: number; ticks: number; pages: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`${proc}/${pid}/stat`, "latin1");
  } catch {
    return undefined; // gone meanwhile
  }
  // After "(comm)" (which may hold spaces and parentheses): state is field 3.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { pgrp: Number(f[2]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]), pages: Number(f[21]) };
}

function add(out: Map<number, GroupUsage>, pgrp: number, st: { ticks: number; pages: number }) {
  const u = out.get(pgrp) ?? { cpu: 0, rss: 0, processes: 0 };
  u.cpu += st.ticks / TICKS;
  u.rss += st.pages * PAGE;
  u.processes++;
  out.set(pgrp, u);
}

/** At most this many processes are read per group (a fork bomb costs a bounded scan). */
const MAX_PER_GROUP = 4096;

/**
 * Usage per wanted pgid (each a worker's pid, its group's leader): the
 * leader and its descendants that are still in its group, found through
 * /proc/PID/task/PID/children (proc(5); children forked by another thread
 * than the main one are not listed there), so the cost follows the
 * workers' processes, not the machine's (a full pass over /proc read 300
 * processes on a busy build machine for 64 workers). Where the kernel has
 * no children files, one pass over every /proc/N/stat instead.
 */
export function groupUsage(pgids: Iterable<number>, proc = "/proc"): Map<number, GroupUsage> {
  const out = new Map<number, GroupUsage>();
  const want = new Set(pgids);
  if (want.size === 0) return out;
  if (!existsSync(`${proc}/self/task/${process.pid}/children`)) return scanAll(want, proc);
  for (const leader of want) {
    const stack = [leader];
    for (let n = 0; stack.length > 0 && n < MAX_PER_GROUP; n++) {
      const pid = stack.pop()!;
      const st = statOf(proc, pid);
      // One that left the group (setsid, setpgid) is not the worker's, nor are its children.
      if (!st || st.pgrp !== leader) continue;
      add(out, leader, st);
      try {
        for (const c of readFileSync(`${proc}/${pid}/task/${pid}/children`, "latin1").split(" ")) if (c) stack.push(Number(c));
      } catch {}
    }
  }
  return out;
}

function scanAll(want: Set<number>, proc: string): Map<number, GroupUsage> {
  const out = new Map<number, GroupUsage>();
  let names: string[];
  try {
    names = readdirSync(proc);
  } catch {
    return out;
  }
  for (const name of names) {
    if (name.charCodeAt(0) > 57) continue;
    const st = statOf(proc, name);
    if (st && want.has(st.pgrp)) add(out, st.pgrp, st);
  }
  return out;
}

/** groupUsage, read again only when the last reading is older than ttlMs. */
export class Usage {
  private at = -Infinity;
  private last = new Map<number, GroupUsage>();
  private pgids = "";

  constructor(
    private readonly ttlMs = 1000,
    private readonly now = () => performance.now(),
  ) {}

  /** The cached reading, or a new one when it is stale or the set of groups changed. */
  of(pgids: number[]): Map<number, GroupUsage> {
    const key = pgids.join(",");
    if (this.now() - this.at < this.ttlMs && key === this.pgids) return this.last;
    this.last = groupUsage(pgids);
    this.at = this.now();
    this.pgids = key;
    return this.last;
  }
}

let fdCount = { at: -Infinity, n: 0 };
/** The master's own process: open descriptors (counted at most once a second), their limit, RSS and CPU seconds (the standard process_* metrics). */
export function selfUsage(now = performance.now()): { fds: number; maxFds: number; rss: number; cpu: number } {
  if (now - fdCount.at >= 1000) {
    try {
      fdCount = { at: now, n: readdirSync("/proc/self/fd").length - 1 }; // less the one readdir opened
    } catch {}
  }
  const fds = fdCount.n;
  const cpu = process.cpuUsage();
  return { fds, maxFds: maxFds(), rss: process.memoryUsage.rss(), cpu: (cpu.user + cpu.system) / 1e6 };
}

let softLimit: number | undefined;
/** RLIMIT_NOFILE's soft limit, from /proc/self/limits (read once: nothing in sup changes it). */
function maxFds(): number {
  if (softLimit !== undefined) return softLimit;
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "latin1"));
    softLimit = m ? Number(m[1]) : 0;
  } catch {
    softLimit = 0;
  }
  return softLimit;
}
