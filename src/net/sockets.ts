// The listen sockets the master holds for its workers, owned in one place
// (unicorn's `listeners=`). Each generation gets its own socket for each
// address, and new connections are steered to one generation's: the newest
// ready one (the arbiter says which). The old generation keeps the
// connections it has and stays a hot standby: steering back is one syscall,
// no cold start. TCP: one SO_REUSEPORT group per address with a BPF program
// (steer-tcp.ts); unix: the socket file renamed over the path (steer-unix.ts).
//
// Generations share one socket (today's behaviour before steering: both
// take new connections during a reload's grace) where steering cannot work:
// sockets inherited from systemd, a kernel without SO_REUSEPORT or its BPF
// program, a unix path too long for a private name; the log says so once.
// They also share by design in a rolling reload (old and new serve side by
// side one worker at a time) and with stop-first (a connection made while
// no worker runs waits in the one backlog until the new worker takes it).
//
// A generation's workers may say they are ready before they accept: new
// connections go to it once it has accepted a test connection of the
// master's (accept-probe.ts), unless the arbiter says now (a commit, a
// rollback).
//
// A socket no generation uses any more is closed (a unix socket unlinked):
// the arbiter releases a generation once its workers have exited, after
// steering away from it, so nothing waits in a backlog nobody accepts from.
import type { Config } from "../config/schema.ts";
import { strerror } from "../native/libc.ts";
import { AcceptProbe } from "./accept-probe.ts";
import { bindOne, closeListen, inheritedListen, parseListen, type ListenAddr, type ListenSocket } from "./listen.ts";
import { ReuseportGroup } from "./steer-tcp.ts";
import { closeUnix, homeFor, steerUnix, unixListener, type UnixListener } from "./steer-unix.ts";

export type Say = (level: "info" | "warn", msg: string, fields: Record<string, string | number>) => void;

interface Listener {
  sock: ListenSocket;
  /** The generations whose workers get this socket. */
  gens: Set<number>;
  unix?: UnixListener;
  /** A test connection of the master's may wait in its queue (not accepted yet). */
  tested?: boolean;
}

interface Address {
  name: string;
  addr: ListenAddr;
  listeners: Listener[];
  steered?: Listener;
  group?: ReuseportGroup;
  /** Why new generations share the steered socket (a fallback); undefined while each gets its own. */
  shared?: string;
  /** A test connection to `to`, which new connections go to once it is accepted. */
  probing?: { to: Listener; gen: number; probe: AcceptProbe; since: number };
}

/** How often a probe is looked at (ms): the longest a ready generation waits past its first accept. */
const PROBE_EVERY = 5;

export class Sockets {
  private readonly addrs = new Map<string, Address>();
  // Taken once: LISTEN_PID names this process only at start.
  private readonly inherited = inheritedListen(process.env);
  private inheritedSaid = false;
  private probeTimer?: ReturnType<typeof setTimeout>;

  constructor(private readonly say: Say = () => {}) {}

  /**
   * Gives generation gen its sockets for cfg's addresses: its own, or with
   * `share` the ones new connections go to now. All or nothing (ConfigError).
   */
  acquire(gen: number, cfg: Config, share = false) {
    if (cfg.listen.length === 0 && this.inherited.length > 0 && gen > 1 && !this.inheritedSaid) {
      this.inheritedSaid = true;
      this.say("warn", "listen: the sockets came from systemd (LISTEN_FDS); every generation shares them, so during a reload's grace old and new workers both take new connections", { event: "listen.shared" });
    }
    try {
      for (const name of cfg.listen) {
        const a = this.addrs.get(name);
        if (!a) this.open(name, gen, cfg);
        else if (share || a.shared) (a.steered ?? a.listeners.at(-1)!).gens.add(gen);
        else this.bindBeside(a, gen, cfg);
      }
    } catch (e) {
      this.release(gen);
      throw e;
    }
  }

