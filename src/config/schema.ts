// The one table of sup's options. Flags, config keys, SUP_* variables and
// docs/config.md are all derived from it, so a key exists everywhere or nowhere.

export type OptionType = "int" | "number" | "string" | "boolean" | "list" | "enum" | "deps";

/** Where an option is listed in `sup --help`. */
export type OptionGroup = "workers" | "sockets" | "readiness" | "health" | "reloads" | "control" | "logging" | "config";

export interface OptionSpec {
  readonly name: string;
  readonly group: OptionGroup;
  readonly type: OptionType;
  readonly default: unknown;
  readonly short?: string;
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[]; // for enum
  readonly aliasOf?: string; // uWSGI spelling that sets another key
  readonly flagOnly?: boolean; // meaningful only on the command line
  /** "master": one value for the whole master, not per program (pidfile, log format); default: per program. */
  readonly scope?: "master";
  readonly help: string;
}

const opt = (spec: OptionSpec) => spec;

export const OPTIONS = [
  opt({ name: "processes", group: "workers", type: "int", default: 1, short: "p", min: 1, help: "Number of worker processes." }),
  opt({ name: "workers", group: "workers", type: "int", default: undefined, min: 1, aliasOf: "processes", help: "Alias of processes (uWSGI)." }),
  opt({ name: "command", group: "workers", type: "list", default: [], help: "The worker command as an argv list (normally given after --). A string in a file is split like a shell would, without expansion." }),
  opt({ name: "shell", group: "workers", type: "boolean", default: false, help: "Run the command through /bin/sh -c." }),
  opt({ name: "chdir", group: "workers", type: "string", default: "", help: "Directory the workers run in (default: the current directory)." }),
  opt({ name: "env", group: "workers", type: "list", default: [], help: "Extra worker environment, KEY=VALUE; repeatable." }),
  opt({ name: "stdin-open", group: "workers", type: "boolean", default: false, help: "Give each worker a stdin that stays open while the master runs (a pipe nothing is written to), not /dev/null: dev watchers (esbuild --watch, tailwindcss --watch) exit when their stdin closes, and run under foreman in a terminal. A Procfile's programs have it." }),
  opt({ name: "stop-signal", group: "workers", type: "string", default: "TERM", help: "Signal that asks a worker to stop (sent to its process group)." }),
  opt({ name: "worker-reload-mercy", group: "workers", type: "number", default: 30, min: 0, help: "Seconds a stopping worker gets before SIGKILL." }),
  opt({ name: "backoff-max", group: "workers", type: "number", default: 10, min: 0.1, help: "Longest delay in seconds between respawns of a crashing worker." }),
  opt({ name: "pidfile", group: "control", type: "string", default: "", scope: "master", help: "Write the master's pid here; `sup reload|stop|status` read it. A pidfile naming a running process is refused at start (a stale one is taken over)." }),
  opt({ name: "log-format", group: "logging", type: "enum", default: "text", scope: "master", values: ["text", "json"], help: "Master log lines as text or one JSON object per line." }),
  opt({ name: "log-prefix", group: "logging", type: "boolean", default: true, help: "Prefix worker output lines with the worker id." }),
  opt({ name: "master", group: "control", type: "boolean", default: true, scope: "master", help: "Accepted for uWSGI compatibility; sup always runs a master." }),
  opt({ name: "touch-reload", group: "reloads", type: "list", default: [], help: "Graceful reload when this file's mtime changes, or it appears or disappears; repeatable." }),
  opt({ name: "touch-chain-reload", group: "reloads", type: "list", default: [], help: "Rolling (one at a time) reload on touch; repeatable." }),
  opt({ name: "check-interval", group: "reloads", type: "number", default: 1, min: 0.01, help: "Seconds between touch-file checks." }),
  opt({ name: "autoreload", group: "reloads", type: "number", default: 0, min: 0, help: "Reload when a watched file changes (0 = off). Changes are seen at once through inotify; N is the poll interval where inotify cannot watch (see autoreload-engine)." }),
  opt({ name: "py-autoreload", group: "reloads", type: "number", default: 0, min: 0, help: "uWSGI's option: stat every watched file every N seconds and reload on change (0 = off). If autoreload is set too, it wins." }),
  opt({ name: "autoreload-watch", group: "reloads", type: "list", default: [], help: "Paths to watch (default: the workers' directory, chdir); repeatable." }),
  opt({ name: "autoreload-include", group: "reloads", type: "list", default: [], help: "Only files matching one of these globs count; repeatable." }),
  opt({ name: "autoreload-ignore", group: "reloads", type: "list", default: [], help: "Globs to ignore, on top of .gitignore and the defaults (VCS dirs, node_modules, __pycache__, *.pyc, virtualenvs, tool caches, logs and rotated logs, *.pid, *.sock, database files, editor files; see What autoreload watches); !GLOB takes one back; repeatable." }),
  opt({ name: "autoreload-engine", group: "reloads", type: "enum", default: "auto", values: ["auto", "events", "poll"], help: "auto: events for autoreload, poll for py-autoreload; events: inotify, polling only where it cannot watch (network/FUSE mounts, past the watch limit); poll: stat every file every N s." }),
  opt({ name: "autoreload-settle", group: "reloads", type: "number", default: 0.3, min: 0, help: "Seconds the tree must be quiet before a file-triggered reload (0.01 by default with the events engine)." }),
  opt({ name: "listen", group: "sockets", type: "list", default: [], help: "Address the master binds and hands to workers as fd 3, 4, …: HOST:PORT, [::1]:PORT, :PORT, unix:/path; repeatable." }),
  opt({ name: "listen-mode", group: "sockets", type: "string", default: "", help: "Octal permission of unix listen sockets, e.g. 660." }),
  opt({ name: "listen-backlog", group: "sockets", type: "int", default: 1024, min: 1, help: "Backlog of listen sockets." }),
  opt({ name: "listen-owner", group: "sockets", type: "string", default: "", help: "Owner of unix listen sockets, USER[:GROUP] (names or numbers), e.g. www-data:www-data; the master must be root to give them away." }),
  opt({ name: "uid", group: "workers", type: "string", default: "", help: "Run the workers as this user (name or number), with its groups; the master stays root to bind sockets and write its files." }),
  opt({ name: "gid", group: "workers", type: "string", default: "", help: "Run the workers with this group (name or number); default: the uid's own group." }),
  opt({ name: "ready", group: "readiness", type: "string", default: "delay:1", help: "When a new worker counts as ready: notify | tcp:HOST:PORT | http://HOST:PORT/PATH | delay:SECONDS." }),
  opt({ name: "ready-timeout", group: "readiness", type: "number", default: 30, min: 0.1, help: "Seconds a new worker has to become ready before its reload is rolled back." }),
  opt({ name: "port-base", group: "sockets", type: "int", default: 0, min: 0, help: "Give worker N the port PORT_BASE+2(N-1) or the one after it (whichever its predecessor does not hold) as $PORT ({port} in ready probes)." }),
  opt({ name: "reload-grace", group: "readiness", type: "number", default: 3, min: 0, help: "Seconds a new worker must stay up after it is ready before the old one is retired; a new worker that dies sooner rolls the reload back (0: trust ready at once)." }),
  opt({ name: "boot-nice", group: "reloads", type: "int", default: 0, min: 0, max: 19, help: "A reload's new workers boot this much nicer (lower CPU priority) until they are ready, so their start takes the CPU the serving workers leave idle (0: off)." }),
  opt({ name: "reload-strategy", group: "reloads", type: "enum", default: "start-first", values: ["start-first", "stop-first"], help: "start-first: a new worker starts before the old one goes (zero downtime); stop-first: the old one stops first, for apps that bind their own port." }),
  opt({ name: "give-up-after", group: "workers", type: "int", default: 0, min: 0, help: "Stop the master with exit 1 after a worker exits this many times in a row (0 = never give up)." }),
  opt({ name: "watchdog", group: "health", type: "number", default: 0, min: 0, help: "Seconds a ready worker may go without sending WATCHDOG=1 (sd_notify, or a line on $SUP_NOTIFY_FD; it gets WATCHDOG_USEC) before it is replaced (0 = off)." }),
  opt({ name: "watchdog-signal", group: "health", type: "string", default: "ABRT", help: "Signal a worker gets before it is stopped for a missed watchdog or failed health checks, so it can dump a stack (Python's faulthandler, Node's --report-on-signal, the JVM)." }),
  opt({ name: "health", group: "health", type: "string", default: "", help: "Liveness probe of each ready worker: http:/PATH (the worker's own socket, beside the shared ones), http://HOST:{port}/PATH or tcp:HOST:{port} (with --port-base), exec:COMMAND (SUP_WORKER_PID set)." }),
  opt({ name: "health-interval", group: "health", type: "number", default: 10, min: 0.1, help: "Seconds between liveness probes of a worker." }),
  opt({ name: "health-timeout", group: "health", type: "number", default: 2, min: 0.1, help: "Seconds a liveness probe may take." }),
  opt({ name: "health-failures", group: "health", type: "int", default: 3, min: 1, help: "Failed probes in a row after which the worker is replaced." }),
  opt({ name: "max-worker-lifetime", group: "health", type: "number", default: 0, min: 0, help: "Replace a worker after it has been ready this many seconds (0 = never); uWSGI's max-worker-lifetime." }),
  opt({ name: "max-worker-lifetime-delta", group: "health", type: "number", default: 0, min: 0, help: "Spread the lifetimes: worker N of P lives max-worker-lifetime + delta*(N-1)/P seconds, so they never come due together." }),
  opt({ name: "reload-on-rss", group: "health", type: "number", default: 0, min: 0, help: "Replace a worker whose process group's resident memory passes this many MB (checked every check-interval seconds; 0 = off)." }),
  opt({ name: "max-surge", group: "health", type: "int", default: 1, min: 1, help: "Replacements (watchdog, health, lifetime, rss) that may run at once; each starts a new worker and retires the old one only once the new one is ready." }),
  opt({ name: "restart", group: "workers", type: "enum", default: "always", values: ["always", "on-failure", "never"], help: "When a worker exits on its own: always respawn it (with the crash backoff); on-failure: only after a non-zero exit or a signal (exit 0 is done); never: a one-shot task, its exit is reported. The master exits once every worker of every program is done." }),
  opt({ name: "group", group: "workers", type: "string", default: "", help: "A name this program shares with others (not a unix group: that is gid): `sup stop|start|restart|reload GROUP` acts on each of them, as supervisorctl's GROUP:* (supervisord's [group:x] programs = sets it); GROUP:NAME is one of them." }),
  opt({ name: "autostart", group: "workers", type: "boolean", default: true, help: "false: the program does not start with the master; it waits, stopped, for `sup start NAME` (supervisord's autostart = false)." }),
  opt({ name: "on-exit", group: "workers", type: "enum", default: "restart", values: ["restart", "stop-all"], help: "restart: what --restart says; stop-all: a worker of this program that exits on its own stops the whole master, which exits with its code (a container's orchestrator then restarts the pod)." }),
  opt({ name: "depends-on", group: "workers", type: "deps", default: {}, help: "Programs that must be started, ready or completed (exited 0) before this one starts: TOML { migrate = \"completed\", db = \"ready\" }, a list (ready), or \"migrate:completed db\"." }),
  opt({ name: "stats", group: "control", type: "string", default: "", scope: "master", help: "Serve /metrics (Prometheus), /healthz, /readyz and /status over HTTP on this address: HOST:PORT, :PORT (every IPv4 interface), unix:/PATH (uWSGI's stats; see docs/kubernetes.md). Read at start." }),
  opt({ name: "shutdown-delay", group: "control", type: "number", default: 0, min: 0, scope: "master", help: "On TERM, answer /readyz with 503 and keep the workers serving this many seconds before the graceful stop (Kubernetes keeps routing to a pod for a moment after TERM); a second TERM or an INT stops at once." }),
  opt({ name: "logto", group: "logging", type: "string", default: "", scope: "master", help: "Write the master's log and every worker's stdout and stderr to this file instead (uWSGI's logto): appended, created 0640; reopened on USR1, `sup reopen-logs` and touch-logreopen. Read at start." }),
  opt({ name: "log-maxsize", group: "logging", type: "number", default: 0, min: 0, scope: "master", help: "Rotate the logto file when it grows past this many MB: it is renamed FILE.1 (replacing the last one) and a new FILE is started (0 = never; use logrotate)." }),
  opt({ name: "touch-logreopen", group: "logging", type: "list", default: [], scope: "master", help: "Reopen the logto file when this file's mtime changes (uWSGI's touch-logreopen, for logrotate's postrotate); repeatable." }),
  opt({ name: "config", group: "config", type: "string", default: "", short: "c", flagOnly: true, help: "Config file (INI, TOML, JSON); FILE[:SECTION]." }),
  opt({ name: "ini", group: "config", type: "string", default: "", flagOnly: true, help: "INI config file, FILE[:SECTION]." }),
  opt({ name: "toml", group: "config", type: "string", default: "", flagOnly: true, help: "TOML config file, FILE[:SECTION]." }),
  opt({ name: "json", group: "config", type: "string", default: "", flagOnly: true, help: "JSON config file, FILE[:SECTION]." }),
  opt({ name: "procfile", group: "config", type: "string", default: "", flagOnly: true, help: "Run each `name: command` line of this Procfile as a program of one worker (foreman's PORT and .env). Without -c or a command, a Procfile in the working directory is read." }),
  opt({ name: "env-name", group: "config", type: "string", default: "", flagOnly: true, help: "Config environment section to apply ([sup:NAME]; NAME table); also SUP_ENV." }),
] as const satisfies readonly OptionSpec[];

