// The guard: a small second process that outlives a master killed by
// SIGKILL and takes its workers' trees with it.
//
// The exec shim's PR_SET_PDEATHSIG kills each worker itself when the master
// dies, but not the rest of its process group (the kernel signals only the
// child), nor what it setsid'ed: those are reparented away from the dead
// master and would run forever. A dying process cannot clean up after
// itself, so the guard does. The master tells it, on a pipe, what to kill
// ("+g PGID" a worker's group, "+p PID" a process that escaped it); when the
// pipe ends without a "bye" (the master is gone, however it died), the guard
// kills all that, sup's cgroup subtree in cgroup mode, and whatever else it
// can tie to the master (native/guard.c says what and how).
//
// Two builds of it: the native guard, forked from the master and stripped to
// a few hundred kilobytes (native/guard.c), and where that cannot run, `sup
// __guard`, a second Bun process of 26-34 MB (guard-bun.ts). The log says
// which runs.
import { F_SETFL, O_CLOEXEC, O_NONBLOCK, EAGAIN, errno, libc } from "../native/libc.ts";
import { JSON_LOG, TREE, forkNativeGuard } from "../native/guard.ts";
import type { CgroupPlace } from "./cgroup-place.ts";
import { constants } from "node:os";

type Kind = "g" | "p"; // a process group, or one process

export interface GuardLink {
  readonly pid: number;
  /** "native" or "bun", for the log and sup status. */
  readonly kind: "native" | "bun";
  watch(kind: Kind, what: number): void;
  unwatch(kind: Kind, what: number): void;
  /** On SIGCHLD: a native guard that died is reaped and started again (Bun reaps its own child). */
  reap(): void;
  /** A clean exit: the guard leaves everything alone and ends. */
  close(): void;
}

export interface GuardOpts {
  masterPid: number;
  runtimeDir: string;
  /** cgroup mode: sup's subtree; absent: process groups, and the guard reads the master's tree. */
  cgroups?: CgroupPlace;
  json: boolean;
  /** The argv prefix of `sup __guard`. */
  bunArgv: string[];
  log(level: "info" | "warn", msg: string, event: string): void;
}

/**
 * A native guard that dies this soon after its start is not started again:
 * the Bun guard takes over. Long enough to see one that fails on the lines
 * replayed to it at once; short enough that one killed by a hand is not.
 */
const TOO_SOON_MS = 300;

/** Starts the guard, and starts it again (with what it watched) if it ever dies while the master runs. */
export function startGuard(o: GuardOpts): GuardLink {
  const watched = new Set<string>();
  let closed = false;
  let why = ""; // why the native guard is not the one running
  let cur: Running = startOne(o, (w) => (why = w), onBunExit);
  announce(o, cur, why, "guard.start");

  function onBunExit(pid: number, code: number | null, signal: string | null) {
    if (closed || pid !== cur.pid) return;
    restart(`the guard pid ${pid} exited ${signal ? `on ${signal}` : `code ${code}`}; starting another`);
  }
  function restart(what: string) {
    const native = cur.kind === "native" && performance.now() - cur.startedAt > TOO_SOON_MS;
    cur.end();
    cur = native ? startOne(o, (w) => (why = w), onBunExit) : startBun(o, onBunExit);
    if (!native && !why) why = "the native guard died right after it started";
    o.log("warn", what, "guard.restart");
    announce(o, cur, why, "guard.restart");
    for (const line of watched) cur.send(line);
  }
  const line = (sign: string, kind: Kind, what: number) => `${sign}${kind} ${what}`;

  return {
    get pid() {
      return cur.pid;
    },
    get kind() {
      return cur.kind;
    },
    watch(kind, what) {
      const l = line("+", kind, what);
      if (watched.has(l)) return;
      watched.add(l);
      cur.send(l);
    },
    unwatch(kind, what) {
      if (watched.delete(line("+", kind, what))) cur.send(line("-", kind, what));
    },
    reap() {
      const how = !closed && cur.kind === "native" ? cur.exited() : undefined;
      if (how) restart(`the guard pid ${cur.pid} ${how}; starting another`);
    },
    close() {
      closed = true;
      cur.send("bye");
      cur.end();
    },
  };
}

function announce(o: GuardOpts, g: Running, why: string, event: string) {
  const job = o.cgroups ? "kills the workers' cgroups if the master dies" : "reads the master's process tree and kills it if the master dies";
  if (g.kind === "native") o.log("info", `guard pid ${g.pid}: native, forked from the master (${job})`, event);
  else o.log("warn", `guard pid ${g.pid}: sup __guard, a second sup process (${job}; the native guard cannot run: ${why})`, event);
}

interface Running {
  pid: number;
  kind: "native" | "bun";
  startedAt: number;
  send(line: string): void;
  /** How it ended ("exited code 1", "was killed by SIGKILL") once it has (and is reaped). */
  exited(): string | undefined;
  end(): void;
}

