// Idle cost of autoreload: CPU % of one core and RSS of a process watching
// generated trees (100 files per directory) with each engine, and what one
// scan costs per file next to a C loop doing only the kernel's work.
//
//   bun bench/autoreload-idle.ts [--seconds 20] [--sizes 0,10000,100000] [--no-master] [--no-dfg]
//
// Rows: "poll" / "events" run watchTree alone in a child Bun process
// (interval 1 s); "dist/sup" runs the built master (`bun build.ts` first)
// with --py-autoreload 1 (poll) or --autoreload 1 (events) and `sleep` as
// the worker (its own CPU, not the worker's). CPU is measured over a window
// that starts 3 s after the first walk: the child Bun processes report their
// own getrusage (µs, every thread) on SIGUSR2; for dist/sup it is utime+stime
// of /proc/PID/stat (10 ms ticks: ±0.05 % over 20 s, so its window is 3x
// longer). The events engine's verification scan (every 30 s or more) is not
// in the window, and is reported on its own. "bare bun" is a Bun process
// doing nothing, for scale.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { watchTree } from "../src/watch/autoreload.ts";
import { floorProbe } from "./scan-floor.ts";

const ROOT = resolve(import.meta.dir, "..");

function child(dir: string, engine: "poll" | "events") {
  const w = watchTree({ interval: 1, watch: [], include: [], ignore: [], engine, settle: 0.3, cwd: dir }, () => console.log("EMIT"), (m) => console.log(m));
  console.log(`INDEX ${w.tree.ix.bytes} ${w.tree.fileCount}`);
  // getrusage(RUSAGE_SELF) counts every thread, those that ended too, to the µs.
  process.on("SIGUSR2", () => {
    const u = process.cpuUsage();
    console.log(`CPU ${u.user + u.system}`);
  });
  console.log("READY");
  setInterval(() => {}, 1 << 30);
}

function generate(n: number): string {
  const dir = mkdtempSync(join(tmpdir(), `sup-bench-${n}-`));
  for (let i = 0; i < n; i++) {
    const d = join(dir, `pkg${Math.floor(i / 10_000)}`, `mod${Math.floor(i / 100) % 100}`);
    if (i % 100 === 0) mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `f${i}.py`), "x = 1\n");
  }
  return dir;
}

/** CPU µs of pid, every thread, those that ended too (utime+stime, in 10 ms ticks: getconf CLK_TCK). */
const ticksUs = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10_000;
};
/** Resident MB: all (VmRSS), anonymous (heap, JIT code: the process's own) and file-backed (pages of the executable and libraries, clean and shared). */
const memMb = (pid: number) => {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const mb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(s)![1]) / 1024;
  return { rss: mb("VmRSS"), anon: mb("RssAnon"), file: mb("RssFile") };
};

async function measure(argv: string[], cwd: string, seconds: number, ready: RegExp, reports = false, env: Record<string, string> = {}) {
  const p = Bun.spawn(["sh", "-c", 'exec "$@" 2>&1', "sh", ...argv], { cwd, stdio: ["ignore", "pipe", "ignore"], detached: true, env: { ...process.env, ...env } });
  try {
    let out = "";
    const dec = new TextDecoder();
    const reader = (p.stdout as ReadableStream<Uint8Array>).getReader();
    const deadline = Date.now() + 180_000;
    while (!ready.test(out) && Date.now() < deadline) {
      const { value, done } = await Promise.race([reader.read(), Bun.sleep(1000).then(() => ({ value: undefined, done: false }))]);
      if (done) throw new Error(`exited: ${out}`);
      if (value) out += dec.decode(value);
    }
    void (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        out += dec.decode(value);
      }
    })();
    /** The child's own report (SIGUSR2 → "CPU µs"), or /proc ticks. */
    const cpuUs = async () => {
      if (!reports) return ticksUs(p.pid);
      const n = [...out.matchAll(/CPU (\d+)\n/g)].length;
      process.kill(p.pid, "SIGUSR2");
      let all: RegExpMatchArray[] = [];
      for (const end = Date.now() + 10_000; (all = [...out.matchAll(/CPU (\d+)\n/g)]).length <= n && Date.now() < end; ) await Bun.sleep(20);
      return Number(all.at(-1)![1]);
    };
    await Bun.sleep(3000); // let the first walk's garbage go, and the tree's directories stop being "racy" (2 s)
    const c0 = await cpuUs(), w0 = performance.now();
    await Bun.sleep(seconds * 1000);
    const cpu = ((await cpuUs()) - c0) / 1000 / (performance.now() - w0) * 100;
    const walk = /first walk (\d+) ms/.exec(out)?.[1] ?? "";
    const index = /INDEX (\d+) (\d+)/.exec(out);
    return { cpu, ...memMb(p.pid), walk, perFile: index && Number(index[2]) > 0 ? Number(index[1]) / Number(index[2]) : NaN };
  } finally {
    try {
      process.kill(-p.pid, "SIGKILL");
    } catch {}
    await p.exited;
  }
}

