// The exec shim between the master and each worker: `sup __exec MASTERPID
// [--cgroup DIR] [--user UID:GID:GROUPS] -- /abs/cmd arg...`. Bun.spawn has no pre-exec hook
// (DESIGN.md §4, §7), so the sup binary itself runs here first, does what a
// C supervisor would do between fork and exec, and replaces itself with the
// command. Imports stay minimal: this runs once per worker start. Every libc
// call goes through src/native/libc.ts and every result is checked.
import { errno, execve, libc, strerror } from "../native/libc.ts";
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
const USAGE = "sup: __exec is internal: sup __exec MASTERPID [--cgroup DIR] [--user UID:GID:GROUPS] -- /abs/path/to/cmd [arg...]";

/** Runs the shim; returns only when it could not exec (the exit code then). */
export function runShim(args: string[]): number {
  const [masterPid, ...rest0] = args;
  let rest = rest0;
  let cgroup: string | undefined;
  if (rest[0] === "--cgroup") {
    cgroup = rest[1];
    if (!cgroup) {
      console.error(USAGE);
      return 2;
    }
    rest = rest.slice(2);
  }
  let user: { uid: number; gid: number; groups: number[] } | undefined;
  if (rest[0] === "--user") {
    const m = /^(\d+):(\d+):([\d,]*)$/.exec(rest[1] ?? "");
    if (!m) {
      console.error(USAGE);
      return 2;
    }
    user = { uid: Number(m[1]), gid: Number(m[2]), groups: m[3] ? m[3].split(",").map(Number) : [] };
    rest = rest.slice(2);
  }
  const [sep, path, ...argv] = rest;
  if (sep !== "--" || !path || !isAbsolute(path) || !/^\d+$/.test(masterPid ?? "")) {
    console.error(USAGE);
    return 2;
  }
  const fail = (what: string): number => {
    console.error(`sup: worker ${path}: ${what}: ${strerror(errno())}`);
    return 126;
  };

  if (cgroup !== undefined && !joinCgroup(cgroup)) return 1;

  // The workers' user: groups first, then the gid, then the uid (after
  // setuid nothing else may change); the uid last also because it clears
  // the parent-death signal (prctl(2): cleared when credentials change), so
  // that comes after. Each call is checked: a worker that stayed root where
  // the config said otherwise would be worse than none.
  if (user) {
    if (libc.setgroups(user.groups.length, new Uint32Array(user.groups.length > 0 ? user.groups : [0])) !== 0) return fail(`setgroups(${user.groups.join(",")})`);
    if (libc.setgid(user.gid) !== 0) return fail(`setgid(${user.gid})`);
    if (libc.setuid(user.uid) !== 0) return fail(`setuid(${user.uid})`);
    if (libc.getuid() !== user.uid || libc.getgid() !== user.gid) return fail(`still uid ${libc.getuid()} gid ${libc.getgid()} after setuid(${user.uid})/setgid(${user.gid})`);
  }

  // Die with the master: the kernel sends SIGKILL when the parent exits, and
  // the setting survives execve (prctl(2)).
  if (libc.prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) !== 0) return fail("prctl(PR_SET_PDEATHSIG)");
  // The master may have died before prctl took effect: then nobody would
  // ever signal us (prctl(2) suggests exactly this check).
  if (libc.getppid() !== Number(masterPid)) return 1;

  // sd_listen_fds(3) accepts the fds only if LISTEN_PID is the process that
  // uses them, and execve keeps our pid.
  const env = { ...process.env };
  if (env.LISTEN_FDS !== undefined) env.LISTEN_PID = String(process.pid);
  if (env.WATCHDOG_USEC !== undefined) env.WATCHDOG_PID = String(process.pid);

  // Ignored signals and the signal mask survive execve (signal(7)); the
  // runtime's choices (SIGPIPE ignored, …) must not leak into the worker.
  // signal(2) refuses SIGKILL, SIGSTOP and the two the C library keeps
  // (32, 33): those failures are expected.
  for (let sig = 1; sig <= LAST_SIGNAL; sig++) if (sig !== SIGKILL) libc.signal(sig, null);
  if (libc.sigprocmask(SIG_SETMASK, new Uint8Array(128), null) !== 0) return fail("sigprocmask");

  // The fds the master handed over (listen sockets from 3, then the notify
  // pipe) must survive execve. Bun's runtime, starting this shim, marks every
  // inherited fd above 3 close-on-exec (measured with Bun 1.4.5): clear it.
  const lastFd = Math.max(2 + Number(env.LISTEN_FDS ?? 0), Number(env.SUP_NOTIFY_FD ?? 0));
  for (let fd = 3; fd <= lastFd; fd++) if (libc.fcntl(fd, F_SETFD, 0) < 0) return fail(`fcntl(${fd}, F_SETFD)`);

  execve(path, [path, ...argv], Object.entries(env).map(([k, v]) => `${k}=${v}`));
  console.error(`sup: cannot exec ${path}: ${String(libc.strerror(errno()))}`);
  return 127;
}

/**
 * Moves this process into the worker's cgroup (cgroup.kill then reaches
 * all it will ever fork) before anything else runs: before the command is
 * exec'd, and before the change of user, which could take away the right to
 * write there. A worker that cannot join would escape cgroup.kill: refuse.
 */
function joinCgroup(dir: string): boolean {
  try {
    writeFileSync(join(dir, "cgroup.procs"), String(process.pid), { flag: "r+" });
    return true;
  } catch (e) {
    console.error(`sup: cannot move the worker into its cgroup ${dir}: ${(e as Error).message}`);
    return false;
  }
}
