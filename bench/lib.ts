// What the benches share: a master run from the bench with its log collected
// (each line with the time it arrived), /proc readings (memory, CPU ticks,
// context switches), a pipe whose ends go to two processes, statistics.
// Every process a bench starts through Master is stopped by pid, its
// workers' groups and the guard too, even when the bench fails.
import { dlopen, ptr } from "bun:ffi";
import { closeSync, fdatasyncSync, openSync, readFileSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, loadavg } from "node:os";
import { resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "..");
export const CLK_TCK = 100; // getconf CLK_TCK on Linux
/** Debian's python, which the fixtures need (a pyenv shim on PATH adds 0.2-1 s to every start). */
export const SYSTEM_PYTHON = "/usr/bin/python3";

/** --NAME N from the bench's command line, or the default. */
export const numberArg = (name: string, d: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};

/** "2 cores, load 1.20 0.90 0.70": printed at the start and end of each run. */
export const machine = () => `${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(2)).join(" ")}`;

/** A command line as printed: paths relative to the checkout, temp paths by their last part, no port. */
export function shown(argv: string[], names: Record<string, string> = {}): string {
  return argv
    .map((a) => names[a] ?? (a.startsWith(`${ROOT}/`) ? a.slice(ROOT.length + 1) : a))
    .join(" ")
    .replace(/127\.0\.0\.1:\d+/, "127.0.0.1:PORT")
    .replace(/--pidfile \S+/, "--pidfile F");
}

/** The environment without SUP_* variables: they would be config layers. */
export const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("SUP_"))) as Record<string, string>;

export const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
};

const MEMORY_KEYS = /^(VmRSS|VmHWM|RssAnon|RssFile|Pss|Pss_Anon|Pss_File):\s+(\d+) kB/gm;

/** VmRSS, VmHWM, RssAnon, RssFile (/proc/PID/status) and Pss, Pss_Anon, Pss_File (smaps_rollup), MB. */
export function procStatus(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  const text = readFileSync(`/proc/${pid}/status`, "utf8") + readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  for (const m of text.matchAll(MEMORY_KEYS)) out[m[1]!] = Number(m[2]) / 1024;
  return out;
}

/** utime + stime of every thread of pid, in clock ticks (/proc/PID/stat fields 14, 15). */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

/** The JS (main) thread of pid: ms on a CPU and ms waiting on a run queue, runnable but not running (/proc/PID/task/PID/schedstat). */
export function schedstat(pid: number): { cpu: number; wait: number } {
  const [cpu = 0, wait = 0] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").split(" ").map(Number);
  return { cpu: cpu / 1e6, wait: wait / 1e6 };
}