async function main() {
  const { values } = parseArgs({
    options: { "no-dfg": { type: "boolean" }, child: { type: "string" }, engine: { type: "string", default: "poll" }, seconds: { type: "string", default: "20" }, sizes: { type: "string", default: "0,10000,100000" }, "no-master": { type: "boolean" } },
  });
  if (values.child) return child(values.child, values.engine as "poll" | "events");
  const seconds = Number(values.seconds);
  // --no-dfg: JavaScriptCore's optimizing tiers off in every measured process,
  // to tell the JIT's share of the growth from the tree's.
  const env: Record<string, string> = values["no-dfg"] ? { BUN_JSC_useDFGJIT: "false" } : {};
  const sizes = values.sizes!.split(",").map(Number);
  const sup = join(ROOT, "dist/sup");
  const master = !values["no-master"] && statSync(sup, { throwIfNoEntry: false });
  console.log(`# bun bench/autoreload-idle.ts --seconds ${seconds} --sizes ${values.sizes}${values["no-dfg"] ? " --no-dfg" : ""}  (${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, load ${loadavg()[0]!.toFixed(2)})`);
  const rows: string[] = [];
  const base: Record<string, { rss: number; anon: number; file: number }> = {};
  const empty = mkdtempSync(join(tmpdir(), "sup-bench-bare-"));
  const bare = await measure([process.execPath, "-e", "process.on('SIGUSR2', () => { const u = process.cpuUsage(); console.log('CPU ' + (u.user + u.system)); }); setInterval(() => {}, 1 << 30); console.log('READY')"], empty, seconds, /READY/, true, env);
  rmSync(empty, { recursive: true, force: true });
  rows.push(`| bare bun (nothing watched) | – | ${bare.cpu.toFixed(3)} | ${bare.rss.toFixed(1)} | | | | |`);
  for (const n of sizes) {
    const dir = generate(n);
    try {
      if (n > 0) {
        await Bun.sleep(2500); // directories changed less than 2 s ago are listed on every scan (tree-list.ts, RACY_MS)
        const f = floorProbe(dir);
        console.log(`\nOne scan of ${n.toLocaleString("en-US")} files, CPU µs per file (best of ${f.rounds} interleaved rounds; floor: ${f.floorBuild}):`);
        for (const [k, v] of Object.entries(f.perFile)) console.log(`  ${k.padEnd(52)} ${v.toFixed(3)}`);
        console.log(`  ratio sup scan / C floor: ${(f.perFile["sup: Tree.scan (native scanner, whole poll)"]! / f.perFile["C floor: open+fstat per dir, fstatat per file"]!).toFixed(2)}x`);
        console.log(`  index: ${f.indexBytesPerFile.toFixed(0)} bytes per file (${(f.indexBytes / 1e6).toFixed(2)} MB)`);
        // The events engine's verification scan: every max(30 s, 2000x its duration) (src/watch/autoreload.ts).
        const scanMs = (f.perFile["sup: Tree.scan (native scanner, whole poll)"]! * n) / 1000;
        const every = Math.max(30_000, 2000 * scanMs);
        console.log(`  events engine's verification scan: ${scanMs.toFixed(1)} ms of CPU every ${(every / 1000).toFixed(0)} s = ${((scanMs / every) * 100).toFixed(3)} % of a core`);
      }
      const cases: [string, string[], RegExp, boolean][] = [
        ["poll", [process.execPath, import.meta.path, "--child", dir, "--engine", "poll"], /READY/, true],
        ["events", [process.execPath, import.meta.path, "--child", dir, "--engine", "events"], /READY/, true],
      ];
      if (master) cases.push(["dist/sup --py-autoreload 1 (poll)", [sup, "--py-autoreload", "1", "--", "sleep", "1000"], /autoreload: watching/, false]);
      if (master) cases.push(["dist/sup --autoreload 1 (events)", [sup, "--autoreload", "1", "--", "sleep", "1000"], /autoreload: watching/, false]);
      for (const [name, argv, ready, reports] of cases) {
        const r = await measure(argv, dir, reports ? seconds : 3 * seconds, ready, reports, env);
        if (n === 0) base[name] = r;
        const b = base[name];
        const growth = b ? `${(r.rss - b.rss).toFixed(1)}` : "";
        const split = b ? `${(r.anon - b.anon).toFixed(1)} / ${(r.file - b.file).toFixed(1)}` : "";
        const perFile = n > 0 && b ? `${Math.round(((r.rss - b.rss) * 1024 * 1024) / n)} / ${Math.round(((r.anon - b.anon) * 1024 * 1024) / n)}` : "";
        rows.push(`| ${name} | ${n.toLocaleString("en-US")} | ${r.cpu.toFixed(3)} | ${r.rss.toFixed(1)} | ${growth} | ${split} | ${perFile} | ${r.walk} |`);
        console.log(rows.at(-1));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`\n| process | files | CPU % of one core (${seconds} s idle) | RSS MB | RSS − empty tree, MB | of it anonymous / file-backed, MB | bytes per file: RSS / anonymous | first walk ms |\n|---|---|---|---|---|---|---|---|`);
  console.log(rows.join("\n"));
}

await main();
