// cgroup v2 mode: each worker runs in a cgroup of its own, so its whole
// tree (what it forks, setsid's, double-forks, with any environment) is one
// thing the kernel can list and kill: cgroup.kill (Linux ≥ 5.14) SIGKILLs
// every process in it and its descendants, with no race against fork
// (cgroup-v2.rst, "Core Interface Files"). systemd's KillMode=control-group.
//
// The layout, under the cgroup the master started in (HOME):
//   HOME/sup-PID/master                the master itself (a leaf)
//   HOME/sup-PID/worker-ID-GEN-N       one per worker process (PROGRAM-ID-GEN-N
//                                      with several programs)
// The master leaves HOME so that HOME and sup-PID hold no process: the
// "no internal processes" rule then never stands in the way of enabling a
// controller there (cgroup-v2.rst, "No Internal Process Constraint"); sup
// itself enables none, cgroup.kill and cgroup.procs need no controller. The
// guard goes back to HOME: it must outlive sup-PID to remove it.
//
// Usable where the master may create directories in its own cgroup and move
// processes there: root with a writable cgroup2 mount, a systemd unit with
// Delegate=yes, a container with its own cgroup namespace mounted read-write
// (cgroup-place.ts finds it and sets the subtree up). Elsewhere sup uses
// process groups and the subreaper (reaper.ts), with the guard reading the
// master's process tree.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CgroupPlace } from "./cgroup-place.ts";
import { children, procInfo, type ProcInfo } from "./reaper.ts";

/** "mkdir /sys/fs/cgroup/x: permission denied (EACCES)": Node's message has the errno in words. */
export const why = (e: unknown) => {
  const err = e as NodeJS.ErrnoException;
  const words = /^[A-Z]+: ([^,]+)/.exec(err.message ?? "")?.[1];
  return err.code && err.syscall ? `${err.syscall}${err.path ? ` ${err.path}` : ""}: ${words ?? err.code} (${err.code})` : String(e);
};

/** rmdir a cgroup and its child cgroups, deepest first; false when one is still populated or cannot go. */
export function removeTree(dir: string): boolean {
  let ok = true;
  try {
    for (const d of readdirSync(dir, { withFileTypes: true })) if (d.isDirectory()) ok = removeTree(join(dir, d.name)) && ok;
    rmdirSync(dir);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" && ok;
  }
  return ok;
}

/** Pids in a cgroup and its child cgroups (a worker may make its own below). */
export function procsOf(dir: string): number[] {
  const out: number[] = [];
  try {
    for (const l of readFileSync(join(dir, "cgroup.procs"), "latin1").split("\n")) if (l) out.push(Number(l));
    for (const d of readdirSync(dir, { withFileTypes: true })) if (d.isDirectory()) out.push(...procsOf(join(dir, d.name)));
  } catch {
    // gone meanwhile
  }
  return out;
}

/** True while any process is in the cgroup or below it (cgroup.events "populated"). */
export function populated(dir: string): boolean {
  try {
    return /^populated 1$/m.test(readFileSync(join(dir, "cgroup.events"), "latin1"));
  } catch {
    return false;
  }
}

/** The worker cgroups of one master: what the supervisor's kill hooks call. */
export class WorkerCgroups {
  private seq = 0;

  constructor(readonly place: CgroupPlace) {}

  /** "cgroup /sys/fs/cgroup/…/sup-PID", for the log and sup status. */
  get describe(): string {
    return `cgroup ${this.place.root}${this.place.killFile ? "" : " (no cgroup.kill before Linux 5.14: each process is signalled)"}`;
  }

  /** A fresh cgroup for a worker about to start (its shim moves itself in); throws with the reason. */
  create(id: number, generation: number, program = "worker"): string {
    const dir = join(this.place.root, `${program}-${id}-${generation}-${++this.seq}`);
    try {
      mkdirSync(dir, { mode: 0o755 });
    } catch (e) {
      throw new Error(`cannot create the worker's cgroup (${why(e)})`);
    }
    return dir;
  }

  /**
   * Signal 0: is anything left in it. SIGKILL: cgroup.kill. Any other: to
   * each process. False when it is empty and what died in it is reaped: a
   * process leaves its cgroup as it exits, before its parent (often the
   * master, its subreaper) has reaped it.
   */
  signal(dir: string, sig: NodeJS.Signals | 0): boolean {
    if (sig === "SIGKILL") killCgroup(dir, this.place.killFile);
    else if (sig !== 0) for (const p of procsOf(dir)) signalPid(p, sig);
    return populated(dir) || children().some((p) => procInfo(p)?.state === "Z");
  }

  /** The live processes in it (zombies waiting for the master's reaper are not). */
  members(dir: string): ProcInfo[] {
    return procsOf(dir)
      .map(procInfo)
      .filter((p): p is ProcInfo => p !== undefined && p.state !== "Z");
  }

  /** Removes an empty worker cgroup; false while something is still in it. */
  remove(dir: string): boolean {
    return removeTree(dir);
  }

  /** A clean exit: the master back home, its subtree removed (the workers' cgroups are gone by now). */
  close(pid: number): boolean {
    try {
      writeFileSync(join(this.place.home, "cgroup.procs"), String(pid), { flag: "r+" });
    } catch {
      return false; // the guard removes it after the master has gone
    }
    return removeTree(this.place.root);
  }
}

function signalPid(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone meanwhile
  }
}

/** SIGKILL everything in a cgroup: cgroup.kill, or each process a few times over where there is none (a fork between a read and a kill). */
export function killCgroup(dir: string, killFile: boolean): void {
  if (killFile) {
    try {
      writeFileSync(join(dir, "cgroup.kill"), "1", { flag: "r+" });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT" && !existsSync(dir)) return; // removed already
    }
  }
  for (let pass = 0; pass < 10; pass++) {
    const pids = procsOf(dir);
    if (pids.length === 0) return;
    for (const p of pids) signalPid(p, "SIGKILL");
  }
}
