// `sup [options] -- COMMAND`: check everything that can be checked before a
// worker starts (exit 2 and nothing started), then set up the pidfile,
// sockets, signals, control socket and triggers around the arbiter loop.
import { resolve } from "node:path";
import { UsageError, type Cli } from "../cli.ts";
import { ConfigError } from "../config/coerce.ts";
import { loadConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { openControl, refuseRunningMaster, type Control } from "../control/open.ts";
import { log, setLogFormat, workerLine } from "../log.ts";
import { closeListen, listenFdNames } from "../net/listen.ts";
import { workerEnv } from "../worker/env.ts";
import { checkConfig } from "../config/check.ts";
import { shimArgv } from "../worker/shim.ts";
import { spawnProcess } from "../worker/spawn.ts";
import { Arbiter } from "./arbiter.ts";
import { eventForSignal, MASTER_SIGNALS } from "./signals.ts";
import { Sockets } from "./sockets.ts";
import { notifySystemd } from "./systemd.ts";
import { Triggers } from "./triggers.ts";

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
  sockets.update(config); // binds --listen (or takes systemd's sockets); ConfigError → exit 2
  const shim = shimArgv();
  let triggers: Triggers | undefined;

  const arb: Arbiter = new Arbiter(config, {
    spawn: spawnProcess,
    now: () => performance.now(),
    log,
    masterPid,
    loadConfig: load,
    prepare(cfg, id, generation) {
      const cwd = resolve(startDir, cfg.chdir || ".");
      const argv = [...shim, String(masterPid), "--", ...checkConfig(cfg, startDir)];
      const listen = sockets.for(cfg);
      const notify = cfg.ready === "notify" ? sockets.openNotify(control!.dir, id, generation) : undefined;
      const env = workerEnv(process.env, cfg, { id, generation, masterPid, listenFds: listen.length, listenFdNames: listenFdNames(listen), notifySocket: notify?.path });
      return { argv, env, cwd, fds: listen.map((s) => s.fd), notify };
    },
    async applyConfig(next) {
      checkConfig(next, startDir);
      sockets.update(next);
      setLogFormat(next["log-format"]);
      triggers?.update(next);
    },
    onLifecycle: (what, detail) => notifySystemd(what, detail),
    hasFileTriggers: (cfg) => Triggers.enabled(cfg),
  });
  arb.onWorkerLine = (stream, id, gen, line) => workerLine(stream, id, gen, line, arb.config["log-prefix"]);

  // Handlers only enqueue. Installing them also undoes an inherited SIG_IGN
  // for INT/QUIT (a master started in the background by a script).
  const handlers = MASTER_SIGNALS.map((sig) => {
    const h = () => arb.queue.push(eventForSignal(sig, !!arb.stopping));
    process.on(sig, h);
    return [sig, h] as const;
  });

  try {
    control = openControl(masterPid, pidfile, arb.queue, VERSION);
    triggers = new Triggers(arb.queue, startDir, log);
    triggers.update(config);
    return await arb.run();
  } finally {
    triggers?.stop();
    for (const [sig, h] of handlers) process.off(sig, h);
    control?.close();
    closeListen(sockets.all());
  }
}

export { ConfigError };
