// `sup [options] -- COMMAND`: check everything that can be checked before a
// worker starts (exit 2 and nothing started), then set up the pidfile,
// sockets, notify socket, signals, control socket and triggers around the
// arbiter loop, and take them down again when it ends.
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import { UsageError, type Cli } from "./cli.ts";
import { ConfigError } from "../config/coerce.ts";
import { loadConfig, type Loaded } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { openControl, refuseRunningMaster, type Control } from "../control/open.ts";
import { droppedLines, endOutputs, log, reopenLogs, setLogFormat, useOutputs, workerLine } from "../output/log.ts";
import { LogFile } from "../output/logfile.ts";
import { libc } from "../native/libc.ts";
import { bindListen, boundPort, listenFdNames, type ListenSocket } from "../net/listen.ts";
import { workerEnv } from "../processes/env.ts";
import { loadInChild } from "./config-child.ts";
import { checkConfig, checkProgram } from "./preflight.ts";
import { shimArgv } from "../processes/shim.ts";
import { spawnProcess } from "../processes/spawn.ts";
import { setFaultSink } from "../core/fault.ts";
import { probeHealth } from "../net/health.ts";
import { needsPrivate } from "../net/probe.ts";
import { groupMemory } from "../processes/memory.ts";
import { Loop } from "../supervisor/loop.ts";
import type { World } from "../supervisor/world.ts";
import { NotifyChannel } from "../sources/notify.ts";
import { bootPriority, type BootPriority } from "../processes/priority.ts";
import { startGuard, type GuardLink } from "../processes/guard.ts";
import { becomeSubreaper, children, procInfo, reapOrphans, workerOf } from "../processes/reaper.ts";
import { WorkerCgroups } from "../processes/cgroup.ts";
import { setupCgroups } from "../processes/cgroup-place.ts";
import { MASTER_SIGNALS } from "../supervisor/signals.ts";
import { Sockets } from "../net/sockets.ts";
import { notifySystemd } from "../net/systemd.ts";
import { ProgramTriggers, Triggers } from "../sources/triggers.ts";
import { startStats } from "../sources/stats.ts";
import { StartOnly } from "./start-only.ts";

declare const SUP_VERSION: string;
const VERSION = typeof SUP_VERSION === "string" ? SUP_VERSION : "dev";

