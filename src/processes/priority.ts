// A reload's new workers boot at a lower CPU priority until they are ready
// (--boot-nice), so an interpreter's start and the app's import take the
// CPU the serving workers leave idle rather than theirs. Two levers, each
// used where it can be pulled back at ready:
//  - the worker's autogroup (sched(7), "The autogroup feature"): every
//    worker is a session of its own (setsid at spawn), and with autogroup
//    on the kernel shares CPU between sessions first, so a process's nice
//    value only weighs against its own session. /proc/PID/autogroup takes a
//    nice value for the whole session, the worker's children included; any
//    owner may set it back to 0 (only a negative value needs CAP_SYS_NICE,
//    proc_sched_autogroup_set_nice). It has no effect under a cpu cgroup
//    other than the root one.
//  - the nice value of every thread of the worker's process group
//    (setpriority(PRIO_PGRP)): weighs inside a cpu cgroup, or with
//    autogroup off. Lowering it back needs CAP_SYS_NICE or an RLIMIT_NICE
//    that allows it (setpriority(2)), so it is used only then.
import { readFileSync, writeFileSync } from "node:fs";
import { PRIO_PGRP, RLIMIT_NICE, errno, libc, strerror } from "../native/libc.ts";

const CAP_SYS_NICE = 23;

export interface BootPriority {
  /** How it lowers, in words (for the log). */
  readonly how: string;
  lower(pid: number, nice: number): void;
  restore(pid: number): void;
}

/** Undefined when neither lever can be pulled back here (then new workers boot at the usual priority). */
export function bootPriority(warn: (msg: string) => void): BootPriority | undefined {
  const autogroup = readText("/proc/sys/kernel/sched_autogroup_enabled") === "1";
  const base = ownNice();
  const renice = base !== undefined && canRenice(base);
  if (!autogroup && !renice) return undefined;
  const said = new Set<string>();
  const once = (msg: string) => said.has(msg) || (said.add(msg), warn(msg));
  const setGroup = (pid: number, nice: number) => {
    if (libc.setpriority(PRIO_PGRP, pid, nice) < 0) once(`boot-nice: setpriority of worker group ${pid}: ${strerror(errno())}`);
  };
  const setAutogroup = (pid: number, nice: number) => {
    // Only once the worker leads its own session: before its setsid the
    // autogroup would still be the master's own.
    if (libc.getsid(pid) !== pid) return;
    try {
      writeFileSync(`/proc/${pid}/autogroup`, String(nice));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") once(`boot-nice: /proc/${pid}/autogroup: ${(e as Error).message}`);
    }
  };
  return {
    how: [autogroup && "its session's autogroup", renice && "its process group's nice value"].filter(Boolean).join(" and "),
    lower(pid, nice) {
      if (autogroup) setAutogroup(pid, nice);
      if (renice) setGroup(pid, Math.min(19, base! + nice));
    },
    restore(pid) {
      if (autogroup) setAutogroup(pid, 0);
      if (renice) setGroup(pid, base!);
    },
  };
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** The master's nice value (field 19 of /proc/self/stat), which its workers inherit. */
function ownNice(): number | undefined {
  const stat = readText("/proc/self/stat");
  const nice = stat ? Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]) : NaN;
  return Number.isInteger(nice) ? nice : undefined;
}

/** May this process set a nice value back to `nice` (setpriority(2): CAP_SYS_NICE, or RLIMIT_NICE ≥ 20 − nice)? */
function canRenice(nice: number): boolean {
  const caps = /^CapEff:\s+([0-9a-f]+)/m.exec(readText("/proc/self/status") ?? "")?.[1];
  if (caps && (BigInt(`0x${caps}`) >> BigInt(CAP_SYS_NICE)) & 1n) return true;
  const lim = new BigUint64Array(2);
  return libc.getrlimit(RLIMIT_NICE, lim) === 0 && lim[0]! >= BigInt(20 - nice);
}