function startOne(o: GuardOpts, setWhy: (w: string) => void, onExit: (pid: number, code: number | null, signal: string | null) => void): Running {
  const native = startNative(o);
  if ("pid" in native) return native;
  setWhy(native.why);
  return startBun(o, onExit);
}

function startNative(o: GuardOpts): Running | { why: string } {
  const paths = [o.runtimeDir, o.cgroups?.root ?? "", o.cgroups?.home ?? ""];
  if (paths.some((p) => Buffer.byteLength(p) >= 4000)) return { why: "a path is too long for the native guard" };
  const fds = new Int32Array(new ArrayBuffer(8));
  if (libc.pipe2(fds, O_CLOEXEC) !== 0) return { why: `pipe2 failed (errno ${errno()})` };
  const [rd, wr] = [fds[0]!, fds[1]!];
  // Ours alone: a full pipe (a stopped guard) queues lines here instead of blocking the loop.
  if (libc.fcntl(wr, F_SETFL, O_NONBLOCK) !== 0) {
    libc.close(rd);
    libc.close(wr);
    return { why: `fcntl O_NONBLOCK failed (errno ${errno()})` };
  }
  const r = forkNativeGuard({ fd: rd, masterPid: o.masterPid, flags: (o.cgroups ? 0 : TREE) | (o.json ? JSON_LOG : 0), runtimeDir: o.runtimeDir, cgroupRoot: o.cgroups?.root ?? "", cgroupHome: o.cgroups?.home ?? "" });
  libc.close(rd); // the guard has its copy; EOF reaches it when every write end is closed
  if (!("pid" in r)) {
    libc.close(wr);
    return r;
  }
  const pid = r.pid;
  let pending = "";
  let retry: ReturnType<typeof setTimeout> | undefined;
  let open = true;
  let gone: string | undefined;
  const flush = () => {
    retry = undefined;
    while (open && pending) {
      const buf = Buffer.from(pending);
      const n = Number(libc.write(wr, buf, buf.length));
      if (n > 0) {
        pending = buf.subarray(n).toString();
        continue;
      }
      // EAGAIN: the guard is behind (or stopped); anything else (EPIPE): it is gone, and reap() sees it.
      if (n < 0 && errno() === EAGAIN) retry ??= setTimeout(flush, 20);
      return;
    }
  };
  return {
    pid,
    kind: "native",
    startedAt: performance.now(),
    send(line) {
      pending += line + "\n";
      flush();
    },
    exited() {
      gone ??= reapPid(pid);
      return gone;
    },
    end() {
      flush();
      clearTimeout(retry);
      if (open) libc.close(wr);
      open = false;
    },
  };
}

const siginfo = new Int32Array(new ArrayBuffer(128));
const CLD_EXITED = 1;
/** waitid(P_PID, pid, WEXITED|WNOHANG): how it ended once it has (now reaped); undefined while it runs. */
function reapPid(pid: number): string | undefined {
  siginfo.fill(0);
  // siginfo_t for SIGCHLD: si_code at int 2, si_pid at 4, si_status at 6 (sigaction(2)).
  if (libc.waitid(1, pid, siginfo, 4 | 1) !== 0 || siginfo[4] !== pid) return undefined;
  const status = siginfo[6]!;
  if (siginfo[2] === CLD_EXITED) return `exited code ${status}`;
  return `was killed by ${Object.entries(constants.signals).find(([, n]) => n === status)?.[0] ?? `signal ${status}`}`;
}

function startBun(o: GuardOpts, onExit: (pid: number, code: number | null, signal: string | null) => void): Running {
  const extra = [...(o.cgroups ? ["--cgroup", o.cgroups.root, o.cgroups.home] : ["--tree"]), ...(o.json ? ["--json"] : [])];
  const p = Bun.spawn([...o.bunArgv, String(o.masterPid), o.runtimeDir, ...extra], {
    stdin: "pipe",
    stdout: "ignore",
    stderr: "inherit",
    // Its own session: a Ctrl-C or a signal to the master's group never reaches it.
    detached: true,
    onExit: (proc, code, signal) => onExit(proc.pid, code, signal === null ? null : String(signal)),
  });
  return {
    pid: p.pid,
    kind: "bun",
    startedAt: performance.now(),
    send(line) {
      try {
        p.stdin.write(line + "\n");
        void p.stdin.flush();
      } catch {
        // the guard is gone; its onExit starts another
      }
    },
    exited: () => (p.exitCode !== null ? `exited code ${p.exitCode}` : p.signalCode !== null ? `was killed by ${p.signalCode}` : undefined),
    end() {
      try {
        void p.stdin.end();
      } catch {
        // gone already
      }
    },
  };
}
