// The exec shim between the master and each worker: `sup __exec MASTERPID
// [--cgroup DIR] -- /abs/cmd arg...`. Bun.spawn has no pre-exec hook (DESIGN.md §4, §7), so the
// sup binary itself runs here first, does what a C supervisor would do
// between fork and exec, and replaces itself with the command. Imports stay
// minimal: this runs once per worker start.
import { dlopen, ptr, read } from "bun:ffi";
import { openLibc } from "../native/libc-name.ts";
import { accessSync, constants, statSync, writeFileSync } from "node:fs";
import { delimiter, isAbsolute, join, resolve } from "node:path";

/** The argv prefix that runs the shim: the compiled binary, or bun on src/main.ts. */
export function shimArgv(): string[] {
  // A compiled binary's modules live in Bun's embedded "/$bunfs/" filesystem.
  if (Bun.main.startsWith("/$bunfs/")) return [process.execPath, "__exec"];
  return [process.execPath, resolve(import.meta.dir, "../main.ts"), "__exec"];
}

/**
 * Absolute path of the executable cmd names, as execvp(3) would find it: with
 * a "/" relative to cwd, otherwise the first match on PATH (an empty entry is
 * the working directory). Undefined when there is none.
 */
export function resolveCommand(cmd: string, opts: { cwd: string; PATH: string }): string | undefined {
  if (cmd === "") return undefined;
  const candidates = cmd.includes("/") ? [resolve(opts.cwd, cmd)] : opts.PATH.split(delimiter).map((dir) => resolve(opts.cwd, dir, cmd));
  return candidates.find(isExecutableFile);
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

const PR_SET_PDEATHSIG = 1;
const F_SETFD = 2;
const SIGKILL = 9;
const SIG_SETMASK = 2;
/** Linux has signals 1..64; signal(2) refuses the few it cannot reset (KILL, STOP, 32, 33). */
const LAST_SIGNAL = 64;

/** Runs the shim; returns only when it could not exec (the exit code then). */
export function runShim(args: string[]): number {
  const cgroup = args[1] === "--cgroup" ? args[2] : undefined;
  const [masterPid, sep, path, ...rest] = cgroup === undefined ? args : [...args.slice(0, 1), ...args.slice(3)];
  if (sep !== "--" || !path || !isAbsolute(path) || !/^\d+$/.test(masterPid ?? "") || cgroup === "") {
    console.error("sup: __exec is internal: sup __exec MASTERPID [--cgroup DIR] -- /abs/path/to/cmd [arg...]");
    return 2;
  }
  if (cgroup !== undefined && !joinCgroup(cgroup)) return 1;
  const libc = openLibc((name) => dlopen(name, {
    prctl: { args: ["i32", "u64", "u64", "u64", "u64"], returns: "i32" },
    getppid: { args: [], returns: "i32" },
    signal: { args: ["i32", "ptr"], returns: "ptr" },
    sigprocmask: { args: ["i32", "ptr", "ptr"], returns: "i32" },
    fcntl: { args: ["i32", "i32", "i32"], returns: "i32" },
    execve: { args: ["ptr", "ptr", "ptr"], returns: "i32" },
    strerror: { args: ["i32"], returns: "cstring" },
    __errno_location: { args: [], returns: "ptr" },
  })).symbols;

  // Die with the master: the kernel sends SIGKILL when the parent exits, and
  // the setting survives execve (prctl(2)).
  libc.prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  // The master may have died before prctl took effect: then nobody would
  // ever signal us (prctl(2) suggests exactly this check).
  if (libc.getppid() !== Number(masterPid)) return 1;

  // sd_listen_fds(3) accepts the fds only if LISTEN_PID is the process that
  // uses them, and execve keeps our pid.
  const env = { ...process.env };
  if (env.LISTEN_FDS !== undefined) env.LISTEN_PID = String(process.pid);

  // Ignored signals and the signal mask survive execve (signal(7)); the
  // runtime's choices (SIGPIPE ignored, …) must not leak into the worker.
  for (let sig = 1; sig <= LAST_SIGNAL; sig++) if (sig !== SIGKILL) libc.signal(sig, null);
  libc.sigprocmask(SIG_SETMASK, new Uint8Array(128), null);

  // The fds the master handed over (listen sockets from 3, then the notify
  // pipe) must survive execve. Bun's runtime, starting this shim, marks every
  // inherited fd above 3 close-on-exec (measured with Bun 1.4.5): clear it.
  const lastFd = Math.max(2 + Number(env.LISTEN_FDS ?? 0), Number(env.SUP_NOTIFY_FD ?? 0));
  for (let fd = 3; fd <= lastFd; fd++) libc.fcntl(fd, F_SETFD, 0);

  const strings = [path, ...rest].map(cstring);
  const envStrings = Object.entries(env).map(([k, v]) => cstring(`${k}=${v}`));
  const argv = pointerArray(strings);
  const envp = pointerArray(envStrings);
  libc.execve(strings[0]!, argv, envp);

  const code = read.i32(libc.__errno_location()!, 0);
  console.error(`sup: cannot exec ${path}: ${String(libc.strerror(code))}`);
  return 127;
}

/**
 * Moves this process into the worker's cgroup (cgroup.kill then reaches
 * all it will ever fork) before anything else runs: before the command is
 * exec'd, and before any change of user, which could take away the right to
 * write there. A worker that cannot join would escape cgroup.kill: refuse.
 */
function joinCgroup(dir: string): boolean {
  try {
    writeFileSync(join(dir, "cgroup.procs"), String(process.pid), { flag: "r+" });
    return true;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    console.error(`sup: cannot move the worker into its cgroup ${dir}: ${err.message}`);
    return false;
  }
}

function cstring(s: string): Buffer {
  return Buffer.from(s + "\0", "utf8");
}

/** A NULL-terminated char*[] over bufs (which must stay referenced until execve). */
function pointerArray(bufs: Buffer[]): BigUint64Array {
  const arr = new BigUint64Array(bufs.length + 1);
  bufs.forEach((b, i) => (arr[i] = BigInt(ptr(b))));
  return arr;
}
