// --logto FILE: the master's log and every worker's output go to a file
// (uWSGI's logto), through the same bounded writer as stdout and stderr, so
// a slow or full disk drops and counts lines and never stops the master.
//
// Opened O_APPEND (each line lands whole at the end, even beside a
// logrotate copytruncate or another writer), O_NOFOLLOW (a symlink planted
// where the log goes is refused, open(2)), O_NONBLOCK (a FIFO there must not
// hang the open; it is refused next), created 0640 (less the umask). An
// existing file must be a regular file with one link, owned by the master's
// user or root: a hard link to another file (/etc/shadow in a shared /tmp)
// is refused.
//
// Reopen (USR1, `sup reopen-logs`, --touch-logreopen): what is queued is
// written to the old file, then FILE is opened again; logrotate's rename
// and `create` lose no line. --log-maxsize rotates by itself: FILE becomes
// FILE.1 (the previous FILE.1 is replaced) and a new FILE starts.
import { closeSync, constants, fstatSync, openSync, renameSync } from "node:fs";
import { ConfigError } from "../config/coerce.ts";
import { whatIsAt } from "../control/errors.ts";
import { Output, QUEUE_LIMIT } from "./writer.ts";

/** A full disk or a failing file is reported once a minute, not per line. */
export const LOGFILE_REPORT_EVERY_MS = 60_000;
const MIB = 1 << 20;

function failure(path: string, e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  // What stands there says more than the errno: a link planted in a sticky
  // /tmp is EACCES (not ELOOP) to some kernels, a directory EISDIR.
  const there = code === "ELOOP" || code === "EACCES" || code === "EPERM" || code === "EISDIR" ? whatIsAt(path) : undefined;
  if (code === "ELOOP" || there?.startsWith("a symbolic link")) return `${path} is a symbolic link; sup does not follow one (O_NOFOLLOW): give the real path, or remove it`;
  if (there) return `${path} is ${there}; remove it or choose another path`;
  if (code === "ENOENT") return `the directory of ${path} does not exist; create it`;
  if (code === "EACCES" || code === "EPERM") return `permission denied to create or append to ${path}`;
  if (code === "ENXIO") return `${path} is a FIFO nobody reads; give a regular file`;
  return `${path}: ${(e as Error).message}`;
}

/** Opens FILE for appending and checks what it is; throws an Error saying why not. */
function openLog(path: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK | 0o2000000 /* O_CLOEXEC */, 0o640);
  } catch (e) {
    throw new Error(failure(path, e));
  }
  const st = fstatSync(fd);
  const euid = process.geteuid?.() ?? 0;
  const why = !st.isFile() ? "is not a regular file" : st.nlink !== 1 ? `has ${st.nlink} hard links (a log file has one)` : st.uid !== euid && st.uid !== 0 ? `is owned by uid ${st.uid}, not by the master's user (uid ${euid}) or root` : undefined;
  if (why) {
    closeSync(fd);
    throw new Error(`${path} ${why}; remove it or choose another path`);
  }
  return { fd, size: st.size };
}

export class LogFile extends Output {
  private fd: number;
  /** Bytes in the file, as far as the lines queued so far go. */
  private size: number;
  rotations = 0;
  /** The last reopen or rotation that failed, reported once. */
  onError?: (message: string) => void;

  private constructor(
    readonly path: string,
    opened: { fd: number; size: number },
    private readonly maxBytes: number,
  ) {
    super(opened.fd, QUEUE_LIMIT, LOGFILE_REPORT_EVERY_MS);
    this.fd = opened.fd;
    this.size = opened.size;
  }

  /** At start: a file that cannot be opened is a usage error (exit 2, nothing started). */
  static open(path: string, maxMb: number): LogFile {
    try {
      return new LogFile(path, openLog(path), maxMb * MIB);
    } catch (e) {
      throw new ConfigError(`logto ${(e as Error).message}`);
    }
  }

  override write(bytes: Uint8Array, priority = false): boolean {
    if (this.maxBytes > 0 && this.size > 0 && this.size + bytes.length > this.maxBytes) this.rotate();
    const ok = super.write(bytes, priority);
    if (ok) this.size += bytes.length;
    return ok;
  }

  /** Opens FILE again (after logrotate moved it away); on failure the old file is kept. */
  reopen(): { ok: boolean; message: string } {
    let next: { fd: number; size: number };
    try {
      next = openLog(this.path);
    } catch (e) {
      return { ok: false, message: `cannot reopen the log file: ${(e as Error).message}; still writing to the file it was` };
    }
    this.retarget(next.fd);
    closeSync(this.fd);
    this.fd = next.fd;
    this.size = next.size;
    return { ok: true, message: `log file ${this.path} reopened` };
  }

  /** --log-maxsize: FILE → FILE.1, and a new FILE. */
  private rotate() {
    try {
      this.flush(); // what belongs to the full file goes there
      renameSync(this.path, `${this.path}.1`);
    } catch (e) {
      this.size = 0; // try again after another maxsize, not at every line
      return this.onError?.(`cannot rotate the log file: ${failure(this.path, e)}`);
    }
    const r = this.reopen();
    if (r.ok) this.rotations++;
    else {
      this.size = 0;
      this.onError?.(r.message);
    }
  }

  override end(): void {
    super.end();
    try {
      closeSync(this.fd);
    } catch {}
  }
}
