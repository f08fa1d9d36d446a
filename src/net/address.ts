// One --listen address and its sockets, one per generation (or one shared):
// which of them new connections go to, the test connection that a new one
// must accept first (accept-probe.ts), and closing one. TCP: one
// SO_REUSEPORT group with a BPF program (steer-tcp.ts); unix: the socket
// file renamed over the path (steer-unix.ts). sockets.ts says which
// generation; this does it for one address.
import type { Config } from "../config/schema.ts";
import { strerror } from "../native/libc.ts";
import { AcceptProbe, type ProbeState } from "./accept-probe.ts";
import { bindOne, closeListen, parseListen, type ListenAddr, type ListenSocket } from "./listen.ts";
import { ReuseportGroup } from "./steer-tcp.ts";
import { checkUnixPath, closeUnix, homeFor, steerUnix, unixListener, type UnixListener } from "./steer-unix.ts";

export type Say = (level: "info" | "warn", msg: string, fields: Record<string, string | number>) => void;

/** A program's generation: its key among the sockets' users, its number, and its name in the log. */
export interface Gen {
  key: string;
  gen: number;
  label: string;
}

export interface Listener {
  sock: ListenSocket;
  /** The generations (their keys) whose workers get this socket. */
  gens: Set<string>;
  unix?: UnixListener;
  /** A test connection of the master's may wait in its queue (not accepted yet). */
  tested?: boolean;
}

export class Address {
  readonly listeners: Listener[] = [];
  steered?: Listener;
  private group?: ReuseportGroup;
  /** Why new generations share the steered socket (a fallback); undefined while each gets its own. */
  shared?: string;
  /** A test connection to `to`, which new connections go to once it is accepted. */
  probing?: { to: Listener; gen: Gen; probe: AcceptProbe; since: number };

  private constructor(
    readonly name: string,
    readonly addr: ListenAddr,
    private readonly say: Say,
  ) {}

  /** Binds the address's first socket, for generation g: new connections go to it at once. */
  static open(name: string, g: Gen, cfg: Config, say: Say): Address {
    const a = new Address(name, parseListen(name), say);
    const sock = bindOne(name, a.addr, { ...bindOptions(cfg), group: "first" });
    const l: Listener = { sock, gens: new Set([g.key]) };
    a.listeners.push(l);
    a.steered = l;
    if (a.addr.kind === "unix") {
      const home = homeFor(a.addr.path, g.gen);
      if (!home) a.fallBack(`${a.addr.path} leaves no room for a private name beside it in sockaddr_un`);
      l.unix = unixListener(sock, home ?? "");
      return a;
    }
    if (!sock.reuseport) return a.fallBack("this kernel has no SO_REUSEPORT"), a;
    a.group = new ReuseportGroup();
    a.group.add(sock.fd);
    const err = a.group.steer(sock.fd);
    if (err) a.fallBack(`SO_ATTACH_REUSEPORT_CBPF: ${strerror(err)}`);
    return a;
  }

  /** A socket of g's own beside the others: in the reuseport group, or at a private name. */
  bindBeside(g: Gen, cfg: Config) {
    const opts = bindOptions(cfg);
    const home = this.addr.kind === "unix" ? homeFor(this.addr.path, g.gen)! : undefined;
    const sock = bindOne(this.name, this.addr, home ? { ...opts, at: home } : { ...opts, group: "join" });
    this.listeners.push({ sock, gens: new Set([g.key]), unix: home ? unixListener(sock, home) : undefined });
    this.group?.add(sock.fd);
  }

  /**
   * Before a reload binds for g: a unix path deleted since (or replaced by a
   * dead socket) gets a fresh socket for g at the path itself when
   * generations share one (steering renames g's own over it anyway); what
   * cannot be reached is an error (checkUnixPath). True when g has its
   * socket now.
   */
  reclaimPath(g: Gen, cfg: Config, share: boolean): boolean {
    if (this.addr.kind !== "unix" || checkUnixPath(this.name, this.addr.path, this.steered?.unix) === "ours") return false;
    if (!this.shared && !share) {
      this.say("warn", `listen ${this.name}: ${this.addr.path} was gone; ${g.label}'s socket is put there when it is ready`, { event: "listen.reclaim", addr: this.name, gen: g.gen });
      return false;
    }
    const sock = bindOne(this.name, this.addr, { ...bindOptions(cfg), group: "first" });
    const l: Listener = { sock, gens: new Set([g.key]), unix: unixListener(sock, "") };
    this.listeners.push(l);
    this.steered = l;
    this.say("warn", `listen ${this.name}: ${this.addr.path} was gone; bound a fresh socket there for ${g.label} (the workers before it keep theirs, which nothing reaches by the path)`, { event: "listen.reclaim", addr: this.name, gen: g.gen });
    return true;
  }

