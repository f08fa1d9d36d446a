// The listen sockets the master holds for its workers, owned in one place
// (unicorn's `listeners=`): each address knows the generations that use it.
// A reload binds the addresses it needs when it starts (so a bind error
// fails the reload, not a worker); an address no generation uses any more,
// after a commit dropped it or a rollback dropped its generation, is closed
// at once (a unix socket is unlinked), so new clients are refused instead of
// waiting in a backlog nobody will accept from. Workers keep their own fds
// until they exit. systemd's sockets (socket activation) are used when the
// config lists none, and are never closed.
import type { Config } from "../config/schema.ts";
import { bindListen, closeListen, inheritedListen, type ListenSocket } from "./listen.ts";

export class Sockets {
  private readonly bound = new Map<string, { sock: ListenSocket; gens: Set<string> }>();
  // Taken once: LISTEN_PID names this process only at start.
  private readonly inherited = inheritedListen(process.env);

  /** Binds what generation `gen` (a program's, as one key) of `cfg` needs and is not bound yet; all or nothing (ConfigError). */
  acquire(gen: string, cfg: Config) {
    const fresh = cfg.listen.filter((a) => !this.bound.has(a));
    const socks = fresh.length > 0 ? bindListen(fresh, { backlog: cfg["listen-backlog"], mode: cfg["listen-mode"], owner: cfg["listen-owner"] }) : [];
    for (const s of socks) this.bound.set(s.name, { sock: s, gens: new Set() });
    for (const a of cfg.listen) this.bound.get(a)!.gens.add(gen);
  }

  /** Generation `gen` is gone: close what no other generation uses. Returns the addresses closed. */
  release(gen: string): string[] {
    const closed: string[] = [];
    for (const [addr, b] of this.bound) {
      if (!b.gens.delete(gen) || b.gens.size > 0) continue;
      closeListen([b.sock]);
      this.bound.delete(addr);
      closed.push(addr);
    }
    return closed;
  }

  /** The sockets a worker of this config gets, in order, as fd 3, 4, … */
  for(cfg: Config): ListenSocket[] {
    if (cfg.listen.length === 0) return this.inherited;
    return cfg.listen.map((a) => this.bound.get(a)!.sock);
  }

  closeAll() {
    closeListen([...[...this.bound.values()].map((b) => b.sock), ...this.inherited]);
    this.bound.clear();
  }
}
