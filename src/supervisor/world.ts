// The World: every piece of I/O the supervisor does, injected, so a unit
// test builds a whole master from fakes (a spawn that makes no process, a
// clock it moves by hand) and verbs/run.ts gives the real ones. The Loop and
// its Programs reach processes, sockets, files, systemd and the guard only
// through this.
import type { Config, Setup } from "../config/schema.ts";
import type { HealthSpec, ProbeTarget } from "../net/health.ts";
import type { Fields } from "../output/log.ts";
import type { ReadySpec } from "../net/probe.ts";
import type { SpawnFn } from "../processes/spawn.ts";
import type { NotifyFn } from "./lifecycle.ts";

export interface Logger {
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
}

/** What one worker needs to start (from run.ts: shim, command, env, sockets). */
export interface Prepared {
  argv: string[];
  env: Record<string, string>;
  fds: number[];
  cwd: string;
  notifyPipe: boolean;
  output: "pipe" | "inherit";
  /** stdin-open: the worker's stdin is a pipe the master holds open, not /dev/null. */
  stdinOpen?: boolean;
  /** cgroup mode: the worker's own cgroup, which its shim joins (made by prepare). */
  cgroup?: string;
  /** The uid the worker runs as, when the config names one (uid): its sd_notify datagrams come from that uid. */
  uid?: number;
  /** The worker's own socket (the last of `fds`), for probes that must reach it (http:/PATH): its port. */
  privatePort?: number;
  /** Fds the master made for this worker alone: closed in the master once the worker has them. */
  closeAfterSpawn?: number[];
}

export interface Orphan {
  pid: number;
  pgid: number;
  comm: string;
  /** SUP_WORKER_ID / SUP_GENERATION from its environment, when readable. */
  worker?: { id: number; generation: number; program?: string };
}

export interface World {
  spawn: SpawnFn;
  now(): number; // ms, monotonic
  log: Logger;
  masterPid: number;
  /** Re-reads every config layer (off the loop): the programs, or one Config; rejects (ConfigError) to keep the old one. */
  loadConfig(): Promise<Config | Setup>;
  /**
   * Takes a loaded config into use for a program's new generation (checks,
   * binds its sockets: its own, or with `share` the current ones); throws to refuse it.
   */
  accept?(next: Config, generation: number, program?: string, share?: boolean): void;
  /** New connections go to this generation's sockets: now, or once they are accepted from (net/sockets.ts). */
  steer?(generation: number, now: boolean, program?: string): void;
  /** False while an older generation's workers share this one's sockets (so they may be handed new connections). */
  ownsSockets?(generation: number, program?: string): boolean;
  /** A program's generation nothing runs or wants any more, and whose workers exited: release what it held (sockets). */
  release?(generation: number, program?: string): void;
  prepare(cfg: Config, id: number, generation: number, port: number, program?: string): Prepared;
  lifecycle?: NotifyFn;
  /** True when file triggers are on: a crash loop then waits for a change. */
  hasFileTriggers?(cfg: Config): boolean;
  probe?(spec: ReadySpec): Promise<boolean>;
  /** The session id of a pid (getsid), to tell which worker a notify datagram came from. */
  sessionOf?(pid: number): number;
  /** Reaps exited children that are not Bun's (orphans that came back to the subreaper). */
  reapOrphans?(owned: (pid: number) => boolean): void;
  /** Live children that are not Bun's: what left a worker's tree and came back here. */
  orphans?(owned: (pid: number) => boolean): Orphan[];
  /** The guard (processes/guard.ts): what to kill if this master dies by SIGKILL (in cgroup mode it kills sup's cgroups as well). */
  guard?: { pid: number; kind?: string; watch(kind: "g" | "p", n: number): void; unwatch(kind: "g" | "p", n: number): void };
  /** cgroup mode (processes/cgroup.ts): what is left in a worker's cgroup is stopped through it. */
  cgroups?: {
    /** Signal 0: is anything left; SIGKILL: cgroup.kill; any other: to each process. False when it is empty. */
    signal(dir: string, sig: NodeJS.Signals | 0): boolean;
    /** The processes in it now. */
    members(dir: string): Orphan[];
    /** Removes it once empty (and unused: the worker exited). */
    remove(dir: string): boolean;
  };
  /** How a worker's tree is stopped, for sup status ("cgroup …", "process groups + subreaper"). */
  killMode?(): string;
  /** A line a worker wrote (stdout or stderr): pass it on (output/log.ts workerLine). */
  line?(stream: "stdout" | "stderr", id: number, generation: number, line: Uint8Array, cut: boolean, cfg: Config, program?: string): void;
  /** Lowers a reload's new worker's CPU priority while it boots (--boot-nice), and restores it at ready. */
  bootPriority?: { lower(pid: number, nice: number): void; restore(pid: number): void };
  /** Opens the --logto file again (logrotate moved it); says how it went. */
  reopenLogs?(): { ok: boolean; message: string };
  /** Test-only fault injection (SUP_TEST_FAULT, ignored by a release build): throw in the loop or in a callback. */
  fault?: "loop" | "callback";
  /** One liveness probe of one worker (net/health.ts), off the loop; its result comes back as a "health" event. */
  probeHealth?(spec: HealthSpec, target: ProbeTarget, timeoutMs: number): Promise<{ ok: boolean; detail: string }>;
  /** Resident memory of process groups by leader pid (processes/memory.ts), for --reload-on-rss. */
  memory?(pgids: number[]): Map<number, { rss: number }>;
  /** Tests push timer events themselves (with their own clock). */
  manualTicks?: boolean;
}

