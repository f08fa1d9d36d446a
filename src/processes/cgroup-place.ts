// Where sup's cgroup subtree goes (the cgroup v2 mode of cgroup.ts): the
// master's own cgroup, found from /proc/self/cgroup and the cgroup2 mounts,
// checked (writable, not a systemd unit's that systemd did not delegate),
// and HOME/sup-PID/master made there with the master moved in. On any
// failure it undoes what it did and says why: sup then uses process groups
// and the subreaper.
//
// A systemd unit's cgroup without Delegate=yes is systemd's alone, even to
// root (systemd.io/CGROUP_DELEGATION): systemd marks the ones it delegates
// with the xattr trusted.delegate (user.delegate from a user manager; since
// systemd 251), and sup uses no other.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cstr, libc } from "../native/libc.ts";
import { removeTree, why } from "./cgroup.ts";
import { procInfo } from "./reaper.ts";

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

