// The master's stdout and stderr as bounded, non-blocking writers: a reader
// that stops reading (a stuck `| tee`, a container log driver that blocks)
// must never stop the master. Lines are queued up to a byte limit, written
// once per event-loop turn, and dropped and counted past the limit; the
// count is reported once per interval.
//
// Non-blocking without touching anyone else's file: O_NONBLOCK is a flag of
// the open file description (fcntl(2)), which the master shares with its
// parent shell and any process that inherited the same stdout. So a pipe,
// FIFO or terminal is opened again through /proc/self/fd/N, which gives a
// new description of the same pipe or tty (proc(5)) that only we set
// O_NONBLOCK on; a socket is written with send(MSG_DONTWAIT), which is
// per call (send(2)); a regular file never blocks on write.
import { closeSync, constants, fstatSync, openSync } from "node:fs";
import { watchWritable, type FdWatch } from "../native/fdwatch.ts";
import { EAGAIN, EBADF, EINTR, EPIPE, MSG_DONTWAIT, MSG_NOSIGNAL, POLLOUT, errno, libc, strerror } from "../native/libc.ts";

/** Queued bytes per stream before lines are dropped. */
export const QUEUE_LIMIT = 1 << 20;
/** Room kept beyond the limit for the master's own lines and drop reports. */
const PRIORITY_ROOM = 64 << 10;
/** At most this much per write(2). */
const CHUNK = 64 << 10;
// Without a watcher thread: retry after EAGAIN, from 1 ms, doubling while
// nothing gets through; any progress starts over at 1 ms, so a reader that
// keeps up is kept up with.
const RETRY_MIN_MS = 1;
const RETRY_MAX_MS = 100;
const NEWLINE = new Uint8Array([10]);
/** Drops are reported at most once per this interval. */
export const REPORT_EVERY_MS = 10_000;

type Mode = "write" | "send" | "poll";

/** How to write fd without blocking and without changing a shared description. */
function openPrivate(fd: number): { fd: number; mode: Mode; owned: boolean } {
  let st;
  try {
    st = fstatSync(fd);
  } catch {
    return { fd, mode: "write", owned: false }; // closed: writes fail with EBADF and are dropped
  }
  if (st.isSocket()) return { fd, mode: "send", owned: false };
  if (!st.isFIFO() && !st.isCharacterDevice()) return { fd, mode: "write", owned: false };
  try {
    const own = openSync(`/proc/self/fd/${fd}`, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY | 0o2000000 /* O_CLOEXEC */);
    if (st.isFIFO()) widenPipe(own);
    return { fd: own, mode: "write", owned: true };
  } catch {
    // No /proc, or a pipe another user made (its mode is 0600): write the
    // shared fd only when poll(2) says a PIPE_BUF write fits (pipe(7)).
    return { fd, mode: "poll", owned: false };
  }
}

const F_SETPIPE_SZ = 1031;
const F_GETPIPE_SZ = 1032;
/** The pipe's capacity we ask for (the kernel's default limit, /proc/sys/fs/pipe-max-size). */
const PIPE_SIZE = 1 << 20;

/**
 * A bigger pipe: at 64 KiB (the default) a writer flooding at 50 MB/s has
 * 1.3 ms from POLLOUT to its next write before a fast reader runs dry, and a
 * busy loop misses that often (a fast reader lost 0.1-63 % of a 50 MB/s
 * flood). 1 MiB gives 20 ms. Only ever grown; a refusal (a pipe-max-size
 * below it, or the user's pipe-user-pages limit) keeps the pipe as it is.
 */
function widenPipe(fd: number) {
  if (libc.fcntl(fd, F_GETPIPE_SZ, 0) < PIPE_SIZE) libc.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE);
}

