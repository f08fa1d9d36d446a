// The two socket options behind steering (net/steer-tcp.ts) that need a
// pointer inside a struct, which only bun:ffi can make: a classic BPF
// program attached to a SO_REUSEPORT group, and a listener's accept queue.
import { ptr } from "bun:ffi";
import { IPPROTO_TCP, SO_ATTACH_REUSEPORT_CBPF, SOL_SOCKET, TCP_INFO, errno, libc } from "./libc.ts";

const BPF_RET_K = 0x06; // BPF_RET | BPF_K: return the constant k (linux/filter.h)

/**
 * Makes fd's SO_REUSEPORT group hand every new connection to the socket at
 * `index` of the group's array (socket(7), SO_ATTACH_REUSEPORT_CBPF): a
 * one-instruction program `ret #index`. An index past the array's end makes
 * the kernel fall back to its hash (reuseport_select_sock). 0, or the errno.
 */
export function attachSteering(fd: number, index: number): number {
  // struct sock_filter { u16 code; u8 jt, jf; u32 k } at 0, and
  // struct sock_fprog { u16 len; struct sock_filter *filter } at 8 (padded
  // to 16 on 64-bit). One ArrayBuffer keeps the pointer valid for the call,
  // which copies the program (sk_reuseport_attach_filter).
  const buf = new ArrayBuffer(24);
  const view = new DataView(buf);
  view.setUint16(0, BPF_RET_K, true);
  view.setUint32(4, index, true);
  view.setUint16(8, 1, true);
  view.setBigUint64(16, BigInt(ptr(new Uint8Array(buf, 0, 8))), true);
  return libc.setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, new Uint8Array(buf, 8, 16), 16) < 0 ? errno() : 0;
}

/**
 * Connections waiting in a TCP listener's accept queue, or -1 when it
 * cannot be read: for a listening socket TCP_INFO's tcpi_unacked is
 * sk_ack_backlog (tcp_get_info in net/ipv4/tcp.c), at offset 24.
 */
export function acceptQueue(fd: number): number {
  const info = new Uint8Array(new ArrayBuffer(232));
  const len = new Uint32Array([info.length]);
  if (libc.getsockopt(fd, IPPROTO_TCP, TCP_INFO, info, len) < 0 || len[0]! < 28) return -1;
  return new DataView(info.buffer).getUint32(24, true);
}