export async function runMaster(cli: Cli): Promise<number> {
  // prctl(PR_SET_PDEATHSIG), /proc and the socket constants are Linux's.
  if (process.platform !== "linux") throw new UsageError(`the sup master runs on Linux only (this is ${process.platform}); sup --version and sup config work here`);
  const startDir = process.cwd();
  const loaded = await loadConfig(cli, process.env, startDir);
  const { config, programs } = loaded;
  setLogFormat(config["log-format"]);
  // Every program is checked before anything starts (exit 2, naming the program).
  const check = (cfg: Config, program: string, where?: string) => checkProgram(cfg, program, startDir, where);
  for (const p of programs) check(p.config, p.name, p.where);
  const pidfile = config.pidfile ? resolve(startDir, config.pidfile) : "";
  if (pidfile) await refuseRunningMaster(pidfile);

  const masterPid = process.pid;
  // Runtime dir (where notify sockets go), control socket, pidfile: src/control/open.ts.
  let control: Control | undefined;
  const sockets = new Sockets((level, msg, fields) => log[level](msg, fields), () => several);
  const shim = shimArgv();
  // A reload loads and checks the config in a child (config-child.ts): Bun
  // reaps it, so the orphan reaper must leave it alone.
  const loaders = new Set<number>();
  const loadArgv = [...shim.slice(0, -1), "__load-config", String(masterPid), startDir, ...process.argv.slice(2)];
  const notOurs = (owned: (pid: number) => boolean) => (pid: number) => owned(pid) || loaders.has(pid);
  let triggers: ProgramTriggers | undefined;
  let notify: NotifyChannel | undefined;
  let guard: GuardLink | undefined;
  let priority: BootPriority | undefined;
  let prioritySaid = false;
  // What a worker leaves behind by setsid or a double fork comes back here.
  becomeSubreaper();
  // Each worker's tree in a cgroup of its own where sup may make them (processes/cgroup.ts).
  const cg = setupCgroups(masterPid);
  const cgroups = "place" in cg ? new WorkerCgroups(cg.place) : undefined;
  const killMode = cgroups?.describe ?? "process groups + subreaper";

  // The World: all the I/O the supervisor does (src/supervisor/world.ts).
  const world: World = {
    spawn: spawnProcess,
    now: () => performance.now(),
    log,
    masterPid,
    loadConfig: () => loadInChild({ argv: loadArgv, running: (pid, alive) => void (alive ? loaders.add(pid) : loaders.delete(pid)) }),
    accept(next, generation, program = "", share = false) {
      check(next, program); // a config from the loader was checked there: this finds its result
      sockets.acquire(generation, next, share, program);
      if (talksNotify(next)) notify ??= NotifyChannel.open(notifyName(next, control!.dir), loop.queue, log);
      setLogFormat(next["log-format"]);
      triggers?.update(program, next);
      startOnly.check(next);
    },
    steer: (generation, now, program = "") => sockets.steer(generation, now, program),
    ownsSockets: (generation, program = "") => sockets.ownsSockets(generation, loop.programs.get(program)?.configFor({ generation }) ?? config, program),
    release(generation, program = "") {
      for (const addr of sockets.release(generation, program)) log.info(`listen ${addr}: closed (no generation uses it any more)`, { event: "listen.close", addr });
    },
    prepare(cfg, id, generation, port, program) {
      const cwd = resolve(startDir, cfg.chdir || ".");
      const { argv: command, user } = checkConfig(cfg, startDir);
      const shared = sockets.for(generation, cfg, program);
      // Probes that must reach this worker alone (http:/PATH) get a socket of its own, last.
      const own = needsPrivate(cfg.health) || needsPrivate(cfg.ready) ? ownSocket(cfg) : undefined;
      const listen = own ? [...shared, own.sock] : shared;
      const wantsNotify = talksNotify(cfg);
      const env = workerEnv(process.env, cfg, {
        id, generation, masterPid, port, program: several ? program : undefined,
        listenFds: listen.length, listenFdNames: listenFdNames(listen),
        notifySocket: wantsNotify ? notify?.path : undefined,
        notifyFd: wantsNotify ? 3 + listen.length : undefined,
      });
      // Plain text without a prefix: the worker writes to our stdout and
      // stderr itself, as gunicorn's and unicorn's workers do (no copy).
      // With --logto its lines come through the master, which reopens the file.
      const output = cfg["log-format"] === "text" && !cfg["log-prefix"] && !config.logto ? "inherit" : "pipe";
      const cgroup = cgroups?.create(id, generation, several ? program : undefined);
      const argv = [...shim, String(masterPid), ...(cgroup ? ["--cgroup", cgroup] : []), ...(user ? ["--user", `${user.uid}:${user.gid}:${user.groups.join(",")}`] : []), "--", ...command];
      return { argv, env, cwd, fds: listen.map((s) => s.fd), notifyPipe: wantsNotify, output, uid: user?.uid, cgroup, ...(cfg["stdin-open"] ? { stdinOpen: true } : {}), ...(own ? { privatePort: own.port, closeAfterSpawn: [own.sock.fd] } : {}) };
    },
    lifecycle: (what, detail) => notifySystemd(what, detail),
    reopenLogs,
    hasFileTriggers: (cfg) => Triggers.enabled(cfg),
    guard: {
      get pid() {
        return guard?.pid ?? -1;
      },
      get kind() {
        return guard?.kind;
      },
      watch: (kind, n) => guard?.watch(kind, n),
      unwatch: (kind, n) => guard?.unwatch(kind, n),
    },
    cgroups,
    killMode: () => killMode,
    sessionOf: (pid) => libc.getsid(pid),
    bootPriority: {
      lower(pid, nice) {
        if (!prioritySaid) {
          prioritySaid = true;
          priority = bootPriority((msg) => log.warn(msg, { event: "worker.priority" }));
          if (!priority) log.warn("boot-nice: this process can lower a worker's priority but not set it back (no autogroup, no CAP_SYS_NICE, RLIMIT_NICE too low): new workers boot at the usual priority", { event: "worker.priority" });
        }
        priority?.lower(pid, nice);
      },
      restore: (pid) => priority?.restore(pid),
    },
    reapOrphans: (owned) => {
      guard?.reap(); // the native guard is a child Bun does not wait for
      reapOrphans(notOurs(owned));
    },
    orphans: (owned) =>
      children()
        .filter((pid) => !notOurs(owned)(pid))
        .map((pid) => procInfo(pid))
        .filter((p) => p !== undefined && p.state !== "Z")
        .map((p) => ({ pid: p!.pid, pgid: p!.pgid, comm: p!.comm, worker: workerOf(p!.pid) })),
    line: (stream, id, gen, line, cut, cfg, program) => workerLine(stream, id, gen, line, cut, cfg["log-prefix"], several ? program : undefined),
    fault: testFault(),
    probeHealth,
    memory: (pgids) => groupMemory(pgids, false),
  };
  const several = programs.length > 1 || programs[0]?.name !== "";
  const startOnly = new StartOnly(config, log);
  const loop = new Loop(world, loaded);
  // Binds --listen (or takes systemd's sockets); ConfigError → exit 2.
  for (const p of loop.programs.values()) sockets.acquire(1, p.config, false, p.name);
  // --stats and --logto: opened now, so a bad address or file is exit 2 with nothing started.
  let stats: { close(): void } | undefined;
  let logfile: LogFile | undefined;
  try {
    if (config.logto) logfile = LogFile.open(resolve(startDir, config.logto), config["log-maxsize"]);
    if (config.stats) stats = startStats(config.stats, { queue: loop.queue, version: VERSION, dropped: droppedLines, startTime: (Date.now() - performance.now()) / 1000 });
  } catch (e) {
    logfile?.end();
    sockets.closeAll();
    throw e;
  }

  // Handlers only enqueue. Installing them also undoes an inherited SIG_IGN
  // for INT/QUIT (a master started in the background by a script).
  let childQueued = false;
  const handlers: [string, () => void][] = MASTER_SIGNALS.map((sig) => [sig, () => loop.queue.push({ type: "signal", sig })]);
  handlers.push(["SIGCHLD", () => {
    if (childQueued) return;
    childQueued = true;
    queueMicrotask(() => {
      childQueued = false;
      loop.queue.push({ type: "child" });
    });
  }]);
  for (const [sig, h] of handlers) process.on(sig as NodeJS.Signals, h);

  // A throw in a callback is a bug like one in the loop: the loop stops the workers and exits 70.
  setFaultSink((error) => loop.queue.push({ type: "fault", error }));
  let clean = false;
  try {
    control = openControl(masterPid, pidfile, loop.queue, VERSION);
    // From here on no write to stdout or stderr may block the master.
    useOutputs(logfile);
    log.info(`kill mode: ${killMode}${"why" in cg ? ` (no cgroup of its own: ${cg.why})` : ""}`, { event: "master.killmode" });
    guard = startGuard({ masterPid, runtimeDir: control.dir, cgroups: cgroups?.place, json: config["log-format"] === "json", bunArgv: [...shim.slice(0, -1), "__guard"], log: (level, msg, event) => log[level](msg, { event }) });
    const notifying = programs.filter((p) => talksNotify(p.config)).map((p) => p.config);
    if (notifying.length > 0) notify = NotifyChannel.open(notifyName(notifying.find((c) => c.uid || c.gid) ?? notifying[0]!, control.dir), loop.queue, log);
    if (loaded.uwsgi) logUwsgi(loaded.uwsgi);
    for (const n of loaded.notes ?? []) log.warn(`supervisord: ${n}`, { event: "config.note" });
    triggers = new ProgramTriggers(loop.queue, startDir, log);
    for (const p of loop.programs.values()) triggers.update(p.name, p.config);
    triggers.logReopen(config["touch-logreopen"], config["check-interval"]);
    const code = await loop.run();
    clean = true;
    return code;
  } finally {
    setFaultSink(undefined);
    triggers?.stop();
    for (const [sig, h] of handlers) process.off(sig as NodeJS.Signals, h);
    notify?.close();
    // "bye" tells the guard all is well: only after the loop ended with every
    // worker gone. A loop that threw leaves the pipe to close with the
    // process, and the guard kills what is left (and removes the cgroups).
    if (clean) guard?.close();
    // Without a guard (a start that failed early), nobody else will.
    if (clean || !guard) cgroups?.close(masterPid);
    control?.close();
    stats?.close();
    sockets.closeAll();
    endOutputs();
  }
}

