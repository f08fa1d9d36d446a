// CPU time and RSS of each worker's process group, for /metrics and
// `sup top`, from one pass over /proc/*/stat (proc(5)): field 5 is the
// process group, 14-17 utime, stime, cutime, cstime in clock ticks, 24 the
// RSS in pages. cutime/cstime hold the children a member already waited
// for, so a gunicorn arbiter's dead workers still count; a member that
// exits takes its own time with it (the counter can go down: Prometheus
// counts that as a reset). One pass costs ~11 µs per process on this
// machine (1.3 ms for 115 processes), so it is cached: Usage reads again
// only when asked after `ttlMs`.
import { readFileSync, readdirSync } from "node:fs";

export interface GroupUsage {
  /** User + system CPU seconds of the group's live processes and the children they reaped. */
  cpu: number;
  rss: number; // bytes
  processes: number;
}

/** USER_HZ: the unit of /proc's times; 100 on every Linux architecture sup runs on (sysconf(_SC_CLK_TCK)). */
const TICKS = 100;
const PAGE = 4096;

/** One pass over /proc: usage per wanted pgid (absent: no process of it was found). */
export function groupUsage(pgids: Iterable<number>, proc = "/proc"): Map<number, GroupUsage> {
  const out = new Map<number, GroupUsage>();
  const want = new Set(pgids);
  if (want.size === 0) return out;
  let names: string[];
  try {
    names = readdirSync(proc);
  } catch {
    return out;
  }
  for (const name of names) {
    if (name.charCodeAt(0) > 57) continue;
    let stat: string;
    try {
      stat = readFileSync(`${proc}/${name}/stat`, "latin1");
    } catch {
      continue; // gone meanwhile
    }
    // After "(comm)" (which may hold spaces and parentheses): state is field 3.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const pgrp = Number(f[2]);
    if (!want.has(pgrp)) continue;
    const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    const u = out.get(pgrp) ?? { cpu: 0, rss: 0, processes: 0 };
    u.cpu += ticks / TICKS;
    u.rss += Number(f[21]) * PAGE;
    u.processes++;
    out.set(pgrp, u);
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
