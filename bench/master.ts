// The master's own figures (issue 2): its memory with 4 idle workers, and how
// long a HUP reload of 4 workers takes.
//
//   bun bench/master.ts [--bin dist/sup] [--runs 5] [--idle 3] [--reloads 5] [--only memory|reload]
//
// Memory: `sup -p 4 --ready delay:0.2 -- sleep 1000` in an empty directory
// (no config file), then the same settings from a sup.ini and a sup.toml
// (TOML loads c12); VmRSS, VmHWM, RssAnon, RssFile from /proc/PID/status
// after --idle seconds (a list: --idle 3,60 samples the same masters twice).
// Target: VmRSS under 40 MB. The guard (`sup __guard`, the master's child
// that kills the workers' trees if the master is SIGKILLed) is sampled too,
// with Pss from smaps_rollup: the pages of the executable it shares with
// the master count half to each.
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
// --pidfile F -- python3 examples/hello.py`, with the default --reload-grace
// (3 s) and with --reload-grace 0; each round sends SIGHUP and times (a) the
// log line of the last new worker's `ready`, (b) `reload gen N done` (the new
// generation ready and through its grace; the old one is told to stop) and
// (c) the moment every old worker pid is gone (reaped: kill(pid, 0) fails).
//
// Build the binary first (`bun build.ts`). Every master is stopped with TERM
// (SIGKILL to it and its workers' groups if it lingers), even on failure.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Master, ROOT, alive, dropCache, freePort, machine, median, procStatus, shown as shownWith, spread } from "./lib.ts";

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
const shown = (argv: string[]) => shownWith(argv, { [PYTHON]: "python3" });

// ---------- memory ----------

const WORKERS = ["-p", "4", "--ready", "delay:0.2", "--", "sleep", "1000"];
const CASES: { name: string; file?: [string, string] }[] = [
  { name: "no config file" },
  { name: "sup.ini", file: ["sup.ini", "[sup]\nprocesses = 4\nready = delay:0.2\ncommand = sleep 1000\n"] },
  { name: "sup.toml (c12)", file: ["sup.toml", 'processes = 4\nready = "delay:0.2"\ncommand = ["sleep", "1000"]\n'] },
];

/** One sample: the master's and its guard's memory (guard keys prefixed "g."). */
function sample(m: Master): Record<string, number> {
  const out = procStatus(m.pid);
  const g = m.guardPid();
  if (g !== undefined) for (const [k, v] of Object.entries(procStatus(g))) out[`g.${k}`] = v;
  return out;
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
              samples.get(s)!.push(sample(m));
            }
            if (m.pidsOfGen(1).length !== 4) throw new Error(`expected 4 workers:\n${m.log}`);
          } finally {
            await m.stop();
            rmSync(dir, { recursive: true, force: true });
          }
        }
        for (const [s, xs] of samples) {
          const col = (k: string) => (xs.every((x) => x[k] !== undefined) ? median(xs.map((x) => x[k]!)).toFixed(1) : "–").padStart(7);
          const range = `${Math.min(...xs.map((x) => x.VmRSS!)).toFixed(1)}–${Math.max(...xs.map((x) => x.VmRSS!)).toFixed(1)}`;
          const master = ["VmRSS", "VmHWM", "RssAnon", "RssFile", "Pss"].map(col).join(" ");
          const guard = ["g.VmRSS", "g.RssAnon", "g.RssFile", "g.Pss"].map(col).join(" ");
          rows.push(`${c.name.padEnd(16)} ${state.padEnd(8)} ${`${s} s`.padStart(5)} ${master}  | ${guard}   ${range}`);
        }
      }
    }
  } finally {
    rmSync(binDir, { recursive: true, force: true });
  }
  console.log(`\nmemory (MB), median of ${RUNS} runs; 4 idle workers: ${shown([BIN, ...WORKERS])}`);
  console.log(`                                 master                                  | guard (sup __guard)`);
  console.log(`config           binary    idle   VmRSS   VmHWM RssAnon RssFile     Pss  |   VmRSS RssAnon RssFile     Pss   master VmRSS min–max`);
  for (const r of rows) console.log(r);
  console.log(`(--config sup.ini: [sup] processes = 4, ready = delay:0.2, command = sleep 1000; --config sup.toml: the same keys)`);
  console.log(`(Pss from /proc/PID/smaps_rollup: shared pages split between the processes that map them, so master + guard Pss is what the two cost together)`);
}

// ---------- reload ----------

async function reloads(ready: string, grace?: string) {
  const dir = mkdtempSync(join(tmpdir(), "sup-bench-"));
  const port = await freePort();
  const args = ["-p", "4", "--listen", `127.0.0.1:${port}`, "--ready", ready, ...(grace === undefined ? [] : ["--reload-grace", grace]), "--pidfile", join(dir, "sup.pid"), "--", PYTHON, HELLO];
  const m = new Master(BIN, args, dir);
  const newReady: number[] = [];
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
      const from = m.lines.length;
      const t0 = performance.now();
      process.kill(m.pid, "SIGHUP");
      const { m: line } = await m.waitLine(new RegExp(`reload gen ${gen} done in ([\\d.]+)s`), from, 30_000);
      done.push(performance.now() - t0);
      own.push(Number(line[1]) * 1000);
      const readyAt = m.lines.slice(from).filter((l) => new RegExp(` gen ${gen} ready`).test(l.text)).map((l) => l.at);
      if (readyAt.length !== 4) throw new Error(`expected 4 ready lines of gen ${gen} before done:\n${m.log}`);
      newReady.push(Math.max(...readyAt) - t0);
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
  return { ready, grace: grace ?? "3 (default)", args, newReady, done, gone, own, mem };
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
  const results = [];
  for (const ready of ["notify", "delay:0.2"]) for (const grace of [undefined, "0"]) results.push(await reloads(ready, grace));
  const f = (xs: number[]) => spread(xs, 0).padEnd(18);
  console.log(`\nHUP reload of 4 workers (ms from kill -HUP), median (min–max) of ${RELOADS} reloads`);
  console.log(`ready      grace        all 4 new ready    "reload gen N done" old pids gone      master's own "done in"  master VmRSS/VmHWM after`);
  for (const r of results) console.log(`${r.ready.padEnd(10)} ${r.grace.padEnd(12)} ${f(r.newReady)} ${f(r.done)} ${f(r.gone)} ${f(r.own)}      ${r.mem.VmRSS?.toFixed(1)} / ${r.mem.VmHWM?.toFixed(1)} MB`);
  for (const r of results) console.log(`command: ${shown([BIN, ...r.args])}`);
}

console.log(`${machine()}; ${shown([BIN])}`);
if (opt.only !== "reload") await memory();
if (opt.only !== "memory") await reload();
console.log(`\nat the end: ${machine()}`);
