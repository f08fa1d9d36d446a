// Recycling without costing capacity (issue 21). Two measurements:
//
// 1. 4 workers of the Flask app under gunicorn (the README's recipe) under
//    wrk (-t2 -c32) for --duration seconds, with --max-worker-lifetime so
//    that each worker is recycled every ~--lifetime seconds (spread by the
//    delta). Failed requests (wrk's errors and non-2xx), the lowest count of
//    ready workers seen (the master's /status, every 100 ms), and the p99 of
//    a probe (one request at a time, every 20 ms, beside wrk) while a
//    replacement runs over its p99 the rest of the run.
// 2. The master's CPU with 64 idle workers and --reload-on-rss read every
//    second (--check-interval 1), over --idle seconds, against the same
//    master without it.
//
//   bun build.ts && bun bench/recycling.ts [--duration 60] [--lifetime 10] [--idle 30] [--workers 64]
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CLK_TCK, Master, ROOT, cpuTicks, freePort, machine, quantile } from "./lib.ts";

const { values: opt } = parseArgs({
  options: {
    duration: { type: "string", default: "60" },
    lifetime: { type: "string", default: "10" },
    idle: { type: "string", default: "30" },
    workers: { type: "string", default: "64" },
  },
});
const SUP = join(ROOT, "dist/sup");
const DURATION = Number(opt.duration);
const LIFETIME = Number(opt.lifetime);

async function status(port: number): Promise<{ workers: { state: string; generation: number }[] } | undefined> {
  try {
    return (await (await fetch(`http://127.0.0.1:${port}/status`, { signal: AbortSignal.timeout(2000) })).json()) as never;
  } catch {
    return undefined;
  }
}

async function recycling() {
  const dir = mkdtempSync(join(tmpdir(), "sup-recycle-"));
  cpSync(join(ROOT, "test/fixtures/apps/flask"), dir, { recursive: true });
  const [port, stats] = [await freePort(), await freePort()];
  const m = new Master(SUP, ["-p", "4", "--listen", `127.0.0.1:${port}`, "--ready", "notify", "--stats", `127.0.0.1:${stats}`,
    "--max-worker-lifetime", String(LIFETIME), "--max-worker-lifetime-delta", String(LIFETIME), "--", "/usr/bin/gunicorn", "--preload", "app:app"], dir);
  try {
    for (let i = 0; i < 4; i++) await m.waitFor(new RegExp(`worker ${i + 1} pid \\d+ gen 1 ready`), 30_000);
    const wrk = Bun.spawn(["wrk", "-t2", "-c32", `-d${DURATION}s`, "--timeout", "5s", "-s", join(ROOT, "bench/fixtures/load.lua"), `http://127.0.0.1:${port}/`], { stdout: "pipe", stderr: "inherit" });
    const start = Date.now();
    const samples: { at: number; ms: number; ok: boolean }[] = [];
    let lowest = Infinity;
    let running = true;
    const probe = (async () => {
      while (running) {
        const at = Date.now();
        let ok = false;
        try {
          const r = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: "close" }, signal: AbortSignal.timeout(5000) });
          await r.text();
          ok = r.status === 200;
        } catch {}
        samples.push({ at, ms: Date.now() - at, ok });
        await Bun.sleep(20);
      }
    })();
    const watch = (async () => {
      while (running) {
        const s = await status(stats);
        if (s) lowest = Math.min(lowest, s.workers.filter((w) => w.state === "ready").length);
        await Bun.sleep(100);
      }
    })();
    const out = await new Response(wrk.stdout).text();
    running = false;
    await Promise.all([probe, watch]);
    const r = JSON.parse(out.split("\n").find((l) => l.startsWith("RESULT "))!.slice(7));
    // A replacement runs from "is replaced (lifetime)" to that worker's exit.
    const when = (line: string) => Date.parse(line.split(" ")[0]!);
    const windows: [number, number][] = [];
    for (const x of m.log.matchAll(/^(\S+) .*pid (\d+) gen \d+ is replaced \(lifetime\)/gm)) {
      const exit = new RegExp(`^(\\S+) .*pid ${x[2]} gen \\d+ exited`, "m").exec(m.log);
      windows.push([when(x[0]), exit ? when(exit[0]) + 1 : Date.now()]);
    }
    const inside = samples.filter((s) => s.at > start + 1000 && windows.some(([a, b]) => s.at >= a && s.at < b));
    const outside = samples.filter((s) => s.at > start + 1000 && !inside.includes(s));
    const e = r.errors;
    return {
      requests: r.requests as number,
      failed: e.connect + e.read + e.write + e.status + e.timeout + samples.filter((s) => !s.ok).length,
      replacements: windows.length,
      lowest,
      p99In: quantile(inside.map((s) => s.ms), 0.99),
      p99Out: quantile(outside.map((s) => s.ms), 0.99),
      n: [inside.length, outside.length],
      wrkP99: r.latencyUs.p99 / 1000,
    };
  } finally {
    await m.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The master's CPU (% of one core) over `seconds` with n idle workers and these options. */
async function idleCpu(n: number, extra: string[], seconds: number) {
  const dir = mkdtempSync(join(tmpdir(), "sup-recycle-idle-"));
  writeFileSync(join(dir, "idle.sh"), "#!/bin/sh\nexec sleep 100000\n", { mode: 0o755 });
  const m = new Master(SUP, ["-p", String(n), "--ready", "delay:0.2", ...extra, "--", join(dir, "idle.sh")], dir);
  try {
    await m.waitFor(new RegExp(`worker ${n} pid \\d+ gen 1 ready`), 60_000);
    await Bun.sleep(2000);
    const t0 = cpuTicks(m.pid);
    await Bun.sleep(seconds * 1000);
    return ((cpuTicks(m.pid) - t0) / CLK_TCK / seconds) * 100;
  } finally {
    await m.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (!Bun.which("wrk")) throw new Error("needs wrk (apt-get install wrk)");
console.log(`# bun bench/recycling.ts --duration ${DURATION} --lifetime ${LIFETIME} --idle ${opt.idle} --workers ${opt.workers}`);
console.log(`# ${machine()}`);
const r = await recycling();
console.log(`recycling, 4 gunicorn workers, lifetime ${LIFETIME}s + delta ${LIFETIME}s, wrk -t2 -c32 ${DURATION}s:`);
console.log(`  requests ${r.requests}, failed ${r.failed}, replacements ${r.replacements}, lowest ready ${r.lowest}`);
console.log(`  probe p99 during replacements ${r.p99In.toFixed(1)} ms (${r.n[0]} samples), rest of the run ${r.p99Out.toFixed(1)} ms (${r.n[1]}): ratio ${(r.p99In / r.p99Out).toFixed(2)}; wrk p99 over the run ${r.wrkP99.toFixed(1)} ms`);
const n = Number(opt.workers);
const without = await idleCpu(n, [], Number(opt.idle));
const withRss = await idleCpu(n, ["--reload-on-rss", "500", "--check-interval", "1"], Number(opt.idle));
console.log(`master CPU, ${n} idle workers, ${opt.idle}s: ${without.toFixed(3)}% of a core without --reload-on-rss, ${withRss.toFixed(3)}% with --reload-on-rss 500 --check-interval 1`);
