// Starting a worker process. The arbiter calls a SpawnFn, so unit tests can
// swap in a fake and run the loop without processes.
import { closeSync, readFileSync, readdirSync, statSync } from "node:fs";
import { LineSplitter, type LineFn } from "../output/lines.ts";

export interface SpawnSpec {
  argv: string[]; // full argv, shim prefix included
  cwd: string;
  env: Record<string, string>;
  fds: number[]; // become the child's fd 3, 4, …
  /** "inherit": the worker writes to the master's stdout/stderr itself (no prefix, no copy). */
  output: "pipe" | "inherit";
  /** Fds made for this worker alone (its own socket): the master's copies are closed once it has them. */
  closeAfterSpawn?: number[];
  /** stdin a pipe the master keeps open until the worker exits (stdin-open), not /dev/null. */
  stdinOpen?: boolean;
  /** Also give the worker a pipe for sd_notify lines, as the fd after `fds` (SUP_NOTIFY_FD). */
  notifyPipe: boolean;
  onExit(code: number | null, signal: string | null): void;
  onLine(stream: "stdout" | "stderr", line: Uint8Array, cut: boolean): void;
  /** One line written to the notify pipe ("READY=1", "STATUS=…"). */
  onNotify(line: string): void;
}

export type SpawnFn = (spec: SpawnSpec) => { pid: number };

/**
 * Bun hands each read of a worker's pipe over as a new buffer (up to 256
 * KiB), freed only when the collector runs. A worker that floods its pipe
 * allocates them faster than the collector's own pacing frees them: a 200
 * MB flood grew the master by 29-34 MB of anonymous memory. A full
 * collection after every 8 MiB read (by all pumps together; ~1-2 ms on the
 * master's small heap) keeps that at 16-17 MB, for about 1 % more CPU.
 */
const COLLECT_EVERY = 8 << 20;
let readSinceCollect = 0;
function countRead(bytes: number) {
  readSinceCollect += bytes;
  if (readSinceCollect < COLLECT_EVERY) return;
  readSinceCollect = 0;
  Bun.gc(true);
}

/**
 * Feeds a stream to `onLine` line by line; memory stays at one line cap.
 * After each chunk it yields to the event loop: while a worker floods its
 * pipe, every read is ready at once and would resolve in a chain of
 * microtasks that never lets a signal, the control socket or a timer in.
 */
async function pump(stream: ReadableStream<Uint8Array>, onLine: LineFn) {
  const lines = new LineSplitter(onLine);
  try {
    for await (const chunk of stream) {
      lines.push(chunk);
      countRead(chunk.length);
      await new Promise((r) => setImmediate(r));
    }
  } catch {
    // the pipe broke: the worker is gone, its exit is reported by onExit
  }
  lines.end();
}

const decoder = new TextDecoder();

/** Processes and threads of sup's user kept free under a low `ulimit -u`, for the master's own threads. */
const NPROC_ROOM = 32;

/**
 * RLIMIT_NPROC counts every process and thread of the user, and Bun aborts
 * when it cannot start a thread it needs (JSC's collector and compiler
 * threads, started lazily): a master whose workers took the last of the
 * user's room died a moment later ("panic: abort() called"), and a worker
 * was left to its guard. So a worker is not started while fewer than
 * NPROC_ROOM are left; the spawn fails (and is retried with backoff) with
 * what to do. Root is not bound by the limit; a limit far above every task
 * on the machine (/proc/loadavg) needs no count.
 */
/** The last count of the user's processes and threads. */
let counted: { uid: number; at: number; mine: number } | undefined;

/** Processes and threads of `uid`, from /proc/N/status. */
function tasksOf(uid: number): number {
  let mine = 0;
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = readFileSync(`/proc/${name}/status`, "utf8");
      if (Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) === uid) mine += Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 1);
    } catch {
      // gone meanwhile
    }
  }
  return mine;
}

