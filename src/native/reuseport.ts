// The two socket options behind steering (net/steer-tcp.ts) that need a
// pointer inside a struct, which only bun:ffi can make: a classic BPF
// program attached to a SO_REUSEPORT group, and a listener's accept queue.
import { ptr } from "bun:ffi";
import { IPPROTO_TCP, SO_ATTACH_REUSEPORT_CBPF, SOL_SOCKET, TCP_INFO, errno, libc } from "./libc.ts";

// Classic BPF opcodes (linux/filter.h, linux/bpf_common.h).
const BPF_RET_K = 0x06; // return the constant k
const BPF_LDX_B_MSH = 0xb1; // X = 4 * (packet[k] & 0xf): an IPv4 header's length
const BPF_LD_H_IND = 0x48; // A = the 16 bits at packet[X + k]
const BPF_LD_H_ABS = 0x28; // A = the 16 bits at packet[k]
const BPF_JEQ_K = 0x15; // A == k ? skip jt : skip jf
// A negative offset loads relative to the network header (SKF_NET_OFF): the
// reuseport program sees the packet from past the TCP header (run_bpf_filter).
const SKF_NET_OFF = -0x100000;

/** A connection from this local TCP port goes to the socket at `index` (a probe of it, accept-probe.ts). */
export interface ProbeRoute {
  port: number;
  index: number;
  ipv6: boolean;
}

/**
 * Makes fd's SO_REUSEPORT group hand every new connection to the socket at
 * `index` of the group's array (socket(7), SO_ATTACH_REUSEPORT_CBPF): the
 * program `ret #index`, after, with a probe, a test of the TCP source port
 * (of a SYN, in an IPv4 header of any length or an IPv6 one of 40 bytes).
 * An index past the array's end makes the kernel fall back to its hash
 * (reuseport_select_sock). 0, or the errno.
 */
export function attachSteering(fd: number, index: number, probe?: ProbeRoute): number {
  const insns: [number, number, number, number][] = [];
  if (probe) {
    // A = the TCP source port, the first 16 bits past the IP header.
    if (probe.ipv6) insns.push([BPF_LD_H_ABS, 0, 0, SKF_NET_OFF + 40]);
    else insns.push([BPF_LDX_B_MSH, 0, 0, SKF_NET_OFF], [BPF_LD_H_IND, 0, 0, SKF_NET_OFF]);
    insns.push([BPF_JEQ_K, 0, 1, probe.port], [BPF_RET_K, 0, 0, probe.index]);
  }
  insns.push([BPF_RET_K, 0, 0, index]);
  // struct sock_fprog { u16 len; struct sock_filter *filter } at 0 (16
  // bytes on 64-bit), then the struct sock_filter { u16 code; u8 jt, jf;
  // u32 k } array. One ArrayBuffer keeps the pointer valid for the call,
  // which copies the program (sk_reuseport_attach_filter).
  const buf = new ArrayBuffer(16 + 8 * insns.length);
  const view = new DataView(buf);
  insns.forEach(([code, jt, jf, k], i) => {
    view.setUint16(16 + 8 * i, code, true);
    view.setUint8(18 + 8 * i, jt);
    view.setUint8(19 + 8 * i, jf);
    view.setInt32(20 + 8 * i, k, true);
  });
  view.setUint16(0, insns.length, true);
  view.setBigUint64(8, BigInt(ptr(new Uint8Array(buf, 16))), true);
  return libc.setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, new Uint8Array(buf, 0, 16), 16) < 0 ? errno() : 0;
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
