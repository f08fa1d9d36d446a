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
import { Address, type Gen, type Say } from "./address.ts";
import { closeListen, inheritedListen, type ListenSocket } from "./listen.ts";

export type { Say } from "./address.ts";

/** How often a test connection is looked at (ms): the longest a new generation that accepts waits for new connections. */
const PROBE_EVERY = 2;

export class Sockets {
  private readonly addrs = new Map<string, Address>();
  // Taken once: LISTEN_PID names this process only at start.
  private readonly inherited = inheritedListen(process.env);
  private inheritedSaid = false;
  private probeTimer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly say: Say = () => {},
    /** Log lines name the program (the master runs several). */
    private readonly named: () => boolean = () => false,
  ) {}

  /** Sockets are held per program and generation. */
  private genOf(gen: number, program: string): Gen {
    return { key: `${program}\0${gen}`, gen, label: program && this.named() ? `gen ${gen} of ${program}` : `gen ${gen}` };
  }

  /**
   * Gives a program's generation gen its sockets for cfg's addresses: its
   * own, or with `share` the ones new connections go to now. All or
   * nothing (ConfigError). Several programs on one address share it.
   */
  acquire(gen: number, cfg: Config, share = false, program = "") {
    const g = this.genOf(gen, program);
    if (cfg.listen.length === 0 && this.inherited.length > 0 && gen > 1 && !this.inheritedSaid) {
      this.inheritedSaid = true;
      this.say("warn", "listen: the sockets came from systemd (LISTEN_FDS); every generation shares them, so during a reload's grace old and new workers both take new connections", { event: "listen.shared" });
    }
    try {
      for (const name of cfg.listen) {
        const a = this.addrs.get(name);
        if (!a) this.addrs.set(name, Address.open(name, g, cfg, this.say));
        else {
          if (a.listeners.some((l) => [...l.gens].some((k) => !k.startsWith(`${program}\0`)))) a.fallBack("several programs listen on it");
          if (a.reclaimPath(g, cfg, share)) continue;
          if (share || a.shared) (a.steered ?? a.listeners.at(-1)!).gens.add(g.key);
          else a.bindBeside(g, cfg);
        }
      }
    } catch (e) {
      this.release(gen, program);
      throw e;
    }
  }

  /**
   * New connections go to generation gen's sockets: `now`, or once each has
   * accepted a test connection (addresses gen does not use are left as they are).
   */
  steer(gen: number, now = true, program = "") {
    const g = this.genOf(gen, program);
    for (const a of this.addrs.values()) a.steer(g, now);
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
  release(gen: number, program = ""): string[] {
    const g = this.genOf(gen, program);
    const closed: string[] = [];
    for (const [name, a] of this.addrs) {
      for (const l of [...a.listeners]) if (l.gens.delete(g.key) && l.gens.size === 0) a.close(l, g);
      if (a.listeners.length > 0) continue;
      this.addrs.delete(name);
      closed.push(name);
    }
    return closed;
  }

  /** The sockets a worker of generation gen running cfg gets, in order, as fd 3, 4, … */
  for(gen: number, cfg: Config, program = ""): ListenSocket[] {
    if (cfg.listen.length === 0) return this.inherited;
    return cfg.listen.map((n) => this.addrs.get(n)!.listenerOf(this.genOf(gen, program).key)!.sock);
  }

  /** True when no socket of gen is shared with another generation: once steered away from, an older one gets no new connection. */
  ownsSockets(gen: number, cfg: Config, program = ""): boolean {
    if (cfg.listen.length === 0) return this.inherited.length === 0;
    return cfg.listen.every((n) => this.addrs.get(n)?.listenerOf(this.genOf(gen, program).key)?.gens.size === 1);
  }

  closeAll() {
    clearTimeout(this.probeTimer);
    for (const a of this.addrs.values()) a.closeAll();
    closeListen(this.inherited);
    this.addrs.clear();
  }
}
