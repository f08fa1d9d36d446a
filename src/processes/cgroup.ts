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
// Delegate=yes, a container with its own cgroup namespace mounted read-write.
// A systemd unit's cgroup without Delegate=yes is systemd's alone, even to
// root (systemd.io/CGROUP_DELEGATION): systemd marks the ones it delegates
// with the xattr trusted.delegate (user.delegate from a user manager; since
// systemd 251), and sup uses no other. Elsewhere setupCgroups says why, and
// sup uses process groups and the subreaper (reaper.ts), with the guard
// reading the master's process tree.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cstr, libc } from "../native/libc.ts";
import { children, procInfo, type ProcInfo } from "./reaper.ts";

export interface CgroupPlace {
  /** The cgroup the master started in. */
  home: string;
  /** sup's subtree: HOME/sup-PID. */
  root: string;
  /** The master's own leaf. */
  leaf: string;
  /** cgroup.kill exists (Linux ≥ 5.14); without it each process is signalled. */
  killFile: boolean;
}

/** The cgroup v2 path of this process: the "0::PATH" line of /proc/self/cgroup (cgroups(7)). */
export function unifiedPath(procCgroup: string): string | undefined {
  return /^0::(\/.*)$/m.exec(procCgroup)?.[1];
}

/** cgroup2 mounts from /proc/self/mountinfo (proc(5)): the hierarchy path mounted, where, read-only or not. */
export function cgroup2Mounts(mountinfo: string): { root: string; at: string; ro: boolean }[] {
  const out: { root: string; at: string; ro: boolean }[] = [];
  for (const line of mountinfo.split("\n")) {
    const [left, right] = line.split(" - ");
    if (!left || !right || right.split(" ")[0] !== "cgroup2") continue;
    const f = left.split(" ");
    const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    out.push({ root: unescape(f[3] ?? ""), at: unescape(f[4] ?? ""), ro: (f[5] ?? "").split(",").includes("ro") });
  }
  return out;
}

/** The directory of cgroup `path` in the first writable mount that shows it. */
export function cgroupDir(path: string, mounts: { root: string; at: string; ro: boolean }[]): string | { why: string } {
  const seen = mounts.filter((m) => path === m.root || path.startsWith(m.root === "/" ? "/" : `${m.root}/`));
  const rw = seen.find((m) => !m.ro);
  if (!rw) return { why: seen.length ? `the cgroup2 mount at ${seen[0]!.at} is read-only` : mounts.length ? `no cgroup2 mount shows ${path}` : "no cgroup2 filesystem is mounted" };
  const rel = path.slice(rw.root === "/" ? 0 : rw.root.length);
  return rel === "/" || rel === "" ? rw.at : join(rw.at, rel);
}

/** "mkdir /sys/fs/cgroup/x: permission denied (EACCES)": Node's message has the errno in words. */
const why = (e: unknown) => {
  const err = e as NodeJS.ErrnoException;
  const words = /^[A-Z]+: ([^,]+)/.exec(err.message ?? "")?.[1];
  return err.code && err.syscall ? `${err.syscall}${err.path ? ` ${err.path}` : ""}: ${words ?? err.code} (${err.code})` : String(e);
};

/** The systemd unit a cgroup path belongs to (its last `.service` or `.scope` part), as a path; undefined outside systemd's units. */
export function unitOf(path: string): string | undefined {
  const parts = path.split("/");
  for (let i = parts.length - 1; i > 0; i--) if (/\.(service|scope)$/.test(parts[i]!)) return parts.slice(0, i + 1).join("/");
  return undefined;
}

/** systemd's mark on a cgroup it delegated (Delegate=yes). */
function delegated(dir: string): boolean {
  const value = new Uint8Array(8);
  for (const name of ["trusted.delegate", "user.delegate"]) {
    const n = Number(libc.getxattr(cstr(dir), cstr(name), value, value.length));
    if (n === 1 && value[0] === 0x31) return true; // "1"
  }
  return false;
}

/** Empty sup-PID subtrees of masters that are gone (both it and its guard killed, or a reboot of the pid space). */
function removeStale(home: string, self: number) {
  let names: string[];
  try {
    names = readdirSync(home);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(/^sup-(\d+)(?:-\d+)?$/.exec(name)?.[1] ?? 0);
    if (!pid || pid === self || procInfo(pid)) continue; // its master still runs
    removeTree(join(home, name)); // rmdir(2) refuses a populated cgroup: what runs is left alone
  }
}

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

/**
 * HOME/sup-PID, or sup-PID-N when that is taken: pids repeat across pid
 * namespaces (every container's PID 1 is a sup-1), and an empty one left by
 * a master with our pid is removed first. mkdir(2) is the exclusive create.
 */
export function makeRoot(home: string, pid: number): string {
  let retried = false;
  for (let n = 1; ; n++) {
    const root = join(home, n === 1 ? `sup-${pid}` : `sup-${pid}-${n}`);
    try {
      mkdirSync(root, { mode: 0o755 });
      return root;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || n === 100) throw e;
      if (n === 1 && !retried && removeTree(root)) {
        retried = true; // empty: left by a master with our pid before (an earlier PID 1); take it
        n = 0;
      }
    }
  }
}

/**
 * Sets up sup's subtree and moves the master into its leaf; on any failure
 * undoes what it did and says why (the caller falls back to process groups).
 */
export function setupCgroups(pid: number): { place: CgroupPlace } | { why: string } {
  let path: string | undefined;
  let dir: string | { why: string };
  try {
    path = unifiedPath(readFileSync("/proc/self/cgroup", "latin1"));
    if (!path) return { why: "this process is in no cgroup v2 hierarchy (/proc/self/cgroup has no 0:: line)" };
    dir = cgroupDir(path, cgroup2Mounts(readFileSync("/proc/self/mountinfo", "latin1")));
  } catch (e) {
    return { why: why(e) };
  }
  if (typeof dir !== "string") return dir;
  const home = dir;
  const unit = unitOf(path);
  if (unit) {
    const unitDir = home.slice(0, home.length - (path.length - unit.length));
    if (!delegated(unitDir)) return { why: `${unitDir} is the cgroup of a systemd unit without Delegate=yes, which only systemd may change` };
  }
  removeStale(home, pid);
  let root = "";
  try {
    root = makeRoot(home, pid);
  } catch (e) {
    return { why: `cannot create a cgroup in ${home} (${why(e)})` };
  }
  const leaf = join(root, "master");
  try {
    mkdirSync(leaf, { mode: 0o755 });
    // Moving needs write access to cgroup.procs of the common ancestor, HOME
    // (cgroup-v2.rst, "Delegation Containment").
    writeFileSync(join(leaf, "cgroup.procs"), String(pid), { flag: "r+" });
  } catch (e) {
    removeTree(root);
    return { why: `cannot move the master into ${leaf} (${why(e)})` };
  }
  return { place: { home, root, leaf, killFile: existsSync(join(leaf, "cgroup.kill")) } };
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
