// The sockets the master holds for its workers: --listen addresses it bound
// (or systemd's, when sup is socket-activated) and per-worker notify sockets.
import { join } from "node:path";
import type { Config } from "../config/schema.ts";
import { bindListen, inheritedListen, type ListenSocket } from "../net/listen.ts";
import { NotifySocket } from "../net/notify.ts";

export class Sockets {
  private bound = new Map<string, ListenSocket>();
  // Taken once: LISTEN_PID names this process only at start.
  private readonly inherited = inheritedListen(process.env);

  /**
   * Binds the addresses of cfg.listen not bound yet; a ConfigError (address
   * in use…) leaves what is bound as it was. Addresses a new config drops
   * stay bound until the master exits: a rolled-back reload still needs them.
   */
  update(cfg: Config) {
    const fresh = cfg.listen.filter((a) => !this.bound.has(a));
    if (fresh.length === 0) return;
    for (const s of bindListen(fresh, { backlog: cfg["listen-backlog"], mode: cfg["listen-mode"] })) this.bound.set(s.name, s);
  }

  /** The sockets a worker of this config gets, in order, as fd 3, 4, … */
  for(cfg: Config): ListenSocket[] {
    if (cfg.listen.length === 0) return this.inherited;
    return cfg.listen.map((a) => this.bound.get(a)!);
  }

  openNotify(dir: string, id: number, generation: number): NotifySocket {
    return NotifySocket.open(join(dir, `notify-${id}-${generation}.sock`));
  }

  all(): ListenSocket[] {
    return [...this.bound.values(), ...this.inherited];
  }
}
