// Who is at the other end of a connected unix socket: SO_PEERCRED (unix(7)),
// struct ucred { pid_t pid; uid_t uid; gid_t gid; }. The kernel records it at
// connect() for the client and at listen() for the server, so the master
// learns the uid of each client and a client learns the pid that listens.
import { SOL_SOCKET, SO_PEERCRED, errno, libc, strerror } from "../native/libc.ts";

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

const UCRED_SIZE = 12;

/**
 * The credentials of fd's peer. Throws naming the errno when the kernel
 * refuses (EBADF, ENOTSOCK…): callers treat that as "unknown peer" and refuse it.
 */
export function peerCred(fd: number): PeerCred {
  // Backed by their own ArrayBuffers: ptr() of small pooled arrays can go stale (DESIGN.md §7).
  const buf = new Uint8Array(new ArrayBuffer(UCRED_SIZE));
  const len = new Uint32Array(new ArrayBuffer(4));
  len[0] = UCRED_SIZE;
  if (libc.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, buf, len) !== 0) throw new Error(`getsockopt(SO_PEERCRED) on fd ${fd}: ${strerror(errno())}`);
  const view = new DataView(buf.buffer);
  return { pid: view.getInt32(0, true), uid: view.getUint32(4, true), gid: view.getUint32(8, true) };
}

/**
 * The fd of a Bun socket. Bun 1.4.5 has it as a `fd` property that its type
 * declarations leave out; if a later Bun drops it this returns -1, peerCred
 * throws, and every peer is refused (fail closed; test/e2e/control-auth.test.ts).
 */
export function socketFd(s: object): number {
  const fd = (s as { fd?: unknown }).fd;
  return typeof fd === "number" ? fd : -1;
}
