// Everything about a config that can be wrong before a worker starts: the
// master refuses it with exit 2 (and keeps the old config on a reload);
// `sup check` runs the same checks. Every problem is listed, not the first.
import { statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { UsageError } from "./cli.ts";
import { ConfigError } from "../config/coerce.ts";
import { parseListen } from "../net/listen.ts";
import { parseHealth } from "../net/health.ts";
import { PRIVATE } from "../net/probe.ts";
import { parseReady } from "../net/probe.ts";
import { commandArgv, parseEnvList } from "../processes/env.ts";
import { parseSignal } from "../processes/handle.ts";
import { resolveCommand } from "../processes/shim.ts";
import { findGroup, findUser, groupsOf } from "../native/users.ts";
import type { Config } from "../config/schema.ts";

/**
 * Where a command is looked for when sup has no PATH at all (env -i, cron,
 * a bare container): systemd's default, which holds execvp(3)'s own
 * /bin:/usr/bin. An unset PATH read as "" would mean the working directory
 * alone (an empty entry), and `sleep` would not be found.
 */
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const isDirectory = (p: string) => statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;

/** Who the workers run as (uid, gid): resolved once per config, since NSS may be slow. */
export interface WorkerUser {
  uid: number;
  gid: number;
  groups: number[];
  /** For messages: "www-data (33:33)". */
  shown: string;
}

export interface Checked {
  /** The worker argv, the command resolved to an absolute path. */
  argv: string[];
  user?: WorkerUser;
}

const checked = new WeakMap<Config, Checked>();

/** The checked argv and worker user of cfg; throws UsageError listing every problem. */
export function checkConfig(cfg: Config, startDir: string): Checked {
  const known = checked.get(cfg);
  if (known) return known;
  const problems: string[] = [];
  const argv = commandProblems(cfg, startDir, problems);
  const user = workerUser(cfg, problems);
  listenProblems(cfg, problems);
  if (problems.length > 0) throw new UsageError(problems.length === 1 ? problems[0]! : `${problems.length} problems:\n  ${problems.join("\n  ")}`);
  const result = { argv: argv!, user };
  checked.set(cfg, result);
  return result;
}

/** checkConfig for a named program: its problems say which program and where it is declared, as sup check does ("" for the one implicit program: no name). */
export function checkProgram(cfg: Config, program: string, startDir: string, where = ""): Checked {
  try {
    return checkConfig(cfg, startDir);
  } catch (e) {
    if (!program || !(e instanceof ConfigError)) throw e;
    throw new UsageError(`program ${program}${where ? ` (${where})` : ""}: ${e.message}`);
  }
}

/** What a check elsewhere found for cfg (the reload's loader, src/verbs/config-child.ts): checkConfig then does no work on the loop. */
export function rememberChecked(cfg: Config, result: Checked): void {
  checked.set(cfg, result);
}

function commandProblems(cfg: Config, startDir: string, problems: string[]): string[] | undefined {
  const cwd = resolve(startDir, cfg.chdir || ".");
  if (!isDirectory(cwd)) {
    // No --chdir: the directory sup was started in, deleted since (a release dir cleaned up while the master runs).
    problems.push(cfg.chdir ? `chdir ${cwd}: not a directory; create it or fix --chdir` : `the working directory ${cwd} (where the master was started) does not exist any more; create it again, or set --chdir`);
  }
  if (!parseSignal(cfg["stop-signal"])) problems.push(`stop-signal ${JSON.stringify(cfg["stop-signal"])} is not a signal name; use e.g. TERM, INT, QUIT or USR1`);
  if (cfg.pidfile) {
    const dir = dirname(resolve(startDir, cfg.pidfile));
    if (!isDirectory(dir)) problems.push(`pidfile ${cfg.pidfile}: directory ${dir} does not exist; create it or choose another pidfile`);
  }
  try {
    refuseProbeOfListen(cfg);
  } catch (e) {
    problems.push((e as Error).message);
  }
  try {
    if (cfg.health) parseHealth(cfg.health);
  } catch (e) {
    problems.push((e as Error).message);
  }
  if (!parseSignal(cfg["watchdog-signal"])) problems.push(`watchdog-signal ${JSON.stringify(cfg["watchdog-signal"])} is not a signal name; use e.g. ABRT, USR2 or QUIT`);
  if (cfg.command.length === 0) {
    problems.push("no command to run: give one after -- (sup -p 2 -- python app.py) or set command in the config");
    return undefined;
  }
  // The command is looked up on the PATH the worker will have (sup check does the same).
  let PATH = process.env.PATH ?? DEFAULT_PATH;
  try {
    PATH = parseEnvList(cfg.env).PATH ?? PATH;
  } catch (e) {
    problems.push((e as Error).message);
  }
  const argv = commandArgv(cfg);
  const path = isDirectory(cwd) ? resolveCommand(argv[0]!, { cwd, PATH }) : undefined;
  if (!path && isDirectory(cwd)) problems.push(`command not found: ${JSON.stringify(argv[0])} (not an executable file${argv[0]!.includes("/") ? ` at ${resolve(cwd, argv[0]!)}` : ` on PATH${PATH === DEFAULT_PATH && process.env.PATH === undefined ? ` (not set: looked in ${DEFAULT_PATH})` : ""}`}); check the name, or use --shell for a shell command`);
  if (path && cfg.shell) shellSyntax(path, argv[2]!, problems);
  return path ? [path, ...argv.slice(1)] : undefined;
}

/**
 * A shell command (a Procfile line, shell = true) the shell cannot parse
 * (an unterminated quote) would fail in every worker, each start; `sh -n`
 * reads it without running it, so sup check says so with the line.
 */
function shellSyntax(sh: string, script: string, problems: string[]) {
  const r = Bun.spawnSync([sh, "-n", "-c", script], { stdin: "ignore", stdout: "ignore", stderr: "pipe", timeout: 5000 });
  if (r.exitCode === 0 || r.exitCode === null) return;
  const why = r.stderr.toString().trim().split("\n")[0]!.replace(/^[^:]*sh: (\d+: )?/, "");
  problems.push(`${sh} cannot parse the command (${why}): ${JSON.stringify(script.slice(0, 120))}; fix its quoting`);
}

/**
 * uid/gid: the user by name or number; its group when no gid is given (uWSGI
 * would keep root's group 0 then), and its supplementary groups. Switching
 * to another user needs root.
 */
function workerUser(cfg: Config, problems: string[]): WorkerUser | undefined {
  if (!cfg.uid && !cfg.gid) return undefined;
  const me = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  const user = cfg.uid ? findUser(cfg.uid) : { uid: me.uid, gid: me.gid };
  if (!user) problems.push(`uid ${cfg.uid}: no such user (getpwnam); create it or use another`);
  const gid = cfg.gid ? findGroup(cfg.gid) : user?.gid;
  if (gid === undefined && cfg.gid) problems.push(`gid ${cfg.gid}: no such group (getgrnam); create it or use another`);
  if (!user || gid === undefined) return undefined;
  const groups = cfg.uid ? groupsOf(user, gid) : [gid];
  if (me.uid !== 0 && (user.uid !== me.uid || gid !== me.gid)) {
    problems.push(`uid/gid ${cfg.uid || "-"}/${cfg.gid || "-"}: only a master run as root can run workers as another user or group (this one runs as uid ${me.uid}); start sup as root (it binds the sockets and writes its files as root, the workers run as ${cfg.uid || cfg.gid}), or drop uid/gid`);
  }
  return { uid: user.uid, gid, groups, shown: `${cfg.uid || me.uid}${"name" in user && user.name && user.name !== cfg.uid ? ` (${user.name})` : ""} uid ${user.uid} gid ${gid}` };
}

/** listen addresses and listen-owner, checked before anything is bound. */
function listenProblems(cfg: Config, problems: string[]): void {
  for (const addr of cfg.listen) {
    try {
      parseListen(addr);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  const owner = cfg["listen-owner"];
  if (!owner) return;
  const [u = "", g] = owner.split(":");
  if (u && !findUser(u)) problems.push(`listen-owner ${owner}: no such user ${u}`);
  if (g && findGroup(g) === undefined) problems.push(`listen-owner ${owner}: no such group ${g}`);
  if ((process.getuid?.() ?? 0) !== 0) problems.push(`listen-owner ${owner}: only a master run as root can give its sockets to another user`);
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
  else if (spec.kind === "http" && spec.url.includes(PRIVATE)) return; // the worker's own socket: only it answers
  else if (spec.kind === "http") port = new URL(spec.url.replaceAll("{id}", "1").replaceAll("{port}", "1")).port || (spec.url.startsWith("https:") ? "443" : "80");
  else return;
  if (!/^\d+$/.test(port) || spec.kind === "http" && /\{(?:port|id)\}/.test(spec.url)) return;
  const addr = cfg.listen.find((a) => {
    try {
      const l = parseListen(a);
      return l.kind !== "unix" && l.port === Number(port);
    } catch {
      return false;
    }
  });
  if (addr) {
    throw new UsageError(
      `ready ${JSON.stringify(cfg.ready)} probes port ${port}, which sup listens on for every worker (listen ${addr}): any worker, old or new, answers there, so it proves nothing about a new one. Use --ready notify (sd_notify, or a line on $SUP_NOTIFY_FD), or give workers their own ports with --port-base and probe {port}`,
    );
  }
}
