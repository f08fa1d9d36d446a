// The kernel side of the events engine: one inotify(7) instance, a watch on
// each directory the tree holds (never on ignored ones: node_modules and .git
// churn costs nothing), read without any periodic work: the fd is
// non-blocking and Bun's stream of it waits in the event loop's epoll.
import { dlopen, read } from "bun:ffi";
import { openLibc } from "../native/libc-name.ts";
import { strerror } from "../native/libc.ts";

// <sys/inotify.h>, the same on every Linux architecture.
export const IN_ATTRIB = 0x4, IN_CLOSE_WRITE = 0x8, IN_MOVED_FROM = 0x40, IN_MOVED_TO = 0x80;
export const IN_CREATE = 0x100, IN_DELETE = 0x200, IN_DELETE_SELF = 0x400, IN_MOVE_SELF = 0x800;
export const IN_Q_OVERFLOW = 0x4000, IN_IGNORED = 0x8000, IN_ISDIR = 0x40000000;
const IN_ONLYDIR = 0x1000000, IN_EXCL_UNLINK = 0x4000000;
const IN_NONBLOCK = 0o4000, IN_CLOEXEC = 0o2000000;
// No IN_MODIFY: it fires on every write(2), so a log file that stays open in
// the tree would wake the master on each line. A save ends with a close
// (IN_CLOSE_WRITE) or a rename (IN_MOVED_TO); touch(1) is IN_ATTRIB. What
// neither reports (truncate(2), writes through a long-open fd or mmap) the
// verification scan finds.
const MASK = IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK;
export const ENOSPC = 28, ENOENT = 2, ENOTDIR = 20;

const libc = openLibc((name) =>
  dlopen(name, {
    inotify_init1: { args: ["i32"], returns: "i32" },
    inotify_add_watch: { args: ["i32", "ptr", "u32"], returns: "i32" },
    inotify_rm_watch: { args: ["i32", "i32"], returns: "i32" },
    statfs: { args: ["ptr", "ptr"], returns: "i32" },
    close: { args: ["i32"], returns: "i32" },
    __errno_location: { args: [], returns: "ptr" },
  }),
).symbols;
const errno = () => read.i32(libc.__errno_location()!, 0);

/** One event: the watch, what happened, and the entry's name (raw bytes; empty for the directory itself). */
export interface InotifyEvent {
  wd: number;
  mask: number;
  name: Uint8Array;
}

export class Inotify {
  private cancel: (() => Promise<void>) | null = null;
  private closed = false;

  private constructor(private readonly fd: number) {}

  /** A new instance, or the reason there is none (EMFILE: fs.inotify.max_user_instances). */
  static open(): Inotify | string {
    const fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    return fd < 0 ? `inotify_init1 failed (${strerror(errno())})` : new Inotify(fd);
  }

  /** Watch a directory (NUL-terminated path); returns the watch descriptor or -errno. The same directory twice gives the same wd. */
  add(path: Uint8Array): number {
    const wd = libc.inotify_add_watch(this.fd, path, MASK);
    return wd < 0 ? -errno() : wd;
  }

  remove(wd: number): void {
    // EINVAL when the kernel already dropped it (the directory was deleted: IN_IGNORED); nothing to undo.
    libc.inotify_rm_watch(this.fd, wd);
  }

  /** Calls `on` with the events of each read, until close(). */
  start(on: (events: InotifyEvent[]) => void, failed: (why: string) => void): void {
    const reader = Bun.file(this.fd).stream().getReader();
    this.cancel = () => reader.cancel();
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done || this.closed) return;
          on(parse(value));
        }
      } catch (e) {
        if (!this.closed) failed((e as Error).message);
      }
    })();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.cancel?.().catch(() => {});
    // Bun's stream reads a dup of the fd (and closes it on cancel); this one is ours.
    if (libc.close(this.fd) !== 0) throw new Error(`close of the inotify fd failed (${strerror(errno())})`);
  }
}

/** struct inotify_event records (inotify(7)): wd, mask, cookie, len, then len bytes of NUL-padded name. A read never splits one. */
export function parse(buf: Uint8Array): InotifyEvent[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const events: InotifyEvent[] = [];
  for (let at = 0; at + 16 <= buf.length; ) {
    const len = view.getUint32(at + 12, true);
    const raw = buf.subarray(at + 16, at + 16 + len);
    const end = raw.indexOf(0);
    events.push({ wd: view.getInt32(at, true), mask: view.getUint32(at + 4, true), name: end < 0 ? raw : raw.subarray(0, end) });
    at += 16 + len;
  }
  return events;
}

// statfs(2) f_type values of filesystems where inotify sees only the changes
// made through this kernel (linux/magic.h, and the FUSE, 9p and VM-share
// drivers): a file edited on the server or the host never sends an event.
const REMOTE: Record<number, string> = {
  0x6969: "nfs", 0x517b: "smb", 0xff534d42: "cifs", 0xfe534d42: "smb2", 0x65735546: "fuse",
  0x01021997: "9p", 0x00c36400: "ceph", 0x5346414f: "afs", 0x73757245: "coda", 0x564c: "ncp",
  0x786f4256: "vboxsf", 0x0bd00bd0: "lustre", 0x47504653: "gpfs", 0x013111a8: "ibrix", 0x19830326: "fhgfs",
};

/** The name of the remote/FUSE filesystem `path` (NUL-terminated) is on, or null for a local one (or when statfs fails). */
export function remoteFs(path: Uint8Array): string | null {
  const buf = new BigInt64Array(new ArrayBuffer(256)); // struct statfs: f_type is the first word (a long) on 64-bit Linux
  if (libc.statfs(path, buf) !== 0) return null;
  return REMOTE[Number(BigInt.asUintN(32, buf[0]!))] ?? null;
}