  /**
   * New connections go to generation gen's sockets: `now`, or once each has
   * accepted a test connection (addresses gen does not use are left as they are).
   */
  steer(gen: number, now = true) {
    for (const a of this.addrs.values()) {
      const to = a.listeners.find((l) => l.gens.has(gen));
      if (!to) continue;
      if (to === a.steered || now) this.endProbe(a);
      if (to === a.steered || a.probing?.to === to) continue;
      if (now) this.steerNow(a, to, gen);
      else this.startProbe(a, to, gen);
    }
    this.checkProbesLater();
  }

  private steerNow(a: Address, to: Listener, gen: number, after = "") {
    const error = a.group ? errText(a.group.steer(to.sock.fd)) : steerUnix(a.addr.path, a.steered?.unix, to.unix!);
    if (error) return this.fallBack(a, `steering to gen ${gen} failed: ${error}`);
    a.steered = to;
    this.say("info", `listen ${a.name}: new connections go to gen ${gen}${after}`, { event: "listen.steer", addr: a.name, gen });
  }

  private startProbe(a: Address, to: Listener, gen: number) {
    let probe: AcceptProbe | undefined;
    try {
      probe = AcceptProbe.open(a.addr);
      const err = a.group?.route(to.sock.fd, probe.port, a.addr.kind === "inet6");
      if (err) throw new Error(`SO_ATTACH_REUSEPORT_CBPF: ${strerror(err)}`);
      probe.connect(a.addr, to.sock.path);
      a.probing = { to, gen, probe, since: performance.now() };
      to.tested = true;
    } catch (e) {
      probe?.close();
      a.group?.unroute();
      this.say("warn", `listen ${a.name}: cannot check that gen ${gen} accepts (${(e as Error).message}); new connections go to it now`, { event: "listen.probe", addr: a.name, gen });
      this.steerNow(a, to, gen);
    }
  }

  private endProbe(a: Address) {
    if (!a.probing) return;
    a.probing.probe.close();
    a.probing = undefined;
    const err = a.group?.unroute();
    if (err) this.fallBack(a, `SO_ATTACH_REUSEPORT_CBPF: ${strerror(err)}`);
  }

