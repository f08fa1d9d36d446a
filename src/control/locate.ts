// How a client finds a master's control socket from its pid alone, whatever
// the client's own TMPDIR (sudo, pam_tmpdir, systemd PrivateTmp): the master
// put it in sup-PID under its XDG_RUNTIME_DIR or TMPDIR, and /proc/PID/environ
// says what those were. That file is readable by the master's uid and by
// root, which are exactly the users the master accepts. Where it is not
// (root without CAP_SYS_PTRACE, as in a container), the live unix sockets
// in /proc/net/unix name the candidates. A master with a /tmp of its own
// (systemd PrivateTmp, a container seen from the host) is reached through
// /proc/PID/root, its view of the filesystem. A candidate counts only if it
// passes the checks the master made: a real 0700 dir and a socket, both
// owned by the master's uid; the client then checks that the pid listening
// on it is the master (SO_PEERCRED, in client.ts).
import { lstatSync, readFileSync, readlinkSync, type Stats } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../verbs/cli.ts";
import { PermissionDenied, describeUid } from "./errors.ts";
import { CONTROL_SOCKET, runtimeBases, runtimeDirProblem } from "./rundir.ts";

/** The effective uid a process runs as, from /proc/PID/status (readable by anyone). */
export function procUid(pid: number): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("Uid:"));
    const euid = Number(line?.split(/\s+/)[2]);
    return Number.isInteger(euid) ? euid : undefined;
  } catch {
    return undefined;
  }
}

function procEnviron(pid: number): Record<string, string> | undefined {
  try {
    const env: Record<string, string> = {};
    for (const kv of readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")) {
      const eq = kv.indexOf("=");
      if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    return env;
  } catch {
    return undefined;
  }
}

/** Runtime dirs whose control socket is bound right now (one line per socket; the path is the last field). */
function boundDirs(pid: number): string[] {
  const tail = `/sup-${pid}/${CONTROL_SOCKET}`;
  try {
    return readFileSync("/proc/net/unix", "utf8").split("\n").map((l) => l.trim().split(/\s+/).at(-1) ?? "").filter((p) => p.endsWith(tail)).map((p) => p.slice(0, -CONTROL_SOCKET.length - 1));
  } catch {
    return [];
  }
}

/** Where master pid's runtime dir may be, most likely first. */
export function candidateDirs(pid: number): string[] {
  const env = procEnviron(pid);
  if (!env) return [...new Set(boundDirs(pid))];
  let cwd = "/";
  try {
    cwd = readlinkSync(`/proc/${pid}/cwd`); // a relative TMPDIR is relative to the master's directory
  } catch {}
  return runtimeBases(env, cwd).map((b) => join(b, `sup-${pid}`));
}

/** Why dir/control.sock (dir as lstat saw it) is not the control socket of a master run by uid, or undefined when it passes. */
function socketProblem(dir: string, st: Stats, uid: number): string | undefined {
  const bad = runtimeDirProblem(dir, st, uid);
  if (bad) return bad;
  const path = join(dir, CONTROL_SOCKET);
  const s = lstatSync(path, { throwIfNoEntry: false });
  if (!s) return `${dir} has no ${CONTROL_SOCKET}`;
  if (!s.isSocket()) return `${path} is not a socket`;
  if (s.uid !== uid) return `${path} is owned by ${describeUid(s.uid)}, not by ${describeUid(uid)}`;
  return undefined;
}

export interface Located {
  uid: number; // the master's
  socket: string;
}

/**
 * The control socket of the live process pid (named by pidfile), or an
 * error: PermissionDenied when this user may not control it, UsageError
 * "not a sup master" when no trustworthy socket is there.
 */
export function locateControl(pid: number, pidfile: string): Located {
  const uid = procUid(pid);
  const notSup = (why: string) => new UsageError(`pid ${pid} (from ${pidfile}) is not a sup master: ${why}; nothing was signalled`);
  if (uid === undefined) throw notSup(`/proc/${pid}/status cannot be read`);
  const me = process.geteuid?.() ?? 0;
  if (me !== 0 && me !== uid) {
    throw new PermissionDenied(`permission denied: sup master pid ${pid} (from ${pidfile}) runs as ${describeUid(uid)}; only that user and root may control it (you are ${describeUid(me)}); nothing was signalled`);
  }
  const dirs = candidateDirs(pid);
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const dir of dirs.flatMap((d) => [d, `/proc/${pid}/root${d}`])) {
    let st: Stats | undefined;
    try {
      st = lstatSync(dir, { throwIfNoEntry: false });
    } catch {
      continue; // /proc/PID/root of a process we may not look into
    }
    // The same dir by two paths (we share the master's mount namespace) is judged once.
    if (!st || seen.has(`${st.dev}:${st.ino}`)) continue;
    seen.add(`${st.dev}:${st.ino}`);
    const why = socketProblem(dir, st, uid);
    if (!why) return { uid, socket: join(dir, CONTROL_SOCKET) };
    problems.push(why);
  }
  // A socket someone else planted where the master's would be is reported, never used.
  if (problems.length) throw notSup(`${problems.join("; ")}, so that is not its control socket`);
  const where = dirs.map((d) => join(d, CONTROL_SOCKET));
  throw notSup(where.length ? `it has no control socket at ${where.join(" or ")}` : "no control socket of it is bound (/proc/net/unix)");
}
