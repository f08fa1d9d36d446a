// Starting a worker process. The arbiter calls a SpawnFn, so unit tests can
// swap in a fake and run the loop without processes.

export interface SpawnSpec {
  argv: string[]; // full argv, shim prefix included
  cwd: string;
  env: Record<string, string>;
  fds: number[]; // become the child's fd 3, 4, …
  onExit(code: number | null, signal: string | null): void;
  onLine(stream: "stdout" | "stderr", line: string): void;
}

export type SpawnFn = (spec: SpawnSpec) => { pid: number };

/** Calls `onLine` once per line of a child's output stream. */
async function pumpLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void) {
  const decoder = new TextDecoder();
  let rest = "";
  try {
    for await (const chunk of stream) {
      rest += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = rest.indexOf("\n")) >= 0) {
        onLine(rest.slice(0, nl));
        rest = rest.slice(nl + 1);
      }
    }
  } catch {
    // the pipe broke: the worker is gone, its exit is reported by onExit
  }
  if (rest) onLine(rest);
}

export const spawnProcess: SpawnFn = (spec) => {
  const proc = Bun.spawn(spec.argv, {
    cwd: spec.cwd,
    env: spec.env,
    // A new session and process group: signals to -pid reach the worker's
    // children too, and a Ctrl-C in the terminal reaches only the master.
    detached: true,
    stdio: ["ignore", "pipe", "pipe", ...spec.fds],
    onExit: (_p, code, signal) => spec.onExit(code, signal === null ? null : String(signal)),
  });
  void pumpLines(proc.stdout, (l) => spec.onLine("stdout", l));
  void pumpLines(proc.stderr, (l) => spec.onLine("stderr", l));
  return { pid: proc.pid };
};
