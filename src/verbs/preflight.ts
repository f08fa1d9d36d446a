// Everything about a config that can be wrong before a worker starts: the
// master refuses it with exit 2 (and keeps the old config on a reload);
// `sup check` runs the same checks.
import { statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { UsageError } from "./cli.ts";
import { parseListen } from "../net/listen.ts";
import { parseReady } from "../net/probe.ts";
import { commandArgv, parseEnvList } from "../processes/env.ts";
import { parseSignal } from "../processes/handle.ts";
import { resolveCommand } from "../processes/shim.ts";
import type { Config } from "../config/schema.ts";

const isDirectory = (p: string) => statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;

/** The worker argv with the command resolved to an absolute path; throws UsageError naming what is wrong. */
export function checkConfig(cfg: Config, startDir: string): string[] {
  if (cfg.command.length === 0) throw new UsageError("no command to run: give one after -- (sup -p 2 -- python app.py) or set command in the config");
  const cwd = resolve(startDir, cfg.chdir || ".");
  if (!isDirectory(cwd)) throw new UsageError(`chdir ${cwd}: not a directory; create it or fix --chdir`);
  if (!parseSignal(cfg["stop-signal"])) throw new UsageError(`stop-signal ${JSON.stringify(cfg["stop-signal"])} is not a signal name; use e.g. TERM, INT, QUIT or USR1`);
  if (cfg.pidfile) {
    const dir = dirname(resolve(startDir, cfg.pidfile));
    if (!isDirectory(dir)) throw new UsageError(`pidfile ${cfg.pidfile}: directory ${dir} does not exist; create it or choose another pidfile`);
  }
  // The command is looked up on the PATH the worker will have (sup check does the same).
  const PATH = parseEnvList(cfg.env).PATH ?? process.env.PATH ?? "";
  refuseProbeOfListen(cfg);
  const argv = commandArgv(cfg);
  const path = resolveCommand(argv[0]!, { cwd, PATH });
  if (!path) throw new UsageError(`command not found: ${JSON.stringify(argv[0])} (not an executable file${argv[0]!.includes("/") ? ` at ${resolve(cwd, argv[0]!)}` : " on PATH"}); check the name, or use --shell for a shell command`);
  return [path, ...argv.slice(1)];
}

/**
 * A tcp/http readiness probe of an address sup itself listens on reaches the
 * kernel's backlog of the master's socket, shared by every worker: any
 * worker, old or new, or none at all, answers it. It would declare a new
 * generation that cannot start ready, so it is refused.
 */
function refuseProbeOfListen(cfg: Config) {
  const spec = parseReady(cfg.ready);
  let port: string;
  if (spec.kind === "tcp") port = spec.port;
  else if (spec.kind === "http") port = new URL(spec.url.replaceAll("{id}", "1").replaceAll("{port}", "1")).port || (spec.url.startsWith("https:") ? "443" : "80");
  else return;
  if (!/^\d+$/.test(port) || spec.kind === "http" && /\{(?:port|id)\}/.test(spec.url)) return;
  const addr = cfg.listen.find((a) => {
    const l = parseListen(a);
    return l.kind !== "unix" && l.port === Number(port);
  });
  if (addr) {
    throw new UsageError(
      `ready ${JSON.stringify(cfg.ready)} probes port ${port}, which sup listens on for every worker (listen ${addr}): any worker, old or new, answers there, so it proves nothing about a new one. Use --ready notify (sd_notify, or a line on $SUP_NOTIFY_FD), or give workers their own ports with --port-base and probe {port}`,
    );
  }
}