export class Output {
  private target: { fd: number; mode: Mode; owned: boolean };
  private queue: Uint8Array[] = [];
  private queued = 0;
  private head = 0; // bytes of queue[0] already written
  private scheduled = false;
  /** Waiting for the fd to be writable again (after EAGAIN). */
  private blocked = false;
  private retryMs = 0;
  private retryTimer?: ReturnType<typeof setTimeout>;
  /** Wakes flush() when the fd is writable again (POLLOUT); undefined: use the retry timer. */
  private watch?: FdWatch | null;
  private closed = false;
  private readonly pollBuf = new Int16Array(new ArrayBuffer(8)); // struct pollfd { int fd; short events, revents; }
  /** Lines dropped since the last report, and in all. */
  dropped = 0;
  droppedTotal = 0;
  private lastReport = 0;
  private reportTimer?: ReturnType<typeof setTimeout>;
  /** Called (at most once per interval) with the number of lines dropped, and the write error that dropped them if one did (errno in words). */
  onDrop?: (count: number, error?: string) => void;
  /** The last write error since the last report (ENOSPC on a full disk, EIO, …). */
  private lastError?: string;
  /** The last byte written ends no line: the rest of the line is still to come. */
  private midLine = false;
  /**
   * A write error dropped the rest of a line whose start is written (a disk
   * that filled up mid-line): the next write begins with a newline, so the
   * first line after the disk has room again is not glued to that fragment.
   */
  private cut = false;

  constructor(
    fd: number,
    private readonly limit = QUEUE_LIMIT,
    private readonly reportEveryMs = REPORT_EVERY_MS,
  ) {
    this.target = openPrivate(fd);
    new Int32Array(this.pollBuf.buffer)[0] = this.target.fd;
    this.pollBuf[2] = POLLOUT;
  }

  /** Queues bytes (a whole line with its newline); false when dropped. `priority` lines may use extra room. */
  write(bytes: Uint8Array, priority = false): boolean {
    if (this.closed) return false;
    if (this.queued + bytes.length > this.limit + (priority ? PRIORITY_ROOM : 0)) {
      this.drop();
      return false;
    }
    this.queue.push(bytes);
    this.queued += bytes.length;
    if (!this.scheduled && !this.blocked) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return true;
  }

  /** True when a line of `n` bytes would be dropped now: callers skip building it. */
  full(n: number): boolean {
    return this.closed || this.queued + n > this.limit;
  }

  /** Counts a line the caller did not even build (see full()). */
  skip(): void {
    if (!this.closed) this.drop();
  }

  get pending(): number {
    return this.queued - this.head;
  }

  /** Writes what it can now; the rest waits for a retry. */
  flush(): void {
    this.scheduled = false;
    this.retryTimer = undefined;
    this.blocked = false;
    let progress = false;
    while (this.queue.length > 0 && !this.closed) {
      const n = this.writeSome();
      if (n < 0) return this.waitWritable(progress);
      if (n > 0) progress = true;
      this.consume(n);
    }
    this.retryMs = 0;
  }

  private writeSome(): number {
    // Coalesce small lines into one write.
    let buf = this.queue[0]!.subarray(this.head);
    if (buf.length < CHUNK && this.queue.length > 1) {
      let size = buf.length;
      let i = 1;
      while (i < this.queue.length && size + this.queue[i]!.length <= CHUNK) size += this.queue[i++]!.length;
      if (i > 1) {
        const joined = new Uint8Array(size);
        joined.set(buf, 0);
        for (let j = 1, at = buf.length; j < i; at += this.queue[j]!.length, j++) joined.set(this.queue[j]!, at);
        this.queue.splice(0, i, joined);
        this.head = 0;
        buf = joined;
      }
    }
    let len = Math.min(buf.length, CHUNK);
    if (this.target.mode === "poll") {
      if (libc.poll(this.pollBuf, 1, 0) !== 1 || (this.pollBuf[3]! & POLLOUT) === 0) return -1;
      len = Math.min(len, 4096); // PIPE_BUF: fits whole once POLLOUT is set
    }
    if (this.cut) {
      const n = this.put(NEWLINE, 1);
      if (n <= 0) return n;
      this.cut = false;
    }
    const n = this.put(buf, len);
    if (n > 0) this.midLine = buf[n - 1] !== 10;
    return n;
  }

