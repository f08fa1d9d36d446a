// The native guard: guard.c, built by TinyCC into the master's memory, forks
// a child that drops every page of the master it does not need and waits on
// a pipe (guard.c says how). A second Bun process for the same job costs
// 26-34 MB RSS and ~14 MB PSS; this one a few hundred kilobytes
// (BENCHMARKS.md). processes/guard.ts decides which guard runs.
import { cstr, strerror } from "./libc.ts";
import { compileOnce } from "./cc.ts";
import source from "./guard.c" with { type: "text" };

const build = compileOnce("guard.c", source, { guard_start: { args: ["i32", "i32", "i32", "ptr", "ptr", "ptr"], returns: "i32" } });

/** Flags of guard_start (guard.c). */
export const TREE = 1;
export const JSON_LOG = 2;

const STEPS = ["", "resetting signal handlers", "mapping its memory", "setsid", "moving fds", "closing fds", "chdir /", "leaving sup's cgroup", "naming itself", "unmapping the master's memory"];

/** guard_start's negative result, in words. */
export function startError(code: number): string {
  const n = -code;
  if (n === 100000) return "the forked guard sent no word within 5 s";
  if (n >= 200000) return `clone: ${strerror(n - 200000)}`;
  if (n < 1000) return strerror(n);
  const step = Math.floor(n / 1000);
  return `the forked guard failed ${STEPS[step] ?? `at step ${step}`}: ${strerror(n % 1000)}`;
}

export interface NativeGuardOpts {
  /** Read end of the master's pipe (the child keeps it as fd 0). */
  fd: number;
  masterPid: number;
  flags: number;
  runtimeDir: string;
  /** sup's cgroup subtree and the cgroup the guard moves to: "" outside cgroup mode. */
  cgroupRoot: string;
  cgroupHome: string;
}

/** Forks the native guard: its pid, or why it could not (then the caller runs `sup __guard`). */
export function forkNativeGuard(o: NativeGuardOpts): { pid: number } | { why: string } {
  const lib = build();
  if (typeof lib === "string") return { why: lib };
  const [rundir, root, home] = [cstr(o.runtimeDir), cstr(o.cgroupRoot), cstr(o.cgroupHome)];
  const r = lib.guard_start(o.fd, o.masterPid, o.flags, rundir, root, home);
  return r > 0 ? { pid: r } : { why: startError(r) };
}
