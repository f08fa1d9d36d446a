// The master's runtime dir, sup-PID: its control socket and the per-worker
// notify sockets. It lives in $XDG_RUNTIME_DIR when that is usable, else in
// $TMPDIR or /tmp, where anyone may have made that name first: so it is
// created exclusively (mkdir, never mkdir -p) and then checked (a real
// directory, ours, mode 0700) before a socket goes in. Clients find it from
// the master's pid (src/control/locate.ts), with the same checks.
import { closeSync, constants, fchmodSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, rmSync, statSync, type Stats } from "node:fs";
import { join, resolve } from "node:path";
import { AF_UNIX, ECONNREFUSED, ENOENT, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_STREAM, errno, libc } from "../native/libc.ts";
import { SUN_PATH_MAX, unixAddr } from "../net/sockaddr.ts";
import { StartError, describeUid, errnoWords, fsFailure } from "./errors.ts";
import { isAlive } from "./pidfile.ts";

export const CONTROL_SOCKET = "control.sock";
const NAME = /^sup-(\d+)$/;
/** What a master ever puts in its dir; a dir holding anything else is not ours to delete. */
const OUR_FILES = /^(control|notify|notify-\d+-\d+)\.sock$/;
/** Room for "/notify-<id>-<generation>.sock" after the dir in a sockaddr_un. */
const SOCKET_NAME_ROOM = 32;
/** A dir without a control socket this old is a master that died setting up, not one setting up now. */
const SETUP_GRACE_MS = 60_000;

type Env = Record<string, string | undefined>;
const euid = () => process.geteuid?.() ?? 0;

/** Where a master with this environment may keep sup-PID, in the order it prefers. */
export function runtimeBases(env: Env, cwd: string): string[] {
  const bases: string[] = [];
  if (env.XDG_RUNTIME_DIR) bases.push(resolve(cwd, env.XDG_RUNTIME_DIR));
  bases.push(env.TMPDIR ? resolve(cwd, env.TMPDIR) : "/tmp");
  return bases;
}

/** Why dir may not be used as the runtime dir of a master run by uid, or undefined when it may. */
export function runtimeDirProblem(dir: string, st: Stats, uid: number): string | undefined {
  if (st.isSymbolicLink()) {
    let to = "?";
    try {
      to = readlinkSync(dir);
    } catch {}
    return `${dir} is a symlink (to ${to}), owned by ${describeUid(st.uid)}`;
  }
  if (!st.isDirectory()) return `${dir} is not a directory (owned by ${describeUid(st.uid)})`;
  if (st.uid !== uid) return `${dir} is owned by ${describeUid(st.uid)}, not by ${describeUid(uid)}`;
  if ((st.mode & 0o7777) !== 0o700) return `${dir} has mode ${(st.mode & 0o7777).toString(8).padStart(4, "0")}, not 0700 (owned by ${describeUid(st.uid)})`;
  return undefined;
}

/** XDG_RUNTIME_DIR as the XDG Base Directory spec defines it: ours and 0700. */
function usableXdg(dir: string): boolean {
  const st = statSync(dir, { throwIfNoEntry: false });
  return !!st?.isDirectory() && st.uid === euid() && (st.mode & 0o077) === 0;
}

/** $TMPDIR (or /tmp) as it is: sup never creates it, and it must not let others swap our dir. */
function checkedTmp(dir: string, fromEnv: boolean): string {
  const what = fromEnv ? `TMPDIR ${dir}` : dir;
  let st: Stats;
  try {
    st = statSync(dir);
  } catch (e) {
    throw fsFailure(`${what} cannot be used for sup's runtime dir`, e, dir, fromEnv ? `create it or point TMPDIR at an existing directory (sup does not create it)` : undefined);
  }
  if (!st.isDirectory()) throw new StartError(`${what} is not a directory; point TMPDIR at a directory`);
  // Without the sticky bit anyone who may write there may also rename our dir away (unlink(2), "sticky").
  if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) {
    throw new StartError(`${what} is writable by others and has no sticky bit, so anyone could replace sup's runtime dir there; chmod +t it, or set TMPDIR to a private directory`);
  }
  return dir;
}

/**
 * Whether something still accepts on the unix socket at path. A pid that
 * looks dead may be a live master in another pid namespace sharing this
 * /tmp (a container, unshare --pid): only its socket can tell. The connect is
 * non-blocking and closed at once; the master sees an empty connection.
 */
