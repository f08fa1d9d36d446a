// Startup time of the compiled binary: wall time of `sup --version`, the
// cheapest full start (runtime, embedded bundle, exit). Target (issue 2):
// median under 30 ms.
//
//   bun bench/startup.ts [--bin dist/sup] [--runs 50] [--warmup 5]
//
// Two measurements: our own loop (Bun.spawnSync, timed with performance.now,
// so it includes the spawn from a Bun parent), and hyperfine when it is on
// PATH (`hyperfine -N`: fork+exec from a small Rust parent, no shell).
// Build the binary first (`bun build.ts`).
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { quantile } from "./lib.ts";

const ROOT = resolve(import.meta.dir, "..");
const { values: opt } = parseArgs({
  options: {
    bin: { type: "string", default: join(ROOT, "dist/sup") },
    runs: { type: "string", default: "50" },
    warmup: { type: "string", default: "5" },
  },
});
const bin = resolve(opt.bin);
const shownBin = bin.startsWith(`${ROOT}/`) ? bin.slice(ROOT.length + 1) : bin; // as printed
const runs = Math.max(1, Number(opt.runs));
const warmup = Math.max(0, Number(opt.warmup));
if (!existsSync(bin)) {
  console.error(`no binary at ${bin}: build it with \`bun build.ts\``);
  process.exit(2);
}


function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  return { n: s.length, min: s[0]!, median: quantile(s, 0.5), p90: quantile(s, 0.9), max: s.at(-1)! };
}

function ownLoop(): number[] {
  const once = () => {
    const t0 = performance.now();
    const r = Bun.spawnSync([bin, "--version"], { stdout: "pipe", stderr: "pipe" });
    const ms = performance.now() - t0;
    if (r.exitCode !== 0 || !/^sup \S+/.test(r.stdout.toString())) throw new Error(`${bin} --version failed: exit ${r.exitCode}, ${r.stderr.toString()}`);
    return ms;
  };
  for (let i = 0; i < warmup; i++) once();
  return Array.from({ length: runs }, once);
}

function hyperfine(): number[] | undefined {
  if (!Bun.which("hyperfine")) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "sup-bench-"));
  try {
    const out = join(dir, "hf.json");
    const r = Bun.spawnSync(["hyperfine", "-N", "--warmup", String(warmup), "--runs", String(runs), "--export-json", out, `${bin} --version`], { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`hyperfine failed: ${r.stderr.toString()}`);
    const times = (JSON.parse(readFileSync(out, "utf8")) as { results: { times: number[] }[] }).results[0]!.times;
    return times.map((s) => s * 1000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const f = (x: number) => x.toFixed(1).padStart(6);
const rows: [string, ReturnType<typeof stats>][] = [["Bun.spawnSync loop", stats(ownLoop())]];
const hf = hyperfine();
if (hf) rows.push(["hyperfine -N", stats(hf)]);

console.log(`sup --version wall time (ms), ${runs} runs after ${warmup} warm-up; ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
console.log(`method                   n    min median    p90    max`);
for (const [name, s] of rows) console.log(`${name.padEnd(20)} ${String(s.n).padStart(5)} ${f(s.min)} ${f(s.median)} ${f(s.p90)} ${f(s.max)}`);
if (!hf) console.log("(hyperfine not on PATH: only the own loop)");
console.log(`command: ${shownBin} --version${hf ? `; hyperfine -N --warmup ${warmup} --runs ${runs} '${shownBin} --version'` : ""}`);