  /** One write(2) or send(2): bytes written, -1 to wait (EAGAIN), 0 after an error that dropped what was queued. */
  private put(buf: Uint8Array, len: number): number {
    const { fd, mode } = this.target;
    for (;;) {
      const n = Number(mode === "send" ? libc.send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) : libc.write(fd, buf, len));
      if (n >= 0) return n;
      const code = errno();
      if (code === EINTR) continue;
      if (code === EAGAIN) return -1;
      // EPIPE (nobody reads any more) and EBADF are for good: drop it all,
      // count it, stop trying. ENOSPC (a full disk), EIO and the like may
      // pass: drop what is queued, count it, and try the next lines again.
      this.lastError = `${strerror(code)} (errno ${code})`;
      if (this.midLine) this.cut = true;
      this.midLine = false;
      if (code === EPIPE || code === EBADF) this.close(true);
      else this.dropQueued();
      return 0;
    }
  }

  private consume(n: number): void {
    this.head += n;
    while (this.queue.length > 0 && this.head >= this.queue[0]!.length) {
      this.head -= this.queue[0]!.length;
      this.queued -= this.queue.shift()!.length;
    }
  }

  /** EAGAIN: flush again once the reader has made room (POLLOUT), or after a short retry. */
  private waitWritable(progress: boolean): void {
    this.blocked = true;
    if (this.watch === undefined) this.watch = watchWritable(this.target.fd, () => this.flush()) ?? null;
    else if (this.watch) this.watch.rearm();
    if (this.watch) return;
    this.retryMs = progress ? RETRY_MIN_MS : Math.min(Math.max(RETRY_MIN_MS, this.retryMs * 2), RETRY_MAX_MS);
    this.retryTimer = setTimeout(() => this.flush(), this.retryMs);
  }

  private drop(lines = 1): void {
    this.dropped += lines;
    this.droppedTotal += lines;
    if (this.reportTimer || !this.onDrop) return;
    const wait = Math.max(0, this.lastReport + this.reportEveryMs - Date.now());
    this.reportTimer = setTimeout(() => {
      this.reportTimer = undefined;
      this.lastReport = Date.now();
      const n = this.dropped;
      const error = this.lastError;
      this.dropped = 0;
      this.lastError = undefined;
      this.onDrop?.(n, error);
    }, wait);
  }

  /** Drops what is queued, counting its lines (small lines were joined into one buffer per write). */
  private dropQueued(): void {
    for (let i = 0; i < this.queue.length; i++) {
      const b = i === 0 ? this.queue[0]!.subarray(this.head) : this.queue[i]!;
      let lines = 0;
      for (let at = b.indexOf(10); at >= 0; at = b.indexOf(10, at + 1)) lines++;
      this.drop(Math.max(1, lines));
    }
    this.queue = [];
    this.queued = this.head = 0;
  }

  private close(dropQueued: boolean): void {
    if (dropQueued) this.dropQueued();
    this.closed = true;
    this.queue = [];
    this.queued = this.head = 0;
    clearTimeout(this.retryTimer);
  }

  /**
   * Writes go to `fd` from now on (a log file reopened or rotated, see
   * logfile.ts): what is queued is written to the old fd first (a regular
   * file, where write(2) does not wait), so no line is split between the two.
   */
  retarget(fd: number): void {
    if (!this.closed) this.flush();
    clearTimeout(this.retryTimer);
    this.watch?.close();
    this.watch = undefined;
    this.blocked = false;
    this.target = openPrivate(fd);
    new Int32Array(this.pollBuf.buffer)[0] = this.target.fd;
    this.closed = false;
    this.midLine = this.cut = false; // a fragment left in the old file is not this file's
    if (this.queue.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Last chance at exit: try to write what is queued, without waiting. */
  end(): void {
    clearTimeout(this.retryTimer);
    clearTimeout(this.reportTimer);
    if (this.dropped > 0) this.onDrop?.(this.dropped, this.lastError); // the disk is still full: say so, not "too slow"
    this.dropped = 0;
    this.flush();
    clearTimeout(this.retryTimer);
    this.watch?.close();
    if (this.target.owned) closeSync(this.target.fd);
    this.closed = true;
  }
}