function accepting(path: string): boolean {
  let sa: Buffer;
  try {
    sa = unixAddr(path);
  } catch {
    return false; // too long to be one of ours
  }
  const fd = libc.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return true; // cannot tell: keep it
  const r = libc.connect(fd, sa, sa.length);
  const code = r === 0 ? 0 : errno();
  libc.close(fd);
  return code !== ECONNREFUSED && code !== ENOENT;
}

/** A dir a dead master left: nothing listens on its control socket, and it is not being set up. */
function abandoned(dir: string, st: Stats): boolean {
  const sock = join(dir, CONTROL_SOCKET);
  if (lstatSync(sock, { throwIfNoEntry: false })) return !accepting(sock);
  return Date.now() - st.mtimeMs > SETUP_GRACE_MS;
}

/**
 * Deletes sup-PID dirs in base that a dead master of ours left (SIGKILL, a
 * crash, a container restarted with the same pid). Only dirs owned by us
 * that hold nothing but sockets sup makes (anything else is someone's data)
 * and that no live master still uses.
 */
export function removeDeadDirs(base: string, self: number): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return removed; // an unreadable base: nothing of ours to find
  }
  for (const name of names) {
    const pid = Number(NAME.exec(name)?.[1] ?? NaN);
    if (!Number.isInteger(pid) || (pid !== self && isAlive(pid))) continue;
    const dir = join(base, name);
    try {
      const st = lstatSync(dir);
      if (!st.isDirectory() || st.uid !== euid() || !readdirSync(dir).every((f) => OUR_FILES.test(f)) || !abandoned(dir, st)) continue;
      rmSync(dir, { recursive: true });
      removed.push(dir);
    } catch {
      // gone meanwhile, or not ours to read: leave it
    }
  }
  return removed;
}

/** Creates and checks the runtime dir of master pid; a StartError (exit 2) when it cannot. */
export function makeRuntimeDir(pid: number, env: Env, cwd: string): string {
  const bases = runtimeBases(env, cwd);
  const xdg = env.XDG_RUNTIME_DIR && usableXdg(bases[0]!) ? bases[0]! : undefined;
  const base = xdg ?? checkedTmp(bases[bases.length - 1]!, !!env.TMPDIR);
  for (const b of new Set([base, bases[bases.length - 1]!])) removeDeadDirs(b, pid);

  const dir = join(base, `sup-${pid}`);
  const room = SUN_PATH_MAX - 1 - Buffer.byteLength(dir);
  if (room < SOCKET_NAME_ROOM) throw new StartError(`runtime dir ${dir} is too long for the unix sockets sup puts in it (at most ${SUN_PATH_MAX - 1 - SOCKET_NAME_ROOM} bytes); set TMPDIR (or XDG_RUNTIME_DIR) to a shorter directory`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw fsFailure(`cannot create sup's runtime dir ${dir}`, e, base);
    const st = lstatSync(dir, { throwIfNoEntry: false });
    const why = st ? (runtimeDirProblem(dir, st, euid()) ?? `${dir} already exists (owned by ${describeUid(st.uid)})`) : `${dir} appeared and vanished`;
    throw new StartError(`runtime dir ${why}; sup uses only a dir it created itself. Remove it if it is not yours to keep, or set TMPDIR to a private directory; nothing was started`);
  }
  try {
    pinDir(dir);
  } catch (e) {
    removeRuntimeDir(dir);
    throw e;
  }
  return dir;
}

/**
 * The lstat check, done on the dir we just made through an fd opened
 * O_NOFOLLOW: what we check is what we chmod. The mode is set again
 * because mkdir's is cut by the umask.
 */
function pinDir(dir: string) {
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (e) {
    throw new StartError(`runtime dir ${dir} changed right after sup created it (${errnoWords(e)}); someone else writes in its parent directory; set TMPDIR to a private directory`);
  }
  try {
    const st = fstatSync(fd);
    if (st.uid !== euid()) throw new StartError(`runtime dir ${dir} is owned by ${describeUid(st.uid)} right after sup created it; set TMPDIR to a private directory`);
    if ((st.mode & 0o7777) !== 0o700) fchmodSync(fd, 0o700);
    const now = lstatSync(dir);
    if (now.ino !== st.ino || now.dev !== st.dev) throw new StartError(`runtime dir ${dir} was replaced right after sup created it; set TMPDIR to a private directory`);
  } finally {
    closeSync(fd);
  }
}

export function removeRuntimeDir(dir: string) {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // already gone; nothing else to do at exit
  }
}
