// Listening sockets held by the master and handed to every worker as fd 3, 4, …
// Made with libc calls (bun:ffi) so the master never accepts on them: with
// node:net or Bun.listen the master would compete with its workers for
// connections (DESIGN.md §7). While no worker runs, connections wait in the
// kernel backlog.
import { chmodSync, chownSync, lstatSync, unlinkSync } from "node:fs";
import { findGroup, findUser } from "../native/users.ts";
import { ConfigError } from "../config/coerce.ts";
import {
  AF_INET, AF_INET6, AF_UNIX, EACCES, EADDRINUSE, EADDRNOTAVAIL, EAGAIN, ECONNREFUSED, ENOENT, F_SETFD, FD_CLOEXEC,
  IPPROTO_IPV6, IPV6_V6ONLY, SO_REUSEADDR, SO_REUSEPORT, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_STREAM, SOL_SOCKET, errno, libc, strerror,
} from "../native/libc.ts";
import { inetAddr, unixAddr } from "./sockaddr.ts";

export interface ListenAddr {
  kind: "inet" | "inet6" | "unix";
  host: string;
  port: number;
  path: string;
}

export interface ListenSocket {
  fd: number;
  /** The address as the user wrote it (or the systemd FileDescriptorName). */
  name: string;
  /** Set for unix sockets sup bound itself: closeListen removes the file. */
  path?: string;
  /** A TCP socket in a SO_REUSEPORT group (bindOne's `group`). */
  reuseport?: boolean;
}

const FORMS = "use HOST:PORT (127.0.0.1:8000), [IPV6]:PORT ([::1]:8000), :PORT (every IPv4 interface) or unix:/PATH";

/** `option`: the option named in errors (listen, or stats for the stats server's address). */
export function parseListen(addr: string, option = "listen"): ListenAddr {
  const bad = (why: string): never => {
    throw new ConfigError(`${option} ${JSON.stringify(addr)}: ${why}; ${FORMS}`);
  };
  if (addr.startsWith("unix:")) {
    const path = addr.slice("unix:".length);
    if (path === "") bad("empty unix socket path");
    return { kind: "unix", host: "", port: 0, path };
  }
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\[\]]*)):(\d{1,5})$/.exec(addr) ?? bad("not a listen address");
  const port = Number(m[3]);
  if (port > 65535) bad("port must be 0..65535");
  if (m[1] !== undefined) {
    if (!inetAddr(AF_INET6, m[1], port)) bad(`${m[1]} is not an IPv6 address`);
    return { kind: "inet6", host: m[1], port, path: "" };
  }
  const host = m[2] === "" ? "0.0.0.0" : m[2] === "localhost" ? "127.0.0.1" : m[2]!;
  if (!inetAddr(AF_INET, host, port)) bad(`${m[2]} is not an IPv4 address`);
  return { kind: "inet", host, port, path: "" };
}

const HINTS: Record<number, string> = {
  [EADDRINUSE]: "another process is listening there; stop it or choose another port",
  [EACCES]: "ports below 1024 need root or CAP_NET_BIND_SERVICE; a unix socket needs a writable directory",
  [EADDRNOTAVAIL]: "no network interface has this address",
  [ENOENT]: "the directory does not exist",
};

function failAs(name: string, code: number, option = "listen"): never {
  const hint = name.startsWith("unix:") && code === EADDRINUSE ? HINTS[code]!.replace("port", "path") : HINTS[code];
  throw new ConfigError(`${option} ${name}: ${strerror(code)}${hint ? ` (${hint})` : ""}`);
}

export interface BindOptions {
  backlog: number;
  /** Octal permission of unix sockets ("" leaves the umask's). */
  mode: string;
  /** USER[:GROUP] that gets unix sockets ("" keeps the master's). */
  owner?: string;
  /** The option named in errors (default listen). */
  option?: string;
  /**
   * A TCP socket's SO_REUSEPORT group (net/steer-tcp.ts): "first" binds
   * without it, so an address anyone else holds is still EADDRINUSE, and
   * sets it before listen(), where the group is formed (inet_reuseport_add_sock);
   * "join" sets it before bind, to join the group of the first.
   */
  group?: "first" | "join";
  /** A unix socket's path when not the address's own (a generation's private path). */
  at?: string;
}

/** listen-owner as numbers: the user's own group when none is named. */
function ownerIds(owner: string): { uid: number; gid: number } {
  const [u = "", g] = owner.split(":");
  const user = u ? findUser(u) : undefined;
  if (u && !user) throw new ConfigError(`listen-owner ${owner}: no such user ${u}`);
  const gid = g ? findGroup(g) : user?.gid;
  if (g && gid === undefined) throw new ConfigError(`listen-owner ${owner}: no such group ${g}`);
  return { uid: user?.uid ?? -1, gid: gid ?? -1 };
}

/** Binds every address, or none: on error the fds opened so far are closed. */
export function bindListen(addrs: string[], opts: BindOptions): ListenSocket[] {
  checkMode(opts.mode);
  const parsed = addrs.map((a) => [a, parseListen(a, opts.option)] as const);
  const socks: ListenSocket[] = [];
  try {
    for (const [name, addr] of parsed) socks.push(bindOne(name, addr, opts));
  } catch (e) {
    closeListen(socks);
    throw e;
  }
  return socks;
}

function checkMode(mode: string) {
  if (mode !== "" && !/^[0-7]{3,4}$/.test(mode)) {
    throw new ConfigError(`listen-mode ${JSON.stringify(mode)}: must be an octal permission such as 660`);
  }
}

