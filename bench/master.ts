// The master's own figures (issue 2): its memory with 4 idle workers, and how
// long a HUP reload of 4 workers takes.
//
//   bun bench/master.ts [--bin dist/sup] [--runs 5] [--idle 3] [--reloads 5] [--only memory|reload]
//
// Memory: `sup -p 4 --ready delay:0.2 -- sleep 1000` in an empty directory
// (no config file), then the same settings from a sup.ini and a sup.toml
// (TOML loads c12); VmRSS, VmHWM, RssAnon, RssFile from /proc/PID/status
// after --idle seconds (a list: --idle 3,60 samples the same masters twice).
// Target: VmRSS under 40 MB.
//
// Most of the RSS is RssFile: pages of the 110 MB executable mapped at page
// faults, and how many a fault maps depends on how the file's pages came into
// the page cache. A binary just written (a build, a download, a cp) maps
// about 6 MB more than the same binary read back from disk. So each case runs
// on a fresh copy of --bin twice: "written" (the copy as written), and
// "re-read" (the copy's cached pages dropped with posix_fadvise(DONTNEED)
// before each run, as after a reboot or cache eviction).
//
// Reload: `sup -p 4 --listen 127.0.0.1:PORT --ready notify|delay:0.2
// --pidfile F -- python3 examples/hello.py`; each round sends SIGHUP and
// times (a) the log line `reload gen N done` and (b) the moment every old
// worker pid is gone (reaped by the master: kill(pid, 0) fails).
//
// Build the binary first (`bun build.ts`). Every master is stopped with TERM
// (SIGKILL to it and its workers' groups if it lingers), even on failure.
import { dlopen } from "bun:ffi";
import { chmodSync, closeSync, fdatasyncSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const ROOT = resolve(import.meta.dir, "..");
const { values: opt } = parseArgs({
  options: {
    bin: { type: "string", default: join(ROOT, "dist/sup") },
    runs: { type: "string", default: "5" },
    idle: { type: "string", default: "3" },
    reloads: { type: "string", default: "5" },
    only: { type: "string" },
  },
});
const BIN = resolve(opt.bin);
const RUNS = Math.max(1, Number(opt.runs));
const IDLE = opt.idle.split(",").map(Number).sort((a, b) => a - b);
const RELOADS = Math.max(1, Number(opt.reloads));
// The interpreter itself, not a version manager's shim script in front of it,
// whose own start-up would dominate the notify reload times.
const PYTHON = Bun.spawnSync(["python3", "-c", "import sys; print(sys.executable)"]).stdout.toString().trim() || "python3";
const HELLO = join(ROOT, "examples/hello.py");
/** A command line as printed: paths relative to the checkout, no temp names. */
const shown = (argv: string[]) =>
  argv.map((a) => (a === PYTHON ? "python3" : a.startsWith(`${ROOT}/`) ? a.slice(ROOT.length + 1) : a)).join(" ").replace(/127\.0\.0\.1:\d+/, "127.0.0.1:PORT").replace(/--pidfile \S+/, "--pidfile F");

/** The environment without SUP_* variables: they would be config layers. */
const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("SUP_"))) as Record<string, string>;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
};

function procStatus(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of readFileSync(`/proc/${pid}/status`, "utf8").matchAll(/^(VmRSS|VmHWM|RssAnon|RssFile):\s+(\d+) kB/gm)) out[m[1]!] = Number(m[2]) / 1024;
  return out;
}

