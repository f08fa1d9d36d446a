// A unix socket address has no SO_REUSEPORT group: a client reaches the
// socket whose file is at the path when it connects (unix(7)). So each
// generation binds its own socket beside the path, at a private name, and
// steering renames it over the path: rename(2) replaces the path atomically,
// so a client finds either the old socket or the new one, never nothing.
// The socket it replaces first gets its private name back (link(2)), so a
// rollback can rename it over the path again. Every socket has one name:
// the path while steered, its private name otherwise.
import { existsSync, linkSync, lstatSync, renameSync } from "node:fs";
import { dirname } from "node:path";
import { ConfigError } from "../config/coerce.ts";
import { closeListen, removeStaleSocket, unlinkQuietly, type ListenSocket } from "./listen.ts";
import { SUN_PATH_MAX } from "./sockaddr.ts";

export interface UnixListener {
  sock: ListenSocket;
  /** Its private name, beside the path. */
  home: string;
  /** The inode of its socket file, to know the path is still ours. */
  ino: number;
}

/** The private name of generation gen's socket for path, or undefined when it would not fit in sockaddr_un. */
export function homeFor(path: string, gen: number): string | undefined {
  const home = `${path}.sup-gen${gen}`;
  return Buffer.byteLength(home) < SUN_PATH_MAX ? home : undefined;
}

/** A listener just bound at sock.path. */
export function unixListener(sock: ListenSocket, home: string): UnixListener {
  return { sock, home, ino: lstatSync(sock.path!).ino };
}

const why = (e: unknown) => (e as NodeJS.ErrnoException).code ?? String(e);

/**
 * Puts `to` at path in place of `from`. Undefined when done, else what went
 * wrong; then nothing changed. The path is replaced only while it is still
 * from's socket file (or gone): never a file someone else put there.
 */
export function steerUnix(path: string, from: UnixListener | undefined, to: UnixListener): string | undefined {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    // gone (its directory too, perhaps): the rename below puts the new socket there or says why not
  }
  if (st && !(from && st.isSocket() && st.ino === from.ino)) return `${path} is no longer the socket sup bound there; leaving it alone`;
  if (st && from) {
    try {
      linkSync(path, from.home);
    } catch (e) {
      return `link ${path} → ${from.home}: ${why(e)}`;
    }
  }
  try {
    renameSync(to.sock.path!, path);
  } catch (e) {
    if (st && from) unlinkQuietly(from.home);
    return `rename ${to.sock.path} → ${path}: ${why(e)}`;
  }
  // A from whose file was deleted has no name left to remove when it closes.
  if (from) from.sock.path = st ? from.home : undefined;
  to.sock.path = path;
  return undefined;
}

/**
 * Before a reload binds for a new generation: is path still the socket sup
 * bound there? "ours", or "gone" (deleted, or a dead socket that is now
 * removed), so the new generation's socket must be put there; a file that
 * is not a socket, a socket another process listens on, or a deleted
 * directory is a ConfigError that fails the reload (the workers serving
 * keep serving): a reload never reports done while the path reaches nothing.
 */
export function checkUnixPath(name: string, path: string, ours: UnixListener | undefined): "ours" | "gone" {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    const dir = dirname(path);
    if (!existsSync(dir)) throw new ConfigError(`listen ${name}: the directory ${dir} was deleted after sup bound its socket there, so nothing can connect by that path; create it again (mkdir -p ${dir}) and reload`);
    return "gone";
  }
  if (ours && st.isSocket() && st.ino === ours.ino) return "ours";
  if (!st.isSocket()) throw new ConfigError(`listen ${name}: ${path} is no longer the socket sup bound there (it is now a ${st.isDirectory() ? "directory" : st.isSymbolicLink() ? "symlink" : "file that is not a socket"}); remove it and reload`);
  removeStaleSocket(name, path); // another process's: in use is an error, a dead one is removed
  return "gone";
}

/** Closes the socket and removes its name, if that is still its file. */
export function closeUnix(l: UnixListener) {
  let ours = false;
  try {
    ours = l.sock.path !== undefined && lstatSync(l.sock.path).ino === l.ino;
  } catch {
    // gone already
  }
  closeListen([{ ...l.sock, path: ours ? l.sock.path : undefined }]);
}