  listenerOf(key: string): Listener | undefined {
    return this.listeners.find((l) => l.gens.has(key));
  }

  /** New connections go to g's socket: now, or once it accepted a test connection. */
  steer(gen: Gen, now: boolean) {
    const to = this.listenerOf(gen.key);
    if (!to) return;
    if (to === this.steered || now) this.endProbe();
    if (to === this.steered || this.probing?.to === to) return;
    if (now) this.steerNow(to, gen);
    else this.startProbe(to, gen);
  }

  /** Looks at the test connection once: steers when it was accepted. */
  checkProbe() {
    if (!this.probing) return;
    const { to, gen, probe, since } = this.probing;
    const state: ProbeState = probe.check();
    if (state === "waiting") return;
    this.endProbe();
    if (state !== "accepted") return this.say("warn", `listen ${this.name}: ${gen.label}'s socket failed a test connection (${state.failed}); new connections stay where they went`, { event: "listen.probe", addr: this.name, gen: gen.gen });
    to.tested = false;
    this.steerNow(to, gen, ` (it accepted a test connection ${Math.round(performance.now() - since)} ms after ready)`);
  }

  /** Closes l, which generation gen was the last to use. */
  close(l: Listener, gen: Gen) {
    if (this.probing?.to === l) this.endProbe();
    this.listeners.splice(this.listeners.indexOf(l), 1);
    const wasSteered = this.steered === l;
    if (wasSteered) this.steered = undefined;
    if (l.unix) closeUnix(l.unix);
    else if (!this.group) closeListen([l.sock]);
    // The arbiter steers away before it releases; should it not, the newest one left takes the connections.
    const newest = this.listeners.at(-1);
    if (wasSteered && newest) this.steerNow(newest, { key: "", gen: 0, label: "the newest generation left" });
    if (!this.group) return;
    const { reset: waiting, error } = this.group.remove(l.sock.fd);
    const reset = l.tested ? waiting - 1 : waiting; // the master's test connection is no user's
    if (reset > 0) this.say("warn", `listen ${this.name}: ${reset} connection${reset === 1 ? "" : "s"} waiting on ${gen.label}'s socket reset as it closed (its workers exited before accepting them; net.ipv4.tcp_migrate_req=1 would move them)`, { event: "listen.reset", addr: this.name, gen: gen.gen, count: reset });
    if (error) this.fallBack(`closing ${gen.label}'s socket: ${strerror(error)}`);
  }

  closeAll() {
    this.endProbe();
    for (const l of this.listeners) if (l.unix) closeUnix(l.unix);
    closeListen(this.listeners.filter((l) => !l.unix).map((l) => l.sock));
    this.listeners.length = 0;
  }

  private steerNow(to: Listener, gen: Gen, after = "") {
    const error = this.group ? errText(this.group.steer(to.sock.fd)) : steerUnix(this.addr.path, this.steered?.unix, to.unix!);
    if (error) return this.fallBack(`steering to ${gen.label} failed: ${error}`);
    this.steered = to;
    this.say("info", `listen ${this.name}: new connections go to ${gen.label}${after}`, { event: "listen.steer", addr: this.name, gen: gen.gen });
  }

  private startProbe(to: Listener, gen: Gen) {
    let probe: AcceptProbe | undefined;
    try {
      probe = AcceptProbe.open(this.addr);
      const err = this.group?.route(to.sock.fd, probe.port, this.addr.kind === "inet6");
      if (err) throw new Error(`SO_ATTACH_REUSEPORT_CBPF: ${strerror(err)}`);
      probe.connect(this.addr, to.sock.path);
      this.probing = { to, gen, probe, since: performance.now() };
      to.tested = true;
      this.checkProbe(); // a loopback connect is often done at once: half-close it now
    } catch (e) {
      probe?.close();
      this.group?.unroute();
      this.say("warn", `listen ${this.name}: cannot check that ${gen.label} accepts (${(e as Error).message}); new connections go to it now`, { event: "listen.probe", addr: this.name, gen: gen.gen });
      this.steerNow(to, gen);
    }
  }

  private endProbe() {
    if (!this.probing) return;
    this.probing.probe.close();
    this.probing = undefined;
    const err = this.group?.unroute();
    if (err) this.fallBack(`SO_ATTACH_REUSEPORT_CBPF: ${strerror(err)}`);
  }

  /** From now on new generations share the steered socket; said once per address. */
  fallBack(why: string) {
    if (this.shared) return;
    this.shared = why;
    this.say("warn", `listen ${this.name}: ${why}; generations share one socket, so during a reload's grace old and new workers both take new connections`, { event: "listen.shared", addr: this.name });
  }
}

const errText = (err: number) => (err ? strerror(err) : undefined);

const bindOptions = (cfg: Config) => ({ backlog: cfg["listen-backlog"], mode: cfg["listen-mode"], owner: cfg["listen-owner"] });
