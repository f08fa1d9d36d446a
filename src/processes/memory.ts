// Memory of a worker's whole process group, read from /proc (proc(5)): a
// gunicorn worker is an arbiter and its worker, a shell script its
// children, so the group is what the worker costs. RSS counts pages shared
// between the group's processes once per process; PSS (from smaps_rollup,
// readable for our own processes and as root) divides each shared page
// among those mapping it, so PSS adds up across processes and workers.
import { readFileSync, readdirSync } from "node:fs";

export interface GroupMemory {
  rss: number; // bytes
  pss?: number; // bytes, when smaps_rollup could be read
  processes: number;
}

const PAGE = 4096;

/** pgid → its processes' pids, from one pass over /proc. */
export function groupsOf(pgids: Iterable<number>): Map<number, number[]> {
  const want = new Map<number, number[]>();
  for (const g of pgids) want.set(g, []);
  if (want.size === 0) return want;
  let names: string[] = [];
  try {
    names = readdirSync("/proc");
  } catch {
    return want;
  }
  for (const name of names) {
    if (name.charCodeAt(0) > 57) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "latin1");
      const pgrp = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ", 3)[2]);
      want.get(pgrp)?.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return want;
}

function rssOf(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, "latin1").split(" ")[1]) * PAGE;
  } catch {
    return 0;
  }
}

function pssOf(pid: number): number | undefined {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "latin1"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** RSS and PSS of each group (its leader's pid is the pgid), summed over its processes. */
export function groupMemory(pgids: Iterable<number>, withPss = true): Map<number, GroupMemory> {
  const out = new Map<number, GroupMemory>();
  for (const [g, pids] of groupsOf(pgids)) {
    let rss = 0;
    let pss: number | undefined = withPss ? 0 : undefined;
    for (const p of pids) {
      rss += rssOf(p);
      if (pss !== undefined) {
        const x = pssOf(p);
        pss = x === undefined ? undefined : pss + x;
      }
    }
    out.set(g, { rss, pss: pids.length ? pss : undefined, processes: pids.length });
  }
  return out;
}
