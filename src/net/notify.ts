// The sd_notify protocol (sd_notify(3)) both ways: the master's notify socket,
// where workers send READY=1 and STATUS=…, and sdNotify for the master's own
// messages to systemd. Neither Bun nor node:dgram has unix datagram sockets,
// so libc it is (DESIGN.md §7).
//
// One socket for every worker, as systemd has one for every service: the
// kernel tells who sent each datagram (SO_PASSCRED, unix(7)), so the master
// knows the worker by the sender's pid and session, and a process of another
// user is told apart by its uid. A reader thread (fdwatch.ts) wakes the
// master as soon as a datagram arrives; the master drains the socket at once,
// so a worker never blocks in sendmsg, however much it says (the kernel queue
// holds only net.unix.max_dgram_qlen datagrams, 10 by default).
import { ptr } from "bun:ffi";
import { unlinkSync } from "node:fs";
import {
  AF_UNIX, EAGAIN, EINTR, SCM_CREDENTIALS, SO_PASSCRED, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, SOL_SOCKET, errno, libc, strerror,
} from "../native/libc.ts";
import { unixAddr } from "./sockaddr.ts";

/** Largest datagram kept (systemd reads at most this much, NOTIFY_BUFFER_MAX). */
const MAX_DATAGRAM = 4096;
/** Datagrams read per drain: the master takes its other events in between. */
const DRAIN_BATCH = 256;

export interface NotifyMessage {
  pid: number; // of the sender (kernel-checked)
  uid: number;
  text: string;
}

export class NotifyServer {
  // recvmsg(2) arguments in memory that never moves (see statx.ts on ptr()).
  private readonly data = new Uint8Array(new ArrayBuffer(MAX_DATAGRAM));
  private readonly iov = new BigUint64Array(new ArrayBuffer(16));
  private readonly control = new Uint8Array(new ArrayBuffer(32)); // CMSG_SPACE(sizeof(struct ucred))
  private readonly msg = new BigUint64Array(new ArrayBuffer(56)); // struct msghdr
  private readonly ctl = new DataView(this.control.buffer);

  private constructor(
    readonly path: string,
    private fd: number,
  ) {
    this.iov[0] = BigInt(ptr(this.data));
    this.iov[1] = BigInt(MAX_DATAGRAM);
  }

  get handle(): number {
    return this.fd;
  }

  /** Binds a fresh socket at path (a leftover file is replaced); the directory must exist and be ours. */
  static open(path: string): NotifyServer {
    const sa = unixAddr(path); // throws before anything is created when the path is too long
    try {
      if (!path.startsWith("@")) unlinkSync(path); // an abstract name has no file
    } catch {
      // nothing left over
    }
    const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new Error(`notify socket ${path}: ${strerror(errno())}`);
    const fail = (what: string) => {
      const code = errno();
      libc.close(fd);
      throw new Error(`notify socket ${path}: ${what}: ${strerror(code)}`);
    };
    if (libc.bind(fd, sa, sa.length) < 0) fail("bind");
    if (libc.setsockopt(fd, SOL_SOCKET, SO_PASSCRED, new Int32Array([1]), 4) < 0) fail("SO_PASSCRED");
    return new NotifyServer(path, fd);
  }

  /** Datagrams waiting now (at most one batch); never blocks. */
  drain(): NotifyMessage[] {
    const got: NotifyMessage[] = [];
    while (this.fd >= 0 && got.length < DRAIN_BATCH) {
      this.msg.fill(0n);
      this.msg[2] = BigInt(ptr(this.iov)); // msg_iov
      this.msg[3] = 1n; // msg_iovlen
      this.msg[4] = BigInt(ptr(this.control)); // msg_control
      this.msg[5] = BigInt(this.control.length); // msg_controllen
      const n = Number(libc.recvmsg(this.fd, this.msg, 0));
      if (n < 0) {
        const code = errno();
        if (code === EINTR) continue;
        if (code === EAGAIN) break;
        throw new Error(`notify socket ${this.path}: ${strerror(code)}`);
      }
      // struct cmsghdr { size_t len; int level; int type; } then struct ucred { pid; uid; gid; }
      const credOk = Number(this.msg[5]) >= 28 && this.ctl.getInt32(8, true) === SOL_SOCKET && this.ctl.getInt32(12, true) === SCM_CREDENTIALS;
      got.push({
        pid: credOk ? this.ctl.getInt32(16, true) : 0,
        uid: credOk ? this.ctl.getUint32(20, true) : -1,
        text: Buffer.from(this.data.buffer, 0, n).toString("utf8"),
      });
    }
    return got;
  }

  close(): void {
    if (this.fd < 0) return;
    libc.close(this.fd);
    this.fd = -1;
    try {
      if (!this.path.startsWith("@")) unlinkSync(this.path);
    } catch {
      // already removed along with its directory
    }
  }
}

/** The assignments of one sd_notify message, one per line ("READY=1\nSTATUS=up"). */
export function parseNotify(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}

/** True when a datagram carries READY=1. */
export function isReady(datagram: string): boolean {
  return parseNotify(datagram).get("READY") === "1";
}

/**
 * Sends one datagram to $NOTIFY_SOCKET (a path, or "@name" in the abstract
 * namespace). False when there is no socket or the send failed: a master
 * must not die because systemd is gone.
 */
export function sdNotify(message: string, env: Record<string, string | undefined> = process.env): boolean {
  const target = env.NOTIFY_SOCKET;
  if (!target) return false;
  let sa: Buffer;
  try {
    sa = unixAddr(target);
  } catch {
    return false;
  }
  const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const msg = Buffer.from(message, "utf8");
  // MSG_DONTWAIT: a systemd that does not read must not stall the master.
  const sent = Number(libc.sendto(fd, msg, msg.length, 0x40, sa, sa.length));
  libc.close(fd);
  return sent === msg.length;
}