function processRoomProblem(): string | undefined {
  const uid = process.getuid?.() ?? 0;
  if (uid === 0) return undefined;
  let limit: number;
  let total: number;
  try {
    const soft = /^Max processes\s+(\S+)/m.exec(readFileSync("/proc/self/limits", "utf8"))?.[1];
    if (soft === undefined || soft === "unlimited") return undefined;
    limit = Number(soft);
    total = Number(readFileSync("/proc/loadavg", "utf8").split(" ")[3]!.split("/")[1]);
  } catch {
    return undefined; // no /proc: nothing to count with
  }
  if (total + NPROC_ROOM < limit) return undefined;
  // The user's count is a pass over every /proc/N/status (tens of ms on a
  // host of thousands of tasks): done at most once a second, on the loop;
  // in between, each spawn allowed counts one more task.
  const now = performance.now();
  if (!counted || counted.uid !== uid || now - counted.at > 1000) counted = { uid, at: now, mine: tasksOf(uid) };
  const mine = counted.mine;
  if (mine + NPROC_ROOM < limit) {
    counted.mine++;
    return undefined;
  }
  return `EAGAIN: uid ${uid} runs ${mine} processes and threads of the ${limit} its process limit allows (ulimit -u); sup keeps ${NPROC_ROOM} free for its own threads (Bun aborts when it cannot start one): raise the limit (LimitNPROC=, limits.conf nproc) or run fewer workers`;
}

export const spawnProcess: SpawnFn = (spec) => {
  const out = spec.output === "pipe" ? "pipe" : "inherit";
  const room = processRoomProblem();
  if (room) {
    for (const fd of spec.closeAfterSpawn ?? []) closeFd(fd); // as after a spawn that failed
    throw new Error(room);
  }
  let proc: ReturnType<typeof Bun.spawn>;
  // stdin-open: the write end stays here, unwritten, so the worker never reads EOF while the master lives; closed at its exit.
  let stdin: { end(): unknown } | undefined;
  try {
    proc = Bun.spawn(spec.argv, {
      cwd: spec.cwd,
      env: spec.env,
      // A new session and process group: signals to -pid reach the worker's
      // children too, and a Ctrl-C in the terminal reaches only the master.
      detached: true,
      stdio: [spec.stdinOpen ? "pipe" : "ignore", out, out, ...spec.fds, ...(spec.notifyPipe ? (["pipe"] as const) : [])],
      onExit: (_p, code, signal) => {
        endStdin(stdin);
        spec.onExit(code, signal === null ? null : String(signal));
      },
    });
    if (spec.stdinOpen) stdin = proc.stdin as unknown as { end(): unknown };
  } catch (e) {
    throw spawnFailure(e, spec.argv[0]!, spec.cwd);
  } finally {
    for (const fd of spec.closeAfterSpawn ?? []) closeFd(fd); // the worker has its copy (or never will)
  }
  if (out === "pipe") {
    void pump(proc.stdout as ReadableStream<Uint8Array>, (l, cut) => spec.onLine("stdout", l, cut));
    void pump(proc.stderr as ReadableStream<Uint8Array>, (l, cut) => spec.onLine("stderr", l, cut));
  }
  if (spec.notifyPipe) {
    // Bun gives the read end of an extra "pipe" (a socketpair) as a plain fd.
    // A file stream over it ends when every writer has closed its end, but
    // does not close it (Bun 1.4.5): one descriptor leaked per worker that
    // ever ran, until EMFILE (issue 18). It is ours to close once read out.
    const fd = proc.stdio[3 + spec.fds.length] as unknown as number;
    void pump(Bun.file(fd).stream(), (l) => spec.onNotify(decoder.decode(l))).finally(() => closeFd(fd));
  }
  return { pid: proc.pid };
};

function endStdin(sink: { end(): unknown } | undefined) {
  try {
    sink?.end();
  } catch {
    // the worker is gone and the pipe with it
  }
}

/**
 * posix_spawn's ENOENT names the program it ran (sup itself, for its exec
 * shim) even when what is missing is the working directory: a directory
 * deleted after the master started (a release dir cleaned up) read as
 * "no such file: posix_spawn '/usr/local/bin/sup'". Say which is gone.
 */
function spawnFailure(e: unknown, program: string, cwd: string): Error {
  if ((e as NodeJS.ErrnoException).code !== "ENOENT") return e as Error;
  const isDir = (p: string) => {
    try {
      return statSync(p).isDirectory();
    } catch {
      return false;
    }
  };
  if (!isDir(cwd)) return new Error(`the working directory ${cwd} does not exist (removed after the master started?); create it again, or reload with --chdir set to one that exists`);
  try {
    statSync(program);
  } catch {
    return new Error(`${program} does not exist (removed or moved after the master started?); put it back, or restart the master`);
  }
  return e as Error;
}

function closeFd(fd: number) {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
