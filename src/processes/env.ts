// What a worker gets (DESIGN.md section 4): its environment and argv.
import { OPTIONS, envVarName, type Config } from "../config/schema.ts";
import { ConfigError } from "../config/coerce.ts";

/**
 * Variables a worker never inherits from the master: those that describe the
 * master's own supervisor (systemd's), and sup's own configuration (every
 * SUP_<OPTION>, SUP_ENV). A worker that is itself a sup would otherwise run
 * with the outer master's pidfile, processes and config. `env` may still set
 * any of them for a worker on purpose.
 */
const NOT_INHERITED = new Set([
  "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID",
  "SUP_ENV", ...OPTIONS.map((o) => envVarName(o.name)),
]);

/** Parses `env` entries (KEY=VALUE); an entry without "=" is an error naming it. */
export function parseEnvList(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of list) {
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new ConfigError(`env ${JSON.stringify(entry)}: expected KEY=VALUE`);
    out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}

export interface WorkerIdentity {
  id: number;
  generation: number;
  masterPid: number;
  listenFds: number; // how many sockets, as fd 3, 4, …
  listenFdNames: string; // LISTEN_FDNAMES, colon-separated
  notifySocket?: string;
  /** The worker's fd of its notify pipe (SUP_NOTIFY_FD), for apps without unix datagram sockets. */
  notifyFd?: number;
  /** $PORT with --port-base (chosen by the arbiter: it alternates between two per id). */
  port?: number;
  /** The program it belongs to ($SUP_PROGRAM). */
  program?: string;
}

export function workerEnv(base: Record<string, string | undefined>, cfg: Config, who: WorkerIdentity): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !NOT_INHERITED.has(k)) env[k] = v;
  Object.assign(env, parseEnvList(cfg.env));
  env.SUP_WORKER_ID = String(who.id);
  env.SUP_GENERATION = String(who.generation);
  env.SUP_MASTER_PID = String(who.masterPid);
  if (who.program) env.SUP_PROGRAM = who.program;
  if (who.port) env.PORT = String(who.port);
  if (who.listenFds > 0) {
    // LISTEN_PID is set by the exec shim to the worker's own pid (sd_listen_fds(3)).
    env.LISTEN_FDS = String(who.listenFds);
    env.LISTEN_FDNAMES = who.listenFdNames;
  }
  if (who.notifySocket) env.NOTIFY_SOCKET = who.notifySocket;
  // systemd's watchdog protocol (sd_watchdog_enabled(3)); the exec shim sets WATCHDOG_PID to the worker's own pid.
  if (cfg.watchdog > 0) env.WATCHDOG_USEC = String(Math.round(cfg.watchdog * 1_000_000));
  if (who.notifyFd !== undefined) env.SUP_NOTIFY_FD = String(who.notifyFd);
  return env;
}

/**
 * The command to exec. With `shell`, the words are joined with spaces and run
 * by /bin/sh -c, as the user asked; otherwise the argv is used as given.
 */
export function commandArgv(cfg: Config): string[] {
  return cfg.shell ? ["/bin/sh", "-c", cfg.command.join(" ")] : cfg.command;
}
