// `sup [options] -- COMMAND`: check everything that can be checked before a
// worker starts (exit 2 and nothing started), then set up the pidfile,
// sockets, notify socket, signals, control socket and triggers around the
// arbiter loop, and take them down again when it ends.
import { join, resolve } from "node:path";
import { UsageError, type Cli } from "./cli.ts";
import { ConfigError } from "../config/coerce.ts";
import { loadConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { openControl, refuseRunningMaster, type Control } from "../control/open.ts";
import { endOutputs, log, setLogFormat, useOutputs, workerLine } from "../output/log.ts";
import { libc } from "../native/libc.ts";
import { listenFdNames } from "../net/listen.ts";
import { workerEnv } from "../processes/env.ts";
import { checkConfig } from "./preflight.ts";
import { shimArgv } from "../processes/shim.ts";
import { spawnProcess } from "../processes/spawn.ts";
import { Arbiter } from "../supervisor/arbiter.ts";
import { NotifyChannel } from "../sources/notify.ts";
import { startGuard, type GuardLink } from "../processes/guard.ts";
import { becomeSubreaper, children, procInfo, reapOrphans, workerOf } from "../processes/reaper.ts";
import { WorkerCgroups, setupCgroups } from "../processes/cgroup.ts";
import { MASTER_SIGNALS } from "../supervisor/signals.ts";
import { Sockets } from "../net/sockets.ts";
import { notifySystemd } from "../net/systemd.ts";
import { Triggers } from "../sources/triggers.ts";

declare const SUP_VERSION: string;
const VERSION = typeof SUP_VERSION === "string" ? SUP_VERSION : "dev";

export async function runMaster(cli: Cli): Promise<number> {
  // prctl(PR_SET_PDEATHSIG), /proc and the socket constants are Linux's.
  if (process.platform !== "linux") throw new UsageError(`the sup master runs on Linux only (this is ${process.platform}); sup --version and sup config work here`);
  const startDir = process.cwd();
  const load = async () => (await loadConfig(cli, process.env, startDir)).config;
  const config = await load();
  setLogFormat(config["log-format"]);
  checkConfig(config, startDir);
  const pidfile = config.pidfile ? resolve(startDir, config.pidfile) : "";
  if (pidfile) await refuseRunningMaster(pidfile);

  const masterPid = process.pid;
  // Runtime dir (where notify sockets go), control socket, pidfile: src/control/open.ts.
  let control: Control | undefined;
  const sockets = new Sockets();
  sockets.acquire(1, config); // binds --listen (or takes systemd's sockets); ConfigError → exit 2
  const shim = shimArgv();
  let triggers: Triggers | undefined;
  let notify: NotifyChannel | undefined;
  let guard: GuardLink | undefined;
  // What a worker leaves behind by setsid or a double fork comes back here.
  becomeSubreaper();
  // Each worker's tree in a cgroup of its own where sup may make them (processes/cgroup.ts).
  const cg = setupCgroups(masterPid);
  const cgroups = "place" in cg ? new WorkerCgroups(cg.place) : undefined;
  const killMode = cgroups?.describe ?? "process groups + subreaper";

  const arb: Arbiter = new Arbiter(config, {
    spawn: spawnProcess,
    now: () => performance.now(),
    log,
    masterPid,
    loadConfig: load,
    accept(next, generation) {
      checkConfig(next, startDir);
      sockets.acquire(generation, next);
      if (next.ready === "notify") notify ??= NotifyChannel.open(join(control!.dir, "notify.sock"), arb.queue, log);
      setLogFormat(next["log-format"]);
      triggers?.update(next);
    },
    release(generation) {
      for (const addr of sockets.release(generation)) log.info(`listen ${addr}: closed (no generation uses it any more)`, { event: "listen.close", addr });
    },
    prepare(cfg, id, generation, port) {
      const cwd = resolve(startDir, cfg.chdir || ".");
      const command = checkConfig(cfg, startDir);
      const listen = sockets.for(cfg);
      const wantsNotify = cfg.ready === "notify";
      const env = workerEnv(process.env, cfg, {
        id, generation, masterPid, port,
        listenFds: listen.length, listenFdNames: listenFdNames(listen),
        notifySocket: wantsNotify ? notify?.path : undefined,
        notifyFd: wantsNotify ? 3 + listen.length : undefined,
      });
      // Plain text without a prefix: the worker writes to our stdout and
      // stderr itself, as gunicorn's and unicorn's workers do (no copy).
      const output = cfg["log-format"] === "text" && !cfg["log-prefix"] ? "inherit" : "pipe";
      const cgroup = cgroups?.create(id, generation);
      const argv = [...shim, String(masterPid), ...(cgroup ? ["--cgroup", cgroup] : []), "--", ...command];
      return { argv, env, cwd, fds: listen.map((s) => s.fd), notifyPipe: wantsNotify, output, cgroup };
    },
    lifecycle: (what, detail) => notifySystemd(what, detail),
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
    reapOrphans: (owned) => {
      guard?.reap(); // the native guard is a child Bun does not wait for
      reapOrphans(owned);
    },
    orphans: (owned) =>
      children()
        .filter((pid) => !owned(pid))
        .map((pid) => procInfo(pid))
        .filter((p) => p !== undefined && p.state !== "Z")
        .map((p) => ({ pid: p!.pid, pgid: p!.pgid, comm: p!.comm, worker: workerOf(p!.pid) })),
  });
  arb.workers.onLine = (stream, id, gen, line, cut) => workerLine(stream, id, gen, line, cut, arb.configFor({ generation: gen })["log-prefix"]);

  // Handlers only enqueue. Installing them also undoes an inherited SIG_IGN
  // for INT/QUIT (a master started in the background by a script).
  let childQueued = false;
  const handlers: [string, () => void][] = MASTER_SIGNALS.map((sig) => [sig, () => arb.queue.push({ type: "signal", sig })]);
  handlers.push(["SIGCHLD", () => {
    if (childQueued) return;
    childQueued = true;
    queueMicrotask(() => {
      childQueued = false;
      arb.queue.push({ type: "child" });
    });
  }]);
  for (const [sig, h] of handlers) process.on(sig as NodeJS.Signals, h);

  try {
    control = openControl(masterPid, pidfile, arb.queue, VERSION);
    // From here on no write to stdout or stderr may block the master.
    useOutputs();
    log.info(`kill mode: ${killMode}${"why" in cg ? ` (no cgroup of its own: ${cg.why})` : ""}`, { event: "master.killmode" });
    guard = startGuard({ masterPid, runtimeDir: control.dir, cgroups: cgroups?.place, json: config["log-format"] === "json", bunArgv: [...shim.slice(0, -1), "__guard"], log: (level, msg, event) => log[level](msg, { event }) });
    if (config.ready === "notify") notify = NotifyChannel.open(join(control.dir, "notify.sock"), arb.queue, log);
    triggers = new Triggers(arb.queue, startDir, log);
    triggers.update(config);
    return await arb.run();
  } finally {
    triggers?.stop();
    for (const [sig, h] of handlers) process.off(sig as NodeJS.Signals, h);
    notify?.close();
    guard?.close();
    cgroups?.close(masterPid);
    control?.close();
    sockets.closeAll();
    endOutputs();
  }
}

export { ConfigError, type Config };
