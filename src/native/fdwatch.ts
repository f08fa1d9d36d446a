// A readiness watcher for an fd Bun's own event loop cannot watch: a unix
// datagram socket (neither Bun nor node:dgram has them, DESIGN.md §7), or
// our own non-blocking copy of stdout waiting to be writable again.
//
// A small C function, compiled at start by bun:ffi's `cc` (TinyCC), runs a
// thread that blocks in poll(2) on the fd and, when it is ready, calls a
// threadsafe JSCallback: Bun queues that call on the JS thread like any other
// event. The thread then waits on an ack pipe until JS has drained the fd and
// re-armed it, so it never spins and JS never races it. The master thus hears
// of a datagram as soon as it arrives, idle or not, with no timer.
//
// Built with compileC (cc.ts). Where it cannot be, watch() returns undefined
// and the caller polls.
import { JSCallback } from "bun:ffi";
import { compileOnce } from "./cc.ts";
import { O_CLOEXEC, errno, libc, strerror } from "./libc.ts";

const SOURCE = String.raw`
typedef unsigned long size_t;
typedef long ssize_t;
typedef unsigned long pthread_t;
struct pollfd { int fd; short events; short revents; };
extern int poll(struct pollfd *fds, unsigned long n, int timeout);
extern ssize_t read(int fd, void *buf, size_t n);
extern void *malloc(size_t n);
extern int pthread_create(pthread_t *t, void *attr, void *(*fn)(void *), void *arg);
extern int pthread_detach(pthread_t t);
extern int *__errno_location(void);
typedef void (*ready_fn)(int events);
struct watch { int fd; int ack; ready_fn ready; short events; };

/* 'q' on the ack pipe ends the thread; any other byte re-arms it. */
static int wait_ack(int ack) {
  char b;
  for (;;) {
    ssize_t n = read(ack, &b, 1);
    if (n == 1) return b != 'q';
    if (n == 0 || *__errno_location() != 4) return 0; /* EOF, or an error other than EINTR */
  }
}

static void *loop(void *arg) {
  struct watch *w = arg;
  for (;;) {
    struct pollfd p[2] = { { w->fd, w->events, 0 }, { w->ack, 1, 0 } }; /* ack: POLLIN */
    if (poll(p, 2, -1) < 0) { if (*__errno_location() == 4) continue; return 0; } /* EINTR; anything else ends the watch */
    if (p[1].revents) { if (!wait_ack(w->ack)) return 0; continue; }
    if (p[0].revents & 0x20) return 0; /* POLLNVAL: the fd was closed */
    if (!p[0].revents) continue;
    w->ready(p[0].revents);
    if (!wait_ack(w->ack)) return 0;
  }
}

int watch_start(int fd, int ack, ready_fn ready, int events) {
  pthread_t t;
  struct watch *w = malloc(sizeof *w);
  if (!w) return -1;
  w->fd = fd; w->ack = ack; w->ready = ready; w->events = (short)events;
  if (pthread_create(&t, 0, loop, w) != 0) return -1;
  /* It fails only for a thread that is not joinable (pthread_detach(3)); t
     is, and the thread runs already: failing here would orphan it. */
  pthread_detach(t);
  return 0;
}
`;

type Lib = { watch_start(fd: number, ack: number, ready: unknown, events: number): number };
const build = compileOnce("fdwatch.c", SOURCE, { watch_start: { args: ["i32", "i32", "function", "i32"], returns: "i32" } });
let why = "";

function compile(): Lib | null {
  const lib = build();
  if (typeof lib !== "string") return lib as unknown as Lib;
  why = lib;
  return null;
}

/** Why watch() returned undefined, for the log. */
export const watchUnavailable = () => why;

export interface FdWatch {
  /** The fd was drained: wake me the next time it is readable. */
  rearm(): void;
  close(): void;
}

const live: JSCallback[] = []; // a thread may call its callback until it ends: never freed

const POLLIN = 1;
const POLLOUT = 4;

/** Calls onReadable (on the JS thread) each time fd becomes readable, until close(); undefined when no thread can be made here. */
export const watchReadable = (fd: number, onReadable: () => void) => watchFd(fd, POLLIN, onReadable);

/** The same for "writable again" (POLLOUT): a writer that met EAGAIN is woken as soon as the reader has made room. */
export const watchWritable = (fd: number, onWritable: () => void) => watchFd(fd, POLLOUT, onWritable);

function watchFd(fd: number, events: number, onReady: () => void): FdWatch | undefined {
  const l = compile();
  if (!l) return undefined;
  const fds = new Int32Array(new ArrayBuffer(8));
  if (libc.pipe2(fds, O_CLOEXEC) < 0) {
    why = `pipe2: ${strerror(errno())}`;
    return undefined;
  }
  const [ackRead, ackWrite] = [fds[0]!, fds[1]!];
  const cb = new JSCallback(() => onReady(), { args: ["i32"], returns: "void", threadsafe: true });
  live.push(cb);
  if (l.watch_start(fd, ackRead, cb.ptr, events) !== 0) {
    libc.close(ackRead);
    libc.close(ackWrite);
    why = "pthread_create failed";
    return undefined;
  }
  const byte = (c: string) => libc.write(ackWrite, Buffer.from(c), 1);
  let closed = false;
  return {
    rearm: () => {
      if (!closed) byte("a");
    },
    close: () => {
      if (closed) return;
      closed = true;
      byte("q"); // the thread reads it and ends; it closes nothing of ours
    },
  };
}
