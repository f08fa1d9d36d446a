// A master that reloads for months (issue 18 item 1): 1,000 HUPs in a row,
// each a full generation of new workers (--ready notify, so each worker has
// its notify pipe), and the master's open descriptors and RssAnon sampled
// every 100 reloads. Target: no growth beyond noise.
//
//   bun build.ts && bun bench/reload-leak.ts [--reloads 1000] [--workers 2]
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Master, ROOT, machine, procStatus } from "./lib.ts";

const arg = (name: string, d: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const RELOADS = arg("reloads", 1000);
const WORKERS = arg("workers", 2);
const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

const dir = mkdtempSync(join(tmpdir(), "sup-bench-leak-"));
writeFileSync(join(dir, "worker.sh"), `#!/bin/sh\necho READY=1 >&"$SUP_NOTIFY_FD"\ntrap 'exit 0' TERM\nwhile :; do sleep 1; done\n`, { mode: 0o755 });
const m = new Master(join(ROOT, "dist/sup"), ["-p", String(WORKERS), "--ready", "notify", "--reload-grace", "0", "--worker-reload-mercy", "5", "--", join(dir, "worker.sh")], dir);
try {
  await m.waitFor(/worker \d+ pid \d+ gen 1 ready/, 10_000);
  await Bun.sleep(500);
  const sample = (n: number) => {
    const s = procStatus(m.pid);
    return { n, fds: fds(m.pid), anonMb: s.RssAnon ?? 0, rssMb: s.VmRSS ?? 0 };
  };
  const rows = [sample(0)];
  const t0 = performance.now();
  let from = 0;
  for (let gen = 2; gen <= RELOADS + 1; gen++) {
    process.kill(m.pid, "SIGHUP");
    from = (await m.waitLine(new RegExp(`reload gen ${gen} done`), from, 30_000)).index;
    if ((gen - 1) % 100 === 0) {
      // Let the retired generation's exits and pipes finish before counting.
      await m.waitLine(new RegExp(`gen ${gen - 1} exited`), 0, 10_000);
      await Bun.sleep(200);
      rows.push(sample(gen - 1));
    }
  }
  const secs = (performance.now() - t0) / 1000;
  console.log(`bench/reload-leak: ${machine()}; ${RELOADS} reloads of ${WORKERS} workers (--ready notify, grace 0) in ${secs.toFixed(0)} s`);
  console.log("reloads  fds  RssAnon MB  VmRSS MB");
  for (const r of rows) console.log(`${String(r.n).padStart(7)}  ${String(r.fds).padStart(3)}  ${r.anonMb.toFixed(1).padStart(10)}  ${r.rssMb.toFixed(1).padStart(8)}`);
} finally {
  await m.stop();
  rmSync(dir, { recursive: true, force: true });
}