export type OptionName = (typeof OPTIONS)[number]["name"];

/** The effective configuration the master runs with (aliases folded in). */
export interface Config {
  processes: number;
  command: string[];
  shell: boolean;
  chdir: string;
  env: string[];
  "stop-signal": string;
  "worker-reload-mercy": number;
  "backoff-max": number;
  pidfile: string;
  "log-format": "text" | "json";
  "log-prefix": boolean;
  master: boolean;
  "touch-reload": string[];
  "touch-chain-reload": string[];
  "check-interval": number;
  autoreload: number;
  "py-autoreload": number;
  "autoreload-watch": string[];
  "autoreload-include": string[];
  "autoreload-ignore": string[];
  "autoreload-engine": "auto" | "poll" | "events";
  "autoreload-settle": number;
  listen: string[];
  "listen-mode": string;
  "listen-backlog": number;
  "listen-owner": string;
  uid: string;
  gid: string;
  ready: string;
  "ready-timeout": number;
  "port-base": number;
  "reload-grace": number;
  "boot-nice": number;
  "reload-strategy": "start-first" | "stop-first";
  "give-up-after": number;
  watchdog: number;
  "watchdog-signal": string;
  health: string;
  "health-interval": number;
  "health-timeout": number;
  "health-failures": number;
  "max-worker-lifetime": number;
  "max-worker-lifetime-delta": number;
  "reload-on-rss": number;
  "max-surge": number;
  restart: "always" | "on-failure" | "never";
  group: string;
  autostart: boolean;
  "stdin-open": boolean;
  "on-exit": "restart" | "stop-all";
  /** program name → what it must have done before this program starts. */
  "depends-on": Record<string, DependsOn>;
  stats: string;
  "shutdown-delay": number;
  logto: string;
  "log-maxsize": number;
  "touch-logreopen": string[];
}