/** One listening socket; `reuseport` says whether it is in a SO_REUSEPORT group. */
export function bindOne(name: string, addr: ListenAddr, opts: BindOptions): ListenSocket {
  checkMode(opts.mode);
  const owner = opts.owner ? ownerIds(opts.owner) : undefined;
  const fail = (n: string, code: number) => failAs(n, code, opts.option);
  const family = addr.kind === "unix" ? AF_UNIX : addr.kind === "inet6" ? AF_INET6 : AF_INET;
  const path = opts.at ?? addr.path;
  const sa = addr.kind === "unix" ? unixAddr(path) : inetAddr(family, addr.host, addr.port)!;
  if (addr.kind === "unix") removeStaleSocket(name, path, opts.option);
  const fd = libc.socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(name, errno());
  const one = new Int32Array([1]);
  let reuseport = false;
  let bound = false;
  // ENOPROTOOPT: a kernel without SO_REUSEPORT (before 3.9); the caller falls back.
  const setReuseport = () => (reuseport = libc.setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, one, 4) === 0);
  try {
    // SO_REUSEADDR: rebinding right after a previous master exits must not
    // fail on connections in TIME_WAIT (socket(7)).
    if (addr.kind !== "unix" && libc.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, one, 4) < 0) fail(name, errno());
    // [::]:PORT takes IPv6 only, as nginx does, so it can sit beside :PORT (ipv6(7)).
    if (addr.kind === "inet6" && libc.setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, one, 4) < 0) fail(name, errno());
    if (addr.kind !== "unix" && opts.group === "join" && !setReuseport()) fail(name, errno());
    if (libc.bind(fd, sa, sa.length) < 0) fail(name, errno());
    bound = true;
    if (addr.kind === "unix" && opts.mode !== "") chmodSync(path, parseInt(opts.mode, 8));
    // chown(2): -1 leaves that id as it is. Before listen(), so no client of the old owner gets in.
    if (addr.kind === "unix" && owner) {
      try {
        chownSync(path, owner.uid, owner.gid);
      } catch (e) {
        throw new ConfigError(`listen ${name}: cannot give it to ${opts.owner}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (only root can)`);
      }
    }
    if (addr.kind !== "unix" && opts.group === "first") setReuseport();
    if (libc.listen(fd, opts.backlog) < 0) fail(name, errno());
  } catch (e) {
    libc.close(fd);
    if (addr.kind === "unix" && bound) unlinkQuietly(path); // ours: bind made it
    throw e;
  }
  return addr.kind === "unix" ? { fd, name, path, reuseport } : { fd, name, reuseport };
}

/**
 * A socket file left by a master that died is replaced; one with a live
 * listener is an error, as is a path that is not a socket (never delete a
 * user's file).
 */
export function removeStaleSocket(name: string, path: string, option = "listen"): void {
  const fail = (n: string, code: number) => failAs(n, code, option);
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // absent: nothing to replace
  }
  if (!isSocket) throw new ConfigError(`${option} ${name}: ${path} exists and is not a socket; remove it or choose another path`);
  const probe = libc.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe < 0) fail(name, errno());
  const sa = unixAddr(path);
  const rc = libc.connect(probe, sa, sa.length);
  const code = rc < 0 ? errno() : 0;
  libc.close(probe);
  // EAGAIN: a listener whose backlog is full (unix(7)); still alive.
  if (rc === 0 || code === EAGAIN) fail(name, EADDRINUSE);
  if (code === ECONNREFUSED) unlinkSync(path);
}

/**
 * Sockets passed by systemd socket activation (sd_listen_fds(3)): fds 3 … 3+N-1
 * when LISTEN_PID is this process. Marked close-on-exec as sd_listen_fds does;
 * the master hands them to workers explicitly.
 */
export function inheritedListen(env: Record<string, string | undefined>): ListenSocket[] {
  if (env.LISTEN_PID !== String(process.pid) || !/^[1-9]\d*$/.test(env.LISTEN_FDS ?? "")) return [];
  const names = (env.LISTEN_FDNAMES ?? "").split(":");
  return Array.from({ length: Number(env.LISTEN_FDS) }, (_, i) => {
    const fd = 3 + i;
    if (libc.fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
      throw new ConfigError(`LISTEN_FDS=${env.LISTEN_FDS} but fd ${fd} is not open: ${strerror(errno())}`);
    }
    return { fd, name: names[i] || `fd:${fd}` };
  });
}

export function closeListen(socks: ListenSocket[]): void {
  for (const s of socks) {
    libc.close(s.fd);
    if (s.path !== undefined) unlinkQuietly(s.path);
  }
}

export function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone: nothing to clean
  }
}

/**
 * The LISTEN_FDNAMES value for socks, in fd order. Names are ":"-separated
 * and may not contain ":" or control characters (sd_listen_fds_with_names(3)),
 * so "127.0.0.1:8000" is passed as "127.0.0.1_8000".
 */
export function listenFdNames(socks: ListenSocket[]): string {
  return socks.map((s) => s.name.replace(/[:\x00-\x1f\x7f]/g, "_").slice(0, 255)).join(":");
}

/** The port a TCP socket is bound to (after binding port 0, for tests and logs). */
export function boundPort(fd: number): number {
  const sa = Buffer.alloc(28);
  const len = new Uint32Array([sa.length]);
  if (libc.getsockname(fd, sa, len) < 0) throw new Error(`getsockname(${fd}): ${strerror(errno())}`);
  return sa.readUInt16BE(2);
}