/**
 * Workers of another user (uid/gid) cannot reach a socket in the master's
 * private runtime dir (mode 0700): they get an abstract one (unix(7)), which
 * has no file to guard. The kernel still tells the master each sender's pid
 * (SO_PASSCRED), so only its workers count; the random name cannot be bound
 * first by someone else.
 */
function notifyName(cfg: Config, dir: string): string {
  return cfg.uid || cfg.gid ? `@sup-${process.pid}-notify-${randomBytes(8).toString("hex")}` : join(dir, "notify.sock");
}

/** What sup made of a [uwsgi] section: a summary, the app command, and each line it leaves out (sup check --ini FILE lists them all). */
function logUwsgi(u: NonNullable<Loaded["uwsgi"]>): void {
  const keys = u.translation.keys;
  const n = (v: string) => keys.filter((k) => k.verdict === v).length;
  log.info(`uwsgi: ${u.name} read as uWSGI reads it: ${keys.length} key lines, ${n("mapped")} mapped, ${n("decide")} to decide, ${n("unsupported")} not yet in sup, ${n("no-op")} no-ops; sup check --ini ${u.name} lists them`, { event: "uwsgi.read", file: u.name });
  if (u.command) log.info(`uwsgi: runs ${u.command}`, { event: "uwsgi.command" });
  // The app's own lines are said by the command line above.
  for (const k of keys.filter((k) => (k.verdict === "decide" && !(k.app && u.command)) || k.verdict === "unsupported")) {
    log.warn(`uwsgi: ${k.file}:${k.line}: ${k.key}: ${k.verdict === "decide" ? `yours to decide: ${k.message}` : `ignored, ${k.message}`}`, { event: "uwsgi.key", key: k.key, verdict: k.verdict });
  }
}

export { ConfigError, type Config };

/**
 * SUP_TEST_FAULT=loop|callback makes the loop throw (on USR1), to test that a
 * bug in sup stops the workers and exits 70. A release build (SUP_VERSION
 * defined) ignores it: only the tests' source runs honour it.
 */
function testFault(): World["fault"] {
  if (typeof SUP_VERSION === "string") return undefined;
  const f = process.env.SUP_TEST_FAULT;
  return f === "loop" || f === "callback" ? f : undefined;
}

/** A worker that says READY=1 or feeds a watchdog gets the notify socket and pipe. */
const talksNotify = (cfg: Config) => cfg.ready === "notify" || cfg.watchdog > 0;

/**
 * A worker's own socket (127.0.0.1, a port the kernel picks), passed after
 * the shared ones and named "sup-worker" in LISTEN_FDNAMES: gunicorn serves
 * every socket it is handed, so a probe of this port reaches this worker.
 */
function ownSocket(cfg: Config): { sock: ListenSocket; port: number } {
  const [sock] = bindListen(["127.0.0.1:0"], { backlog: cfg["listen-backlog"], mode: "", option: "health" });
  return { sock: { ...sock!, name: "sup-worker" }, port: boundPort(sock!.fd) };
}
