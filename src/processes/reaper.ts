// The master as a child subreaper (prctl(2) PR_SET_CHILD_SUBREAPER), and as
// PID 1 of a container: what a worker double-forks or setsid's comes back to
// the master when its parent dies, so the master can stop it with its worker
// and reap it when it exits. Bun reaps the children it spawned itself (by
// pid), so orphans are reaped one by one, by pid, with waitid(P_PID) on the
// children that are not Bun's (tini does waitpid(-1); here that would steal
// the workers' exit statuses from Bun).
import { readFileSync, readdirSync } from "node:fs";
import { libc } from "../native/libc.ts";

const PR_SET_CHILD_SUBREAPER = 36;
const P_PID = 1;
const WEXITED = 4;
const WNOHANG = 1;

/** Orphans of every worker tree come back to this process from now on. */
export function becomeSubreaper(): boolean {
  return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) === 0;
}

/** A process's children: every thread's list (proc(5), /proc/PID/task/TID/children); [] once it is gone. */
export function childrenOf(pid: number | "self"): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      let text = "";
      try {
        text = readFileSync(`/proc/${pid}/task/${tid}/children`, "latin1");
      } catch {
        continue; // the thread ended meanwhile
      }
      for (const p of text.split(" ")) if (p !== "" && p !== "\n") out.push(Number(p));
    }
  } catch {
    // no /proc, or gone: nothing to list
  }
  return out;
}

/** This process's children. */
export const children = () => childrenOf("self");

export interface ProcInfo {
  pid: number;
  state: string; // proc(5): R, S, D, Z, T, …
  pgid: number;
  sid: number;
  comm: string;
}

/** What /proc says of a process; undefined once it is gone. */
export function procInfo(pid: number): ProcInfo | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid pgrp session …"; comm may hold spaces and ")".
  const open = stat.indexOf("(");
  const close = stat.lastIndexOf(")");
  const [state, , pgrp, session] = stat.slice(close + 2).split(" ", 4);
  return { pid, state: state ?? "?", pgid: Number(pgrp), sid: Number(session), comm: stat.slice(open + 1, close) };
}

/** SUP_WORKER_ID and SUP_GENERATION from a process's environment, when readable. */
export function workerOf(pid: number): { id: number; generation: number; program?: string } | undefined {
  let env: string;
  try {
    env = readFileSync(`/proc/${pid}/environ`, "latin1");
  } catch {
    return undefined;
  }
  const id = /(?:^|\0)SUP_WORKER_ID=(\d+)/.exec(env)?.[1];
  const gen = /(?:^|\0)SUP_GENERATION=(\d+)/.exec(env)?.[1];
  const program = /(?:^|\0)SUP_PROGRAM=([^\0]*)/.exec(env)?.[1];
  return id && gen ? { id: Number(id), generation: Number(gen), ...(program ? { program } : {}) } : undefined;
}

const siginfo = new Int32Array(new ArrayBuffer(128));

/** Reaps every exited child that `owned` does not claim; returns their pids. */
export function reapOrphans(owned: (pid: number) => boolean): number[] {
  const reaped: number[] = [];
  for (const pid of children()) {
    if (owned(pid)) continue;
    siginfo.fill(0);
    // WNOHANG: a live child is left alone; si_pid (offset 16) is 0 then.
    if (libc.waitid(P_PID, pid, siginfo, WEXITED | WNOHANG) === 0 && siginfo[4] === pid) reaped.push(pid);
  }
  return reaped;
}
