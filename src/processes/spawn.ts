// Starting a worker process. The arbiter calls a SpawnFn, so unit tests can
// swap in a fake and run the loop without processes.
import { closeSync } from "node:fs";
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

export const spawnProcess: SpawnFn = (spec) => {
  const out = spec.output === "pipe" ? "pipe" : "inherit";
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

function closeFd(fd: number) {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
