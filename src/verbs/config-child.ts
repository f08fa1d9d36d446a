// A reload's config load and preflight, off the master's loop: the master
// runs `sup __load-config MASTERPID STARTDIR ARGV...` (its own binary, its
// own argv, environment and start dir) and reads the result as JSON from
// the child's stdout. Reading and parsing happen in the child, so no file,
// however big, deep or strange, stalls the loop; a child that takes longer
// than LOAD_TIMEOUT_MS is killed and the reload fails ("config load timed
// out"), the old config keeps running. Start-up loads in-process (nothing
// runs yet) through the same reader (src/config/read.ts).
import { ConfigError } from "../config/coerce.ts";
import type { Loaded, Source } from "../config/load.ts";
import { rememberChecked, type Checked } from "./preflight.ts";

/** Loading a 4 MiB config takes 0.06-1.7 s on a loaded 2-core machine (BENCHMARKS.md). */
export const LOAD_TIMEOUT_MS = 5000;
/** The JSON of a loaded 4 MiB config is about that size; far more is a bug. */
const MAX_OUTPUT = 64 * 1024 * 1024;

/** What the child prints: the loaded config with each program's preflight result, or the error that refused it. */
type Answer =
  | ({ ok: true; checked: Checked[]; programSources: [string, Record<string, Source>][] } & Omit<Loaded, "programSources">)
  | { ok: false; error: string };

/** In the child: `sup __load-config MASTERPID STARTDIR ARGV...`. */
export async function runConfigChild(args: string[]): Promise<number> {
  const [master, startDir, ...argv] = args;
  if (!/^\d+$/.test(master ?? "") || !startDir) {
    console.error("sup: __load-config is internal: sup __load-config MASTERPID STARTDIR ARGV...");
    return 2;
  }
  // Dies with the master (prctl(2) PR_SET_PDEATHSIG), unless it died already.
  const { libc } = await import("../native/libc.ts");
  libc.prctl(1, 9, 0, 0, 0);
  if (process.ppid !== Number(master)) return 1;
  let answer: Answer;
  try {
    const { parseCli } = await import("./cli.ts");
    const { loadConfig } = await import("../config/load.ts");
    const { checkProgram } = await import("./preflight.ts");
    const loaded = await loadConfig(parseCli(argv), process.env, startDir);
    // What run.ts checks at start, for every program (exit 2 there; the reload fails here).
    const checked = loaded.programs.map((p) => checkProgram(p.config, p.name, startDir, p.where));
    answer = { ok: true, ...loaded, programSources: [...loaded.programSources], checked };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e; // main.ts: "internal error" on stderr, exit 1
    answer = { ok: false, error: e.message };
  }
  await Bun.write(Bun.stdout, JSON.stringify(answer));
  return answer.ok ? 0 : 2;
}

export interface ChildLoad {
  /** The command that loads: [sup, "__load-config", MASTERPID, STARTDIR, ...argv]. */
  argv: string[];
  timeoutMs?: number;
  /** Called with the child's pid when it starts (alive) and once Bun has reaped it (not alive). */
  running?(pid: number, alive: boolean): void;
}

/** In the master: runs the child and resolves with what it loaded; rejects with the reason the reload fails. */
export async function loadInChild(opts: ChildLoad): Promise<Loaded> {
  const timeoutMs = opts.timeoutMs ?? LOAD_TIMEOUT_MS;
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn(opts.argv, { cwd: "/", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    throw new ConfigError(`cannot start the config loader ${opts.argv[0]}: ${(e as Error).message}`);
  }
  opts.running?.(proc.pid, true);
  let why = "";
  const timer = setTimeout(() => {
    why = `config load timed out after ${timeoutMs / 1000} s (loader pid ${proc.pid} killed)`;
    proc.kill("SIGKILL");
  }, timeoutMs);
  try {
    const [out, err, code] = await Promise.all([
      drain(proc.stdout as ReadableStream<Uint8Array>, MAX_OUTPUT, () => {
        why ||= `the config loader wrote more than ${MAX_OUTPUT >> 20} MiB (pid ${proc.pid} killed)`;
        proc.kill("SIGKILL");
      }),
      drain(proc.stderr as ReadableStream<Uint8Array>, 64 * 1024),
      proc.exited,
    ]);
    if (why) throw new ConfigError(why);
    let answer: Answer | undefined;
    try {
      answer = JSON.parse(out) as Answer;
    } catch {}
    if (answer?.ok) {
      const { checked, programSources, ok: _, ...loaded } = answer;
      // The master's own checkConfig of these configs (accept, prepare) finds the child's result.
      loaded.programs.forEach((p, i) => rememberChecked(p.config, checked[i]!));
      return { ...loaded, programSources: new Map(programSources) };
    }
    if (answer) throw new ConfigError(answer.error);
    const said = err.trim().split("\n")[0]?.replace(/^sup: /, "") || "no answer";
    throw new ConfigError(`the config loader (pid ${proc.pid}) exited ${proc.signalCode ?? `code ${code}`}: ${said}`);
  } finally {
    clearTimeout(timer);
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    await proc.exited;
    opts.running?.(proc.pid, false);
  }
}

/** A child's output as text, at most `max` bytes (then onOverflow, and the rest is dropped). */
async function drain(stream: ReadableStream<Uint8Array>, max: number, onOverflow?: () => void): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    if (size + chunk.length > max) {
      onOverflow?.();
      continue;
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(chunks).toString("utf8");
}
