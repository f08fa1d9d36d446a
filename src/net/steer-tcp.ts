// One TCP address's SO_REUSEPORT group: a listening socket per generation,
// and a classic BPF program that hands every new connection to one of them
// (socket(7), SO_ATTACH_REUSEPORT_CBPF). The program returns an index into
// the kernel's array of the group's sockets, so this keeps a copy of that
// array in the kernel's order (net/core/sock_reuseport.c): a socket is
// appended when it starts listening, and when one leaves, the last one moves
// into its place (__reuseport_detach_sock). Every removal re-attaches the
// program with the steered socket's new index.
import { SHUT_RD, errno, libc } from "../native/libc.ts";
import { acceptQueue, attachSteering, type ProbeRoute } from "../native/reuseport.ts";

export class ReuseportGroup {
  /** The group's fds in the order of the kernel's array. */
  private readonly members: number[] = [];
  private steered = -1;
  /** While a probe runs (accept-probe.ts): its connection goes to this fd. */
  private probe?: { fd: number; port: number; ipv6: boolean };

  /** fd has just started listening in this group. */
  add(fd: number) {
    this.members.push(fd);
  }

  /** New connections go to fd from now on. 0, or the errno of the attach. */
  steer(fd: number): number {
    const err = this.attach(fd, this.probe);
    if (err === 0) this.steered = fd;
    return err;
  }

  /** Connections from local port `port` go to fd, the others where they went. 0, or the errno. */
  route(fd: number, port: number, ipv6: boolean): number {
    const probe = { fd, port, ipv6 };
    const err = this.attach(this.steered, probe);
    if (err === 0) this.probe = probe;
    return err;
  }

  /** The probe is over: one program for every connection again. */
  unroute(): number {
    this.probe = undefined;
    return this.steered >= 0 ? this.attach(this.steered) : 0;
  }

  private attach(fd: number, probe?: { fd: number; port: number; ipv6: boolean }): number {
    const at = this.index(fd);
    const route: ProbeRoute | undefined = probe && { port: probe.port, ipv6: probe.ipv6, index: this.index(probe.fd) };
    return attachSteering(fd >= 0 ? fd : probe!.fd, at, route);
  }

  private index(fd: number): number {
    const at = this.members.indexOf(fd);
    if (at < 0 && fd >= 0) throw new Error(`fd ${fd} is not in this reuseport group`);
    return at < 0 ? this.members.length : at; // past the end: the kernel's hash
  }

  /**
   * Takes fd out of the group and closes it. shutdown(SHUT_RD) of a
   * listener unhashes it for every holder (inet_shutdown → tcp_disconnect
   * → inet_csk_listen_stop): the kernel's array changes now, not when the
   * last process holding a copy (a worker's straggling child) closes it,
   * so the index given to the program stays true. The connections still in
   * its accept queue are reset then, unless net.ipv4.tcp_migrate_req=1
   * moves them to another socket of the group (ip-sysctl.rst): `reset`
   * counts them. `error` is an errno of shutdown or of the re-attach.
   */
  remove(fd: number): { reset: number; error: number } {
    const at = this.members.indexOf(fd);
    if (at < 0) throw new Error(`fd ${fd} is not in this reuseport group`);
    const reset = acceptQueue(fd);
    let error = libc.shutdown(fd, SHUT_RD) < 0 ? errno() : 0;
    libc.close(fd);
    this.members[at] = this.members[this.members.length - 1]!;
    this.members.pop();
    if (this.probe?.fd === fd) this.probe = undefined;
    if (this.steered === fd) this.steered = -1;
    if (this.steered >= 0 || this.probe) error ||= this.attach(this.steered, this.probe);
    return { reset: Math.max(0, reset), error };
  }

  get size(): number {
    return this.members.length;
  }
}
