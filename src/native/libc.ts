// The one libc table: the calls sup needs and neither Bun nor node:net
// offers: a listening socket the master never accepts on, unix datagram
// sockets for sd_notify (DESIGN.md §7), the peer credentials of a unix
// socket, users and groups, and what the exec shim does between fork and
// exec (prctl, signals, setgroups/setgid/setuid, execve). Linux only; the
// constants are the values of <sys/socket.h>, <netinet/in.h> and
// <sys/prctl.h>, the same on x86_64 and arm64.
import { FFIType, dlopen, ptr, read } from "bun:ffi";
import { openLibc } from "./libc-name.ts";

export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_REUSEPORT = 15;
export const SO_ATTACH_REUSEPORT_CBPF = 51;
export const IPPROTO_TCP = 6;
export const TCP_INFO = 11;
export const SHUT_RD = 0;
export const PRIO_PGRP = 1;
export const RLIMIT_NICE = 13;
export const SO_PEERCRED = 17;
export const IPPROTO_IPV6 = 41;
export const IPV6_V6ONLY = 26;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;
export const SO_PASSCRED = 16;
export const SCM_CREDENTIALS = 2;
export const POLLOUT = 4;
export const O_CLOEXEC = 0o2000000;
export const F_SETFD = 2;
export const F_SETFL = 4;
export const O_NONBLOCK = 0o4000;
export const FD_CLOEXEC = 1;
export const CLOCK_MONOTONIC = 1;

export const EACCES = 13;
export const EAGAIN = 11;
export const EINTR = 4;
export const EADDRINUSE = 98;
export const EADDRNOTAVAIL = 99;
export const ECONNREFUSED = 111;
export const ENOENT = 2;
export const EPIPE = 32;
export const EBADF = 9;
export const EPERM = 1;
export const EINVAL = 22;
export const ENOPROTOOPT = 92;
export const ECHILD = 10;

export const libc = openLibc((name) => dlopen(name, {
  socket: { args: ["i32", "i32", "i32"], returns: "i32" },
  setsockopt: { args: ["i32", "i32", "i32", "ptr", "u32"], returns: "i32" },
  getsockopt: { args: ["i32", "i32", "i32", "ptr", "ptr"], returns: "i32" },
  bind: { args: ["i32", "ptr", "u32"], returns: "i32" },
  listen: { args: ["i32", "i32"], returns: "i32" },
  connect: { args: ["i32", "ptr", "u32"], returns: "i32" },
  getsockname: { args: ["i32", "ptr", "ptr"], returns: "i32" },
  sendto: { args: ["i32", "ptr", "u64", "i32", "ptr", "u32"], returns: FFIType.i64_fast },
  recv: { args: ["i32", "ptr", "u64", "i32"], returns: FFIType.i64_fast },
  recvmsg: { args: ["i32", "ptr", "i32"], returns: FFIType.i64_fast },
  send: { args: ["i32", "ptr", "u64", "i32"], returns: FFIType.i64_fast },
  write: { args: ["i32", "ptr", "u64"], returns: FFIType.i64_fast },
  poll: { args: ["ptr", "u64", "i32"], returns: "i32" },
  pipe2: { args: ["ptr", "i32"], returns: "i32" },
  getsid: { args: ["i32"], returns: "i32" },
  geteuid: { args: [], returns: "u32" },
  prctl: { args: ["i32", "u64", "u64", "u64", "u64"], returns: "i32" },
  // waitid(idtype, id, siginfo_t *, options): reaps one child by pid without
  // touching the others (Bun waits for the children it spawned itself).
  waitid: { args: ["i32", "i32", "ptr", "i32"], returns: "i32" },
  close: { args: ["i32"], returns: "i32" },
  shutdown: { args: ["i32", "i32"], returns: "i32" },
  setpriority: { args: ["i32", "u32", "i32"], returns: "i32" },
  getrlimit: { args: ["i32", "ptr"], returns: "i32" },
  // fcntl is variadic; an int third argument is passed like a fixed one on
  // the Linux ABIs sup targets.
  fcntl: { args: ["i32", "i32", "i32"], returns: "i32" },
  inet_pton: { args: ["i32", "ptr", "ptr"], returns: "i32" },
  clock_gettime: { args: ["i32", "ptr"], returns: "i32" },
  getppid: { args: [], returns: "i32" },
  signal: { args: ["i32", "ptr"], returns: "ptr" },
  sigprocmask: { args: ["i32", "ptr", "ptr"], returns: "i32" },
  execve: { args: ["ptr", "ptr", "ptr"], returns: "i32" },
  // Users and groups (getpwnam(3), getgrnam(3), getgrouplist(3), setgroups(2)).
  getpwnam: { args: ["ptr"], returns: "ptr" },
  getpwuid: { args: ["u32"], returns: "ptr" },
  getgrnam: { args: ["ptr"], returns: "ptr" },
  getgrgid: { args: ["u32"], returns: "ptr" },
  getgrouplist: { args: ["ptr", "u32", "ptr", "ptr"], returns: "i32" },
  setgroups: { args: ["u64", "ptr"], returns: "i32" },
  setgid: { args: ["u32"], returns: "i32" },
  setuid: { args: ["u32"], returns: "i32" },
  getuid: { args: [], returns: "u32" },
  getgid: { args: [], returns: "u32" },
  getgroups: { args: ["i32", "ptr"], returns: "i32" },
  // getxattr(path, name, value, size): systemd marks the cgroups it delegates (processes/cgroup.ts).
  getxattr: { args: ["ptr", "ptr", "ptr", "u64"], returns: FFIType.i64_fast },
  strerror: { args: ["i32"], returns: "cstring" },
  __errno_location: { args: [], returns: "ptr" },
})).symbols;

/** errno of the libc call that just failed (read at once: later calls may change it). */
export function errno(): number {
  return read.i32(libc.__errno_location()!, 0);
}

export function strerror(code: number): string {
  return String(libc.strerror(code)).toLowerCase();
}

/** A NUL-terminated copy of s for a `const char *` argument. */
export function cstr(s: string): Buffer {
  return Buffer.from(s + "\0", "utf8");
}

/** execve(2) with argv and envp as NULL-terminated char*[]; returns only on failure (then errno()). */
export function execve(path: string, argv: string[], env: string[]): void {
  const args = argv.map(cstr);
  const envs = env.map(cstr);
  const table = (bufs: Buffer[]) => {
    const arr = new BigUint64Array(bufs.length + 1);
    bufs.forEach((b, i) => (arr[i] = BigInt(ptr(b))));
    return arr;
  };
  // args and envs stay referenced here until execve returns (or never does).
  libc.execve(cstr(path), table(args), table(envs));
}
