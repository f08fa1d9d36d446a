// Errors of the files and sockets the master sets up at start. Each is a
// ConfigError, so main.ts prints it as one line and exits 2 (nothing was
// started), and each names the path, the errno in words and what to do.
import { lstatSync, readFileSync } from "node:fs";
import { ConfigError } from "../config/coerce.ts";
import { strerror } from "../native/libc.ts";

export class StartError extends ConfigError {
  override name = "StartError";
}

/** A control client may not talk to this master (another uid): exit 2, nothing signalled. */
export class PermissionDenied extends ConfigError {
  override name = "PermissionDenied";
}

/** "no space left on device (ENOSPC)" for a node:fs or Bun error; its message otherwise. */
export function errnoWords(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  // node:fs messages read "ENOSPC: no space left on device, mkdir '/tmp/x'".
  const m = /^(E[A-Z0-9]+): ([^,]+)/.exec(err?.message ?? "");
  if (m) return `${m[2]} (${m[1]})`;
  // Bun.listen's read "Failed to listen at /path", with the errno beside it.
  if (typeof err?.errno === "number" && err.errno !== 0) return `${strerror(Math.abs(err.errno))}${err.code ? ` (${err.code})` : ""}`;
  return err?.code ? `${err.message} (${err.code})` : String(err?.message ?? e);
}

const HINTS: Record<string, (dir: string) => string> = {
  EACCES: (dir) => `check the permissions of ${dir}, or run sup as a user who may write there`,
  EPERM: (dir) => `check the owner and permissions of ${dir}`,
  ENOSPC: (dir) => `free some space (or inodes) in ${dir}, or set TMPDIR to another directory`,
  EDQUOT: (dir) => `your disk quota on ${dir} is used up; free some space`,
  EROFS: (dir) => `${dir} is on a read-only filesystem; choose a writable directory`,
  ENOENT: (dir) => `create ${dir} first (sup does not), or choose another directory`,
  ENOTDIR: (dir) => `${dir} is not a directory`,
  ENAMETOOLONG: () => "use a shorter path",
};

/**
 * "cannot create the runtime dir /tmp/sup-42: no space left on device
 * (ENOSPC); free some space …". dir is where the fix is (the parent).
 */
export function fsFailure(what: string, e: unknown, dir: string, hint?: string): StartError {
  const code = (e as NodeJS.ErrnoException)?.code ?? "";
  const fix = hint ?? HINTS[code]?.(dir);
  return new StartError(`${what}: ${errnoWords(e)}${fix ? `; ${fix}` : ""}`);
}

/** "uid 65534 (nobody)", from /etc/passwd when it names the uid. */
export function describeUid(uid: number): string {
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const f = line.split(":");
      if (f.length > 2 && Number(f[2]) === uid && f[2] !== "") return `uid ${uid} (${f[0]})`;
    }
  } catch {
    // no passwd file (a scratch container): the number alone
  }
  return `uid ${uid}`;
}

/**
 * What stands at a path sup was to create or replace, when that is why it
 * could not: "a symbolic link owned by uid 65534 (nobody)", "a directory
 * owned by …". Undefined when nothing is there, or it is a regular file of
 * sup's own user (then the errno alone says why). A link in a sticky
 * directory (/tmp) may be replaced only by its owner, and the kernel may say
 * EACCES rather than ELOOP for one opened O_NOFOLLOW: the errno alone would
 * send the user to the directory's permissions, not to what was planted.
 */
export function whatIsAt(path: string): string | undefined {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return undefined;
  }
  if (st.isFile() && st.uid === (process.geteuid?.() ?? 0)) return undefined;
  const kind = st.isSymbolicLink() ? "a symbolic link" : st.isDirectory() ? "a directory" : st.isFile() ? "a file" : "a special file";
  return `${kind} owned by ${describeUid(st.uid)}`;
}
