// The stats server under a scraper (issue 22): a GET /metrics every 100 ms
// (keep-alive, as Prometheus does) against a master of 64 workers, for
// --seconds (60) at rest and again while reloads run back to back. Reported:
// the master's CPU (% of one core, from /proc/PID/stat) with and without the
// scraper, and the scrape latency (median, p99, max) as the client sees it.
// Targets: at most 1 % of a core for the scraping, p99 at most 5 ms.
//
//   bun build.ts && bun bench/stats-scrape.ts [--seconds 60] [--workers 64]
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLK_TCK, Master, ROOT, cpuTicks, freePort, machine, median, numberArg, quantile } from "./lib.ts";

const SUP = join(ROOT, "dist/sup");
const SECONDS = numberArg("seconds", 60);
const WORKERS = numberArg("workers", 64);
const EVERY_MS = 100;

/** A worker that costs nothing while it runs: a shell that sleeps. */
const WORKER = "#!/bin/sh\ntrap 'exit 0' TERM\nwhile :; do sleep 1; done\n";

interface Phase {
  name: string;
  cpuPct: number;
  scrapes: number[];
  reloads: number;
  bytes: number;
}

async function phase(m: Master, url: string | undefined, reloading: boolean, name: string): Promise<Phase> {
  const scrapes: number[] = [];
  let reloads = 0;
  let bytes = 0;
  let gen = Number([...m.log.matchAll(/reload gen (\d+) done/g)].pop()?.[1] ?? 1);
  const t0 = performance.now();
  const c0 = cpuTicks(m.pid);
  const end = t0 + SECONDS * 1000;
  const reloader = (async () => {
    while (reloading && performance.now() < end) {
      const from = m.lines.length;
      process.kill(m.pid, "SIGHUP");
      gen++;
      await m.waitLine(new RegExp(`reload gen ${gen} (done|rolled back)`), from, 60_000);
      reloads++;
    }
  })();
  if (url) {
    for (let next = t0; next < end; next += EVERY_MS) {
      await Bun.sleep(Math.max(0, next - performance.now()));
      const t = performance.now();
      const body = await (await fetch(url)).text();
      scrapes.push(performance.now() - t);
      bytes = body.length;
    }
  } else await Bun.sleep(SECONDS * 1000);
  await reloader;
  const cpuPct = ((cpuTicks(m.pid) - c0) / CLK_TCK / ((performance.now() - t0) / 1000)) * 100;
  return { name, cpuPct, scrapes, reloads, bytes };
}

async function main() {
  console.log(`stats scrape: ${WORKERS} workers, GET /metrics every ${EVERY_MS} ms for ${SECONDS} s; ${machine()}`);
  const dir = mkdtempSync(join(tmpdir(), "sup-bench-stats-"));
  writeFileSync(join(dir, "worker.sh"), WORKER, { mode: 0o755 });
  const port = await freePort();
  const m = new Master(SUP, ["-p", String(WORKERS), "--ready", "delay:0.2", "--reload-grace", "0.5", "--stats", `127.0.0.1:${port}`, "--", join(dir, "worker.sh")], dir);
  const rows: Phase[] = [];
  try {
    await m.waitFor(new RegExp(`worker ${WORKERS} pid \\d+ gen 1 ready`), 60_000);
    await Bun.sleep(2000);
    const url = `http://127.0.0.1:${port}/metrics`;
    rows.push(await phase(m, undefined, false, "at rest, no scraper"));
    rows.push(await phase(m, url, false, "at rest, scraped"));
    rows.push(await phase(m, undefined, true, "reloading, no scraper"));
    rows.push(await phase(m, url, true, "reloading, scraped"));
  } finally {
    await m.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\n${"phase".padEnd(24)} ${"master CPU %".padStart(12)} ${"reloads".padStart(8)} ${"scrapes".padStart(8)} ${"median ms".padStart(10)} ${"p99 ms".padStart(8)} ${"max ms".padStart(8)}`);
  for (const r of rows) {
    const s = r.scrapes;
    const f = (x: number | undefined) => (x === undefined ? "–" : x.toFixed(2)).padStart(8);
    console.log(`${r.name.padEnd(24)} ${r.cpuPct.toFixed(2).padStart(12)} ${String(r.reloads).padStart(8)} ${String(s.length).padStart(8)} ${(s.length ? median(s).toFixed(2) : "–").padStart(10)} ${f(s.length ? quantile(s, 0.99) : undefined)} ${f(s.length ? Math.max(...s) : undefined)}`);
  }
  console.log(`(the scraper's cost: the scraped row less the one above it; /metrics is ${rows[1]?.bytes ?? 0} bytes with ${WORKERS} workers; ${machine()})`);
}

await main();