/** CPU time every process of the machine used, all cores, in clock ticks (/proc/stat: all but idle and iowait). */
export function machineTicks(): number {
  const f = readFileSync("/proc/stat", "utf8").slice(0, 200).split("\n")[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  return f.reduce((a, b) => a + b, 0) - f[3]! - f[4]!;
}

const taskIds = (pid: number) => readdirSync(`/proc/${pid}/task`);

/** Each thread of pid, by tid: its name ("main" for the JS thread), voluntary context switches (each one a sleep that ended), utime and stime in clock ticks. */
export function threads(pid: number): Map<string, ThreadStat> {
  const out = new Map<string, ThreadStat>();
  for (const tid of taskIds(pid)) {
    try {
      const dir = `/proc/${pid}/task/${tid}`;
      const name = tid === String(pid) ? "main" : readFileSync(`${dir}/comm`, "utf8").trim();
      const wake = Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`${dir}/status`, "utf8"))?.[1] ?? 0);
      const stat = readFileSync(`${dir}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(tid, { name, wake, utime: Number(f[11]), stime: Number(f[12]) });
    } catch {
      // the thread ended
    }
  }
  return out;
}

export interface ThreadStat {
  name: string;
  wake: number;
  utime: number;
  stime: number;
}

/** What each thread name did between two readings (threads of one name summed; a thread that ended in between is not counted). */
export function threadsBetween(before: Map<string, ThreadStat>, after: Map<string, ThreadStat>): Map<string, Omit<ThreadStat, "name">> {
  const out = new Map<string, Omit<ThreadStat, "name">>();
  for (const [tid, t] of after) {
    const b = before.get(tid);
    const o = out.get(t.name) ?? { wake: 0, utime: 0, stime: 0 };
    out.set(t.name, { wake: o.wake + t.wake - (b?.wake ?? 0), utime: o.utime + t.utime - (b?.utime ?? 0), stime: o.stime + t.stime - (b?.stime ?? 0) });
  }
  return out;
}

/** The direct children of pid (/proc/PID/task/*\/children). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const tid of taskIds(pid)) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").split(" ")) if (c) out.push(Number(c));
    } catch {
      // the thread ended
    }
  }
  return out;
}

export const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
};

export async function freePort(): Promise<number> {
  return await new Promise((res) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** The q-quantile of xs, nearest rank (p99 of 100 samples is the 99th). */
export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/** "median (min–max)" of xs with `digits` decimals. */
export const spread = (xs: number[], digits = 1) =>
  xs.length ? `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})` : "–";

// ---------- libc: the page cache, pipes ----------

const POSIX_FADV_DONTNEED = 4; // <fcntl.h> on Linux
const O_CLOEXEC = 0o2000000;
const libc = dlopen("libc.so.6", {
  posix_fadvise: { args: ["i32", "i64", "i64", "i32"], returns: "i32" },
  pipe2: { args: ["ptr", "i32"], returns: "i32" },
}).symbols;

/** Drops the file's pages from the page cache (written back first: dirty pages would stay). */
export function dropCache(path: string) {
  const fd = openSync(path, "r");
  try {
    fdatasyncSync(fd);
    const err = libc.posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (err !== 0) throw new Error(`posix_fadvise(${path}): error ${err}`);
  } finally {
    closeSync(fd);
  }
}

/** A pipe, close-on-exec in this process (Bun.spawn dups an fd it is given): [read end, write end]. */
export function pipe(): [number, number] {
  const fds = new Int32Array(new ArrayBuffer(8));
  if (libc.pipe2(ptr(fds), O_CLOEXEC) !== 0) throw new Error("pipe2 failed");
  return [fds[0]!, fds[1]!];
}

// ---------- a master under test ----------

export interface MasterOptions {
  /** Where the master's stdout goes: an fd (a pipe end), or nowhere (default). */
  stdout?: number | "ignore";
  env?: Record<string, string>;
}

/** A line of the master's stderr and when it arrived here (performance.now() ms). */
export interface LogLine {
  at: number;
  text: string;
}

/** A running master whose stderr (the log) is collected, line by line with arrival times. */
export class Master {
  log = "";
  readonly lines: LogLine[] = [];
  readonly proc: ReturnType<typeof Bun.spawn>;
  private workerPids = new Set<number>();
  private guard?: number;
  private readonly drained: Promise<void>;

  constructor(bin: string, args: string[], cwd: string, opts: MasterOptions = {}) {
    const proc = (this.proc = Bun.spawn([bin, ...args], { cwd, env: { ...cleanEnv(), ...opts.env }, stdio: ["ignore", opts.stdout ?? "ignore", "pipe"] }));
    this.drained = (async () => {
      const d = new TextDecoder();
      let rest = "";
      for await (const c of proc.stderr as ReadableStream<Uint8Array>) {
        const at = performance.now();
        const text = d.decode(c, { stream: true });
        this.log += text;
        const parts = (rest + text).split("\n");
        rest = parts.pop()!;
        for (const p of parts) this.lines.push({ at, text: p });
      }
    })();
  }

  get pid() {
    return this.proc.pid;
  }

  async waitFor(re: RegExp, ms: number): Promise<RegExpMatchArray> {
    return (await this.waitLine(re, 0, ms)).m;
  }

  /** The first line from index `from` on that matches re, when it came and its index. */
  async waitLine(re: RegExp, from: number, ms: number): Promise<{ m: RegExpMatchArray; line: LogLine; index: number }> {
    const deadline = performance.now() + ms;
    for (let i = from; ; ) {
      for (; i < this.lines.length; i++) {
        const m = this.lines[i]!.text.match(re);
        if (m) return { m, line: this.lines[i]!, index: i };
      }
      if (this.proc.exitCode !== null) {
        await Promise.race([this.drained, Bun.sleep(1000)]);
        throw new Error(`master exited ${this.proc.exitCode} before ${re}:\n${this.log.slice(-4000)}`);
      }
      if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${re}:\n${this.log.slice(-4000)}`);
      await Bun.sleep(1);
    }
  }

  /** Worker pids from the log lines `worker N pid P gen G ...` (all generations seen). */
  pidsOfGen(gen: number): number[] {
    const pids = new Set<number>();
    for (const m of this.log.matchAll(/worker \d+ pid (\d+) gen (\d+)/g)) {
      this.workerPids.add(Number(m[1]));
      if (Number(m[2]) === gen) pids.add(Number(m[1]));
    }
    return [...pids];
  }

  /** The guard process (`sup __guard PID`), a child of the master; remembered so that stop() can end it too. */
  guardPid(): number | undefined {
    this.guard ??= childrenOf(this.pid).find((c) => cmdline(c).includes("__guard"));
    return this.guard;
  }

  async stop(): Promise<void> {
    this.pidsOfGen(0);
    this.guardPid();
    if (this.proc.exitCode === null) {
      process.kill(this.pid, "SIGTERM");
      const t = setTimeout(() => this.kill(), 15_000);
      await this.proc.exited;
      clearTimeout(t);
    }
    // The guard ends when the master says bye; give it a moment, then make sure.
    for (let i = 0; i < 100 && this.guard && alive(this.guard); i++) await Bun.sleep(20);
    this.kill(); // workers are group leaders: nothing of theirs may outlive the bench
  }

  private kill() {
    if (this.proc.exitCode === null) process.kill(this.pid, "SIGKILL");
    for (const p of this.workerPids) {
      try {
        process.kill(-p, "SIGKILL");
      } catch {}
    }
    if (this.guard && alive(this.guard) && cmdline(this.guard).includes("__guard")) process.kill(this.guard, "SIGKILL");
  }
}