async function freePort(): Promise<number> {
  return await new Promise((res) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** A running master whose stderr (the log) is collected. */
class Master {
  log = "";
  readonly proc: ReturnType<typeof Bun.spawn>;
  private workerPids = new Set<number>();
  private readonly drained: Promise<void>;

  constructor(bin: string, args: string[], cwd: string) {
    const proc = (this.proc = Bun.spawn([bin, ...args], { cwd, env: cleanEnv(), stdio: ["ignore", "ignore", "pipe"] }));
    this.drained = (async () => {
      const d = new TextDecoder();
      for await (const c of proc.stderr as ReadableStream<Uint8Array>) this.log += d.decode(c, { stream: true });
    })();
  }

  get pid() {
    return this.proc.pid;
  }

  async waitFor(re: RegExp, ms: number): Promise<RegExpMatchArray> {
    const deadline = performance.now() + ms;
    for (;;) {
      const m = this.log.match(re);
      if (m) return m;
      if (this.proc.exitCode !== null) {
        await Promise.race([this.drained, Bun.sleep(1000)]);
        throw new Error(`master exited ${this.proc.exitCode} before ${re}:\n${this.log}`);
      }
      if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${re}:\n${this.log}`);
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

  async stop(): Promise<void> {
    this.pidsOfGen(0);
    if (this.proc.exitCode === null) {
      process.kill(this.pid, "SIGTERM");
      const t = setTimeout(() => this.kill(), 15_000);
      await this.proc.exited;
      clearTimeout(t);
    }
    this.kill(); // workers are group leaders: nothing of theirs may outlive the bench
  }

  private kill() {
    if (this.proc.exitCode === null) process.kill(this.pid, "SIGKILL");
    for (const p of this.workerPids) {
      try {
        process.kill(-p, "SIGKILL");
      } catch {}
    }
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

// ---------- memory ----------

const WORKERS = ["-p", "4", "--ready", "delay:0.2", "--", "sleep", "1000"];
const CASES: { name: string; file?: [string, string] }[] = [
  { name: "no config file" },
  { name: "sup.ini", file: ["sup.ini", "[sup]\nprocesses = 4\nready = delay:0.2\ncommand = sleep 1000\n"] },
  { name: "sup.toml (c12)", file: ["sup.toml", 'processes = 4\nready = "delay:0.2"\ncommand = ["sleep", "1000"]\n'] },
];

const POSIX_FADV_DONTNEED = 4; // <fcntl.h> on Linux
const libc = dlopen("libc.so.6", { posix_fadvise: { args: ["i32", "i64", "i64", "i32"], returns: "i32" } }).symbols;

/** Drops the file's pages from the page cache (written back first: dirty pages would stay). */
function dropCache(path: string) {
  const fd = openSync(path, "r");
  try {
    fdatasyncSync(fd);
    const err = libc.posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (err !== 0) throw new Error(`posix_fadvise(${path}): error ${err}`);
  } finally {
    closeSync(fd);
  }
}

async function memory() {
  const rows: string[] = [];
  const binDir = mkdtempSync(join(tmpdir(), "sup-bench-bin-"));
  try {
    for (const c of CASES) {
      for (const state of ["written", "re-read"] as const) {
        const bin = join(binDir, "sup");
        rmSync(bin, { force: true });
        writeFileSync(bin, readFileSync(BIN));
        chmodSync(bin, 0o755);
        const samples = new Map<number, Record<string, number>[]>(IDLE.map((s) => [s, []]));
        for (let i = 0; i < RUNS; i++) {
          if (state === "re-read") dropCache(bin);
          const dir = mkdtempSync(join(tmpdir(), "sup-bench-"));
          if (c.file) writeFileSync(join(dir, c.file[0]), c.file[1]);
          const m = new Master(bin, c.file ? ["--config", c.file[0]] : WORKERS, dir); // a bare `sup` prints help, even beside a sup.ini
          try {
            await m.waitFor(/master started/, 10_000);
            const t0 = performance.now();
            for (const s of IDLE) {
              await Bun.sleep(Math.max(0, s * 1000 - (performance.now() - t0)));
              samples.get(s)!.push(procStatus(m.pid));
            }
            if (m.pidsOfGen(1).length !== 4) throw new Error(`expected 4 workers:\n${m.log}`);
          } finally {
            await m.stop();
            rmSync(dir, { recursive: true, force: true });
          }
        }
        for (const [s, xs] of samples) {
          const col = (k: string) => median(xs.map((x) => x[k]!)).toFixed(1).padStart(7);
          const range = `${Math.min(...xs.map((x) => x.VmRSS!)).toFixed(1)}–${Math.max(...xs.map((x) => x.VmRSS!)).toFixed(1)}`;
          rows.push(`${c.name.padEnd(16)} ${state.padEnd(8)} ${`${s} s`.padStart(5)} ${col("VmRSS")} ${col("VmHWM")} ${col("RssAnon")} ${col("RssFile")}   ${range}`);
        }
      }
    }
  } finally {
    rmSync(binDir, { recursive: true, force: true });
  }
  console.log(`\nmaster memory (MB), median of ${RUNS} runs; 4 idle workers: ${shown([BIN, ...WORKERS])}`);
  console.log(`config           binary    idle   VmRSS   VmHWM RssAnon RssFile   VmRSS min–max`);
  for (const r of rows) console.log(r);
  console.log(`(--config sup.ini: [sup] processes = 4, ready = delay:0.2, command = sleep 1000; --config sup.toml: the same keys)`);
}

// ---------- reload ----------

async function reloads(ready: string) {
  const dir = mkdtempSync(join(tmpdir(), "sup-bench-"));
  const port = await freePort();
  const args = ["-p", "4", "--listen", `127.0.0.1:${port}`, "--ready", ready, "--pidfile", join(dir, "sup.pid"), "--", PYTHON, HELLO];
  const m = new Master(BIN, args, dir);
  const done: number[] = [];
  const gone: number[] = [];
  const own: number[] = [];
  let mem: Record<string, number> = {};
  try {
    await m.waitFor(/worker 4 pid \d+ gen 1 ready/, 20_000);
    await waitAllReady(m, 1);
    for (let gen = 2; gen <= RELOADS + 1; gen++) {
      const old = m.pidsOfGen(gen - 1);
      if (old.length !== 4) throw new Error(`expected 4 workers of gen ${gen - 1}, got ${old.join(",")}:\n${m.log}`);
      const t0 = performance.now();
      process.kill(m.pid, "SIGHUP");
      const line = await m.waitFor(new RegExp(`reload gen ${gen} done in ([\\d.]+)s`), 30_000);
      done.push(performance.now() - t0);
      own.push(Number(line[1]) * 1000);
      const deadline = t0 + 60_000;
      while (old.some(alive)) {
        if (performance.now() > deadline) throw new Error(`old workers ${old.filter(alive).join(",")} still alive after 60 s:\n${m.log}`);
        await Bun.sleep(1);
      }
      gone.push(performance.now() - t0);
      await waitAllReady(m, gen);
      await Bun.sleep(300); // let the retired generation's exits settle before the next round
    }
    mem = procStatus(m.pid);
  } finally {
    await m.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return { ready, args, done, gone, own, mem };
}

/** The 4 workers of gen answer: status says ready for each. */
async function waitAllReady(m: Master, gen: number) {
  const deadline = performance.now() + 20_000;
  for (;;) {
    const ready = m.pidsOfGen(gen).filter((p) => new RegExp(`pid ${p} gen ${gen} ready`).test(m.log));
    if (ready.length === 4) return;
    if (performance.now() > deadline) throw new Error(`gen ${gen} not ready:\n${m.log}`);
    await Bun.sleep(5);
  }
}

async function reload() {
  const results = [await reloads("notify"), await reloads("delay:0.2")];
  const f = (xs: number[]) => `${median(xs).toFixed(0).padStart(5)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`.padEnd(18);
  console.log(`\nHUP reload of 4 workers (ms from kill -HUP), median (min–max) of ${RELOADS} reloads`);
  console.log(`ready        "reload gen N done"  old pids gone      master's own "done in"  master VmRSS/VmHWM after`);
  for (const r of results) console.log(`${r.ready.padEnd(12)} ${f(r.done)}   ${f(r.gone)} ${f(r.own)}      ${r.mem.VmRSS?.toFixed(1)} / ${r.mem.VmHWM?.toFixed(1)} MB`);
  for (const r of results) console.log(`command: ${shown([BIN, ...r.args])}`);
}

console.log(`${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(2)).join(" ")}; ${shown([BIN])}`);
if (opt.only !== "reload") await memory();
if (opt.only !== "memory") await reload();