  private checkProbesLater() {
    if (this.probeTimer || ![...this.addrs.values()].some((a) => a.probing)) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      this.checkProbes();
      this.checkProbesLater();
    }, PROBE_EVERY);
  }

  private checkProbes() {
    for (const a of this.addrs.values()) {
      if (!a.probing) continue;
      const { to, gen, probe, since } = a.probing;
      const state = probe.check();
      if (state === "waiting") continue;
      this.endProbe(a);
      if (state === "accepted") to.tested = false;
      if (state === "accepted") this.steerNow(a, to, gen, ` (it accepted a test connection ${Math.round(performance.now() - since)} ms after ready)`);
      else this.say("warn", `listen ${a.name}: gen ${gen}'s socket failed a test connection (${state.failed}); new connections stay where they went`, { event: "listen.probe", addr: a.name, gen });
    }
  }

  /** Generation gen is gone (its workers exited): close what no other generation uses. Returns the addresses closed. */
  release(gen: number): string[] {
    const closed: string[] = [];
    for (const [name, a] of this.addrs) {
      for (const l of [...a.listeners]) if (l.gens.delete(gen) && l.gens.size === 0) this.close(a, l, gen);
      if (a.listeners.length > 0) continue;
      this.addrs.delete(name);
      closed.push(name);
    }
    return closed;
  }

  /** The sockets a worker of generation gen running cfg gets, in order, as fd 3, 4, … */
  for(gen: number, cfg: Config): ListenSocket[] {
    if (cfg.listen.length === 0) return this.inherited;
    return cfg.listen.map((n) => this.addrs.get(n)!.listeners.find((l) => l.gens.has(gen))!.sock);
  }

  /** True when no socket of gen is shared with another generation: once steered away from, an older one gets no new connection. */
  ownsSockets(gen: number, cfg: Config): boolean {
    if (cfg.listen.length === 0) return this.inherited.length === 0;
    return cfg.listen.every((n) => this.addrs.get(n)?.listeners.find((l) => l.gens.has(gen))?.gens.size === 1);
  }

  closeAll() {
    clearTimeout(this.probeTimer);
    for (const a of this.addrs.values()) this.endProbe(a);
    const all = [...this.addrs.values()].flatMap((a) => a.listeners);
    for (const l of all) if (l.unix) closeUnix(l.unix);
    closeListen([...all.filter((l) => !l.unix).map((l) => l.sock), ...this.inherited]);
    this.addrs.clear();
  }

  /** The first socket of an address: new connections go to it at once. */
  private open(name: string, gen: number, cfg: Config) {
    const addr = parseListen(name);
    const opts = { backlog: cfg["listen-backlog"], mode: cfg["listen-mode"] };
    const sock = bindOne(name, addr, { ...opts, group: "first" });
    const l: Listener = { sock, gens: new Set([gen]) };
    const a: Address = { name, addr, listeners: [l], steered: l };
    this.addrs.set(name, a);
    if (addr.kind === "unix") {
      const home = homeFor(addr.path, gen);
      if (!home) this.fallBack(a, `${addr.path} leaves no room for a private name beside it in sockaddr_un`);
      l.unix = unixListener(sock, home ?? "");
      return;
    }
    if (!sock.reuseport) return this.fallBack(a, "this kernel has no SO_REUSEPORT");
    a.group = new ReuseportGroup();
    a.group.add(sock.fd);
    const err = a.group.steer(sock.fd);
    if (err) this.fallBack(a, `SO_ATTACH_REUSEPORT_CBPF: ${strerror(err)}`);
  }

  /** A socket of gen's own beside the address's others: in its reuseport group, or at a private name. */
  private bindBeside(a: Address, gen: number, cfg: Config) {
    const opts = { backlog: cfg["listen-backlog"], mode: cfg["listen-mode"] };
    const home = a.addr.kind === "unix" ? homeFor(a.addr.path, gen)! : undefined;
    const sock = bindOne(a.name, a.addr, home ? { ...opts, at: home } : { ...opts, group: "join" });
    const l: Listener = { sock, gens: new Set([gen]), unix: home ? unixListener(sock, home) : undefined };
    a.listeners.push(l);
    a.group?.add(sock.fd);
  }

  private close(a: Address, l: Listener, gen: number) {
    if (a.probing?.to === l) this.endProbe(a);
    a.listeners.splice(a.listeners.indexOf(l), 1);
    const wasSteered = a.steered === l;
    if (wasSteered) a.steered = undefined;
    if (l.unix) closeUnix(l.unix);
    else if (!a.group) closeListen([l.sock]);
    // The arbiter steers away before it releases; should it not, the newest one left takes the connections.
    if (wasSteered && a.listeners.length > 0) this.steer([...a.listeners.at(-1)!.gens].at(-1)!);
    if (!a.group) return;
    const { reset: waiting, error } = a.group.remove(l.sock.fd);
    const reset = l.tested ? waiting - 1 : waiting; // the master's test connection is no user's
    if (reset > 0) this.say("warn", `listen ${a.name}: ${reset} connection${reset === 1 ? "" : "s"} waiting on gen ${gen}'s socket reset as it closed (its workers exited before accepting them; net.ipv4.tcp_migrate_req=1 would move them)`, { event: "listen.reset", addr: a.name, gen, count: reset });
    if (error) this.fallBack(a, `closing gen ${gen}'s socket: ${strerror(error)}`);
  }

  /** From now on new generations share the steered socket; said once per address. */
  private fallBack(a: Address, why: string) {
    if (a.shared) return;
    a.shared = why;
    this.say("warn", `listen ${a.name}: ${why}; generations share one socket, so during a reload's grace old and new workers both take new connections`, { event: "listen.shared", addr: a.name });
  }
}

const errText = (err: number) => (err ? strerror(err) : undefined);
