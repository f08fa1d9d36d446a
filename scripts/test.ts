// The README's test command: every test file, in two `bun test` processes
// side by side (most of the suite waits on real processes, timers and
// sockets, not on the CPU, so two shards take about half the wall time of
// one: CI has 15 minutes for apt-get, npm ci and the whole suite). Files are
// dealt to the shards by their usual duration (WEIGHTS, seconds measured on
// a 2-core machine; a file not listed counts 2 s). Shard 1 prints as it
// runs; shard 2's output follows when it ends. The last lines are bun's own
// summary lines, summed: " N pass", " N fail" (.ci/run reads them).
//
//   bun scripts/test.ts [--shards N] [bun test options, e.g. --bail]
import { resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");

const WEIGHTS: Record<string, number> = {
  "test/watch/autoreload.test.ts": 80,
  "test/e2e/recipes-python.test.ts": 80,
  "test/e2e/descriptors.test.ts": 62,
  "test/e2e/health.test.ts": 80,
  "test/e2e/recipes-examples.test.ts": 55,
  "test/e2e/reload-triggers.test.ts": 55,
  "test/e2e/recipes-js.test.ts": 43,
  "test/e2e/autoreload-roots.test.ts": 41,
  "test/e2e/uwsgi-dropin.test.ts": 39,
  "test/e2e/zero-downtime.test.ts": 27,
  "test/config/uwsgi-corpus.test.ts": 25,
  "test/e2e/core.test.ts": 21,
  "test/e2e/autoreload-watches.test.ts": 17,
  "test/e2e/programs.test.ts": 17,
  "test/e2e/stats-probes.test.ts": 15,
  "test/e2e/control-auth.test.ts": 14,
  "test/e2e/config-hostile.test.ts": 12,
  "test/e2e/steering.test.ts": 17,
  "test/e2e/recipes-readiness.test.ts": 11,
  "test/e2e/never-stalls.test.ts": 11,
  "test/e2e/recipes-devserver.test.ts": 9,
  "test/e2e/config-reload.test.ts": 8,
  "test/e2e/guard.test.ts": 8,
  "test/config/broken.test.ts": 8,
};

const args = process.argv.slice(2);
const at = args.indexOf("--shards");
const shards = at >= 0 ? Number(args.splice(at, 2)[1]) : 2;
if (!Number.isInteger(shards) || shards < 1) throw new Error("--shards takes a whole number, 1 or more");
if (args.some((a) => !a.startsWith("-"))) {
  console.error("scripts/test.ts runs the whole suite; for some files, run: bun test --timeout 30000 FILE…");
  process.exit(2);
}

const files = [...new Bun.Glob("test/**/*.test.ts").scanSync({ cwd: ROOT })].sort();
// Heaviest first, each to the lightest shard so far.
const weight = (f: string) => WEIGHTS[f] ?? 2;
const groups = Array.from({ length: shards }, () => ({ files: [] as string[], total: 0 }));
for (const f of files.sort((a, b) => weight(b) - weight(a))) {
  const g = groups.reduce((a, b) => (b.total < a.total ? b : a));
  g.files.push(f);
  g.total += weight(f);
}

/** Everything a stream says, kept; shown at once when `live`. */
async function collect(stream: ReadableStream<Uint8Array>, live: boolean): Promise<string> {
  const d = new TextDecoder();
  let text = "";
  for await (const c of stream) {
    if (live) process.stderr.write(c);
    text += d.decode(c, { stream: true });
  }
  return text;
}

const runs = groups.map((g, i) => {
  const proc = Bun.spawn([process.execPath, "test", "--timeout", "30000", ...args, ...g.files.map((f) => `./${f}`)], {
    cwd: ROOT,
    env: process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const texts = Promise.all([collect(proc.stdout, i === 0), collect(proc.stderr, i === 0)]).then((t) => t.join(""));
  return { proc, texts, i };
});
// Ctrl-C or a CI timeout ends the shards too.
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => runs.forEach((r) => r.proc.kill(sig)));

let pass = 0;
let fail = 0;
let broken = false;
const failed: string[] = [];
for (const r of runs) {
  const [code, text] = await Promise.all([r.proc.exited, r.texts]);
  if (r.i > 0) process.stderr.write(`\n── shard ${r.i + 1} of ${shards} ──\n${text}`);
  const count = (word: string) => Number([...text.matchAll(new RegExp(`^ *(\\d+) ${word}$`, "gm"))].at(-1)?.[1] ?? NaN);
  const [p, f] = [count("pass"), count("fail")];
  // A shard that ended without bun's summary (a crash, a build error) is a failure.
  if (!Number.isFinite(p) || !Number.isFinite(f)) broken = true;
  pass += p || 0;
  fail += f || 0;
  if (code !== 0 && !(f > 0)) broken = true;
  // bun prints each failure twice (as it happens, and in its summary); the
  // first time it follows the error. The summary repeats the error too, so a
  // CI log that keeps only its tail still says why a test failed.
  const lines = text.split("\n");
  lines.forEach((l, at) => {
    if (!l.startsWith("(fail) ") || failed.some((f) => f.startsWith(`${l}\n`) || f === l)) return;
    let from = at;
    while (from > 0 && from > at - 5_000 && !/^\((pass|fail|skip|todo)\) |^\S+\.test\.ts:$/.test(lines[from - 1]!)) from--;
    let why = lines.slice(from, at).filter((w) => w.trim() !== "");
    // The error's head says what failed, its tail where; a long received log between is cut.
    if (why.length > 50) why = [...why.slice(0, 40), `… ${why.length - 48} lines …`, ...why.slice(-8)];
    failed.push(why.length ? `${l}\n${why.map((w) => `    ${w}`).join("\n")}` : l);
  });
}
if (broken) fail = Math.max(fail, 1);
process.stderr.write(`\n── ${shards} shards ──\n${failed.length ? `${failed.length} tests failed:\n${failed.join("\n")}\n` : ""}\n ${pass} pass\n ${fail} fail\n`);
process.exit(fail > 0 ? 1 : 0);
