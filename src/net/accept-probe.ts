// Is a generation's socket really being accepted from? A worker's "ready"
// can come before it accepts (gunicorn's arbiter says READY=1 before it
// forks its worker, and without --preload before the app is imported;
// --ready delay:1 only says it lived a second): steering every new
// connection to a socket nobody accepts from would queue them there, and a
// new generation that then dies takes them with it. So the master connects
// to the new socket itself, sends nothing and half-closes: a server that
// accepts it reads end-of-file and closes, and the probe reads end-of-file
// too (or the server's first bytes). Until then, new connections go where
// they went. The server sees one connection that ends without a request.
import { AF_INET, AF_INET6, AF_UNIX, EAGAIN, EINTR, MSG_DONTWAIT, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_STREAM, SOL_SOCKET, errno, libc, strerror } from "../native/libc.ts";
import type { ListenAddr } from "./listen.ts";
import { inetAddr, unixAddr } from "./sockaddr.ts";

const EINPROGRESS = 115;
const POLLIN = 1;
const POLLOUT = 4;
const POLLERR = 8;
const POLLHUP = 16;
const SHUT_WR = 1;
const SO_ERROR = 4;

export type ProbeState = "waiting" | "accepted" | { failed: string };

export class AcceptProbe {
  private halfClosed = false;
  private readonly pfd = new Uint8Array(new ArrayBuffer(8)); // struct pollfd { int fd; short events, revents; }

  private constructor(
    private fd: number,
    /** The local TCP port its connection comes from (0 for unix). */
    readonly port: number,
  ) {}

  /**
   * Opens the probe's socket (bound, not connected yet: TCP needs its port
   * first, to route it, steer-tcp.ts). Throws with the errno in words.
   */
  static open(addr: ListenAddr): AcceptProbe {
    const family = addr.kind === "unix" ? AF_UNIX : addr.kind === "inet6" ? AF_INET6 : AF_INET;
    const fd = libc.socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new Error(`socket: ${strerror(errno())}`);
    if (family === AF_UNIX) return new AcceptProbe(fd, 0);
    const any = inetAddr(family, family === AF_INET ? "0.0.0.0" : "::", 0)!;
    const sa = Buffer.alloc(28);
    const len = new Uint32Array([sa.length]);
    if (libc.bind(fd, any, any.length) < 0 || libc.getsockname(fd, sa, len) < 0) {
      const code = errno();
      libc.close(fd);
      throw new Error(`bind: ${strerror(code)}`);
    }
    return new AcceptProbe(fd, sa.readUInt16BE(2));
  }

  /** Connects to the socket under test: a unix path, or the TCP address (a wildcard one through loopback). */
  connect(addr: ListenAddr, path?: string): void {
    const host = addr.host === "0.0.0.0" ? "127.0.0.1" : addr.host === "::" ? "::1" : addr.host;
    const sa = addr.kind === "unix" ? unixAddr(path ?? addr.path) : inetAddr(addr.kind === "inet6" ? AF_INET6 : AF_INET, host, addr.port)!;
    if (libc.connect(this.fd, sa, sa.length) < 0 && errno() !== EINPROGRESS) throw new Error(`connect: ${strerror(errno())}`);
  }

  /** One look, never blocking: connected yet (then half-close), accepted yet, or failed. */
  check(): ProbeState {
    if (this.fd < 0) return { failed: "closed" };
    if (!this.halfClosed) {
      const ev = this.poll(POLLOUT);
      if (ev < 0) return "waiting";
      if (ev & (POLLERR | POLLHUP) || this.soError() !== 0) return { failed: strerror(this.soError()) };
      if (!(ev & POLLOUT)) return "waiting";
      if (libc.shutdown(this.fd, SHUT_WR) < 0) return { failed: `shutdown: ${strerror(errno())}` };
      this.halfClosed = true;
    }
    const ev = this.poll(POLLIN);
    if (ev <= 0 || !(ev & (POLLIN | POLLHUP | POLLERR))) return "waiting";
    const n = Number(libc.recv(this.fd, new Uint8Array(1), 1, MSG_DONTWAIT));
    if (n >= 0) return "accepted"; // end-of-file, or the server spoke first
    const code = errno();
    return code === EAGAIN || code === EINTR ? "waiting" : { failed: strerror(code) };
  }

  close(): void {
    if (this.fd >= 0) libc.close(this.fd);
    this.fd = -1;
  }

  /** revents of one poll(2) with no wait; -1 when poll itself failed (EINTR: look again later). */
  private poll(events: number): number {
    const v = new DataView(this.pfd.buffer);
    v.setInt32(0, this.fd, true);
    v.setInt16(4, events, true);
    v.setInt16(6, 0, true);
    const rc = libc.poll(this.pfd, 1, 0);
    return rc < 0 ? -1 : v.getInt16(6, true);
  }

  private soError(): number {
    const v = new Int32Array(1);
    const len = new Uint32Array([4]);
    return libc.getsockopt(this.fd, SOL_SOCKET, SO_ERROR, v, len) < 0 ? errno() : v[0]!;
  }
}
