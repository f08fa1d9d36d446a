// The listen sockets the master holds for its workers, owned in one place
// (unicorn's `listeners=`). Each generation gets its own socket for each
// address, and new connections are steered to one generation's: the newest
// ready one (the arbiter says which). The old generation keeps the
// connections it has and stays a hot standby: steering back is one syscall,
// no cold start (address.ts does it for one address).
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
import { Address, type Say } from "./address.ts";
import { closeListen, inheritedListen, type ListenSocket } from "./listen.ts";

export type { Say } from "./address.ts";

/** How often a test connection is looked at (ms): the longest a new generation that accepts waits for new connections. */
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
        if (!a) this.addrs.set(name, Address.open(name, gen, cfg, this.say));
        else if (share || a.shared) (a.steered ?? a.listeners.at(-1)!).gens.add(gen);
        else a.bindBeside(gen, cfg);
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
    for (const a of this.addrs.values()) a.steer(gen, now);
    this.checkProbesLater();
  }

  private checkProbesLater() {
    if (this.probeTimer || ![...this.addrs.values()].some((a) => a.probing)) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      for (const a of this.addrs.values()) a.checkProbe();
      this.checkProbesLater();
    }, PROBE_EVERY);
  }

  /** Generation gen is gone (its workers exited): close what no other generation uses. Returns the addresses closed. */
  release(gen: number): string[] {
    const closed: string[] = [];
    for (const [name, a] of this.addrs) {
      for (const l of [...a.listeners]) if (l.gens.delete(gen) && l.gens.size === 0) a.close(l, gen);
      if (a.listeners.length > 0) continue;
      this.addrs.delete(name);
      closed.push(name);
    }
    return closed;
  }

  /** The sockets a worker of generation gen running cfg gets, in order, as fd 3, 4, … */
  for(gen: number, cfg: Config): ListenSocket[] {
    if (cfg.listen.length === 0) return this.inherited;
    return cfg.listen.map((n) => this.addrs.get(n)!.listenerOf(gen)!.sock);
  }

  /** True when no socket of gen is shared with another generation: once steered away from, an older one gets no new connection. */
  ownsSockets(gen: number, cfg: Config): boolean {
    if (cfg.listen.length === 0) return this.inherited.length === 0;
    return cfg.listen.every((n) => this.addrs.get(n)?.listenerOf(gen)?.gens.size === 1);
  }

  closeAll() {
    clearTimeout(this.probeTimer);
    for (const a of this.addrs.values()) a.closeAll();
    closeListen(this.inherited);
    this.addrs.clear();
  }
}