/** What a config load gives the master: the programs to run (config/load.ts's Loaded is one). */
export interface Setup {
  programs: ProgramConfig[];
}

export type DependsOn = "started" | "ready" | "completed";
export const DEPENDS_ON: readonly DependsOn[] = ["started", "ready", "completed"];

/** A named program of the config: its own Config (the top-level values are its defaults). */
export interface ProgramConfig {
  name: string;
  config: Config;
  /** Where it was declared ("sup.toml:12", "Procfile:2"), for messages; "" for the implicit one. */
  where: string;
  /** The config's own program (no [programs] declared, or a uwsgi.ini's app): a HUP always reloads it, as uWSGI's does. */
  main?: boolean;
}

export const SPECS: ReadonlyMap<string, OptionSpec> = new Map(OPTIONS.map((o) => [o.name, o]));

export function defaults(): Config {
  const c: Record<string, unknown> = {};
  for (const o of OPTIONS) {
    if ("aliasOf" in o || ("flagOnly" in o && o.flagOnly)) continue;
    c[o.name] = Array.isArray(o.default) ? [...o.default] : typeof o.default === "object" && o.default !== null ? { ...o.default } : o.default;
  }
  return c as unknown as Config;
}

/** What the autoreload options ask for: the interval and the engine (null = off). */
export function autoreloadMode(cfg: Pick<Config, "autoreload" | "py-autoreload" | "autoreload-engine">): { interval: number; engine: "poll" | "events" } | null {
  const interval = cfg.autoreload > 0 ? cfg.autoreload : cfg["py-autoreload"];
  if (!(interval > 0)) return null;
  const engine = cfg["autoreload-engine"];
  return { interval, engine: engine !== "auto" ? engine : cfg.autoreload > 0 ? "events" : "poll" };
}

/** SUP_WORKER_RELOAD_MERCY for worker-reload-mercy. */
export const envVarName = (name: string) => "SUP_" + name.toUpperCase().replaceAll("-", "_");
