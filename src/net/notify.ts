// The sd_notify protocol (sd_notify(3)) both ways: a per-worker datagram
// socket the master reads READY=1 from, and sdNotify for the master's own
// messages to systemd. Neither Bun nor node:dgram has unix datagram sockets,
// so libc it is (DESIGN.md §7).
import { mkdirSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import {
  AF_UNIX, EAGAIN, EINTR, MSG_DONTWAIT, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, errno, libc, strerror,
} from "./libc.ts";
import { unixAddr } from "./sockaddr.ts";

/** Largest datagram kept; systemd itself reads at most PIPE_BUF-ish messages. */
const MAX_DATAGRAM = 4096;

export class NotifySocket {
  private readonly buf = Buffer.alloc(MAX_DATAGRAM);

  private constructor(
    readonly path: string,
    private fd: number,
  ) {}

  /** Binds a fresh socket at path (its directory is created, a leftover file replaced). */
  static open(path: string): NotifySocket {
    const sa = unixAddr(path); // throws before anything is created when the path is too long
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    try {
      unlinkSync(path);
    } catch {
      // no leftover from an earlier worker of this id and generation
    }
    const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new Error(`notify socket ${path}: ${strerror(errno())}`);
    if (libc.bind(fd, sa, sa.length) < 0) {
      const code = errno();
      libc.close(fd);
      throw new Error(`notify socket ${path}: ${strerror(code)}`);
    }
    return new NotifySocket(path, fd);
  }

  /** Every datagram received since the last poll, decoded; never blocks. */
  poll(): string[] {
    const got: string[] = [];
    while (this.fd >= 0) {
      const n = Number(libc.recv(this.fd, this.buf, MAX_DATAGRAM, MSG_DONTWAIT));
      if (n >= 0) {
        got.push(this.buf.toString("utf8", 0, n));
        continue;
      }
      const code = errno();
      if (code === EINTR) continue;
      if (code === EAGAIN) break;
      throw new Error(`notify socket ${this.path}: ${strerror(code)}`);
    }
    return got;
  }

  close(): void {
    if (this.fd < 0) return;
    libc.close(this.fd);
    this.fd = -1;
    try {
      unlinkSync(this.path);
    } catch {
      // already removed along with its directory
    }
  }
}

/** True when a datagram carries READY=1 (one assignment per line, sd_notify(3)). */
export function isReady(datagram: string): boolean {
  return datagram.split("\n").includes("READY=1");
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
  const sent = Number(libc.sendto(fd, msg, msg.length, 0, sa, sa.length));
  libc.close(fd);
  return sent === msg.length;
}
