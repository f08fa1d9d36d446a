// Several programs (issue 20): the master's memory and idle CPU with 10
// programs of 2 workers each against one program of 2 workers, and what sup
// adds to a start in depends-on order (a chain p1 ← p2 ← … ← p10, each
// "ready" on the one before): the gaps between a dependency's last worker
// ready and the dependent's first spawn, from the master's own JSON log
// (its timestamps are milliseconds).
//
// Idle CPU is read after --settle seconds at rest (default 35): the Bun
// runtime's idle GC timer wakes the JS thread every second until the heap
// has not changed for 30 of its ticks, then every 30 s (its
// GarbageCollectionController); a window that starts sooner measures that
// warm-up, not the master at rest.
//
//   bun build.ts && bun bench/programs.ts [--runs 3] [--idle 60] [--settle 35]
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLK_TCK, Master, ROOT, cpuTicks, machine, median, procStatus, spread } from "./lib.ts";

const SUP = join(ROOT, "dist/sup");
const arg = (name: string, d: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const RUNS = arg("runs", 3);
const IDLE_S = arg("idle", 60);
const SETTLE_S = arg("settle", 35);

/** A worker that says READY=1 on its notify pipe at once, then sleeps (a shell: no runtime's start in the figures). */
const WORKER = `#!/bin/sh
echo READY=1 >&"$SUP_NOTIFY_FD"
trap 'exit 0' TERM
while :; do sleep 1; done
`;

function config(dir: string, programs: number, chain: boolean): string {
  const lines = [`log-format = "json"`, `ready = "notify"`, `processes = 2`, `reload-grace = 0`, ""];
  for (let i = 1; i <= programs; i++) {
    lines.push(`[programs.p${i}]`, `command = ["${join(dir, "worker.sh")}"]`);
    if (chain && i > 1) lines.push(`depends-on = ["p${i - 1}"]`);
    lines.push("");
  }
  return lines.join("\n");
}

interface Run {
  rssMb: number;
  anonMb: number;
  cpuPct: number;
  overheadMs: number;
}

async function once(programs: number, chain: boolean, idleS: number): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), "sup-bench-programs-"));
  try {
    writeFileSync(join(dir, "worker.sh"), WORKER, { mode: 0o755 });
    writeFileSync(join(dir, "sup.toml"), config(dir, programs, chain));
    const m = new Master(SUP, [], dir);
    try {
      for (let i = 1; i <= programs; i++) await m.waitFor(new RegExp(`"program":"p${i}","worker":2,.*"event":"worker.ready"|"event":"worker.ready".*"program":"p${i}","worker":2`), 30_000);
      // sup's part of a start in order: from a dependency's last ready to the dependent's first spawn.
      const events = m.lines.map((l) => {
        try {
          return JSON.parse(l.text) as { time: string; event?: string; program?: string };
        } catch {
          return undefined;
        }
      }).filter((e) => e?.event);
      const at = (event: string, program: string, which: "first" | "last") => {
        const xs = events.filter((e) => e!.event === event && e!.program === program).map((e) => Date.parse(e!.time));
        return which === "first" ? Math.min(...xs) : Math.max(...xs);
      };
      let overheadMs = 0;
      if (chain) for (let i = 2; i <= programs; i++) overheadMs += at("worker.spawn", `p${i}`, "first") - at("worker.ready", `p${i - 1}`, "last");
      await Bun.sleep(SETTLE_S * 1000);
      const t0 = cpuTicks(m.pid);
      await Bun.sleep(idleS * 1000);
      const cpuPct = ((cpuTicks(m.pid) - t0) / CLK_TCK / idleS) * 100;
      const s = procStatus(m.pid);
      return { rssMb: s.VmRSS!, anonMb: s.RssAnon!, cpuPct, overheadMs };
    } finally {
      await m.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`bench/programs: ${machine()}, ${RUNS} runs, ${IDLE_S} s idle each after ${SETTLE_S} s at rest`);
const cases: [string, number, boolean][] = [
  ["1 program x 2 workers", 1, false],
  ["10 programs x 2 workers", 10, false],
  ["10 programs x 2, a depends-on chain", 10, true],
];
for (const [name, n, chain] of cases) {
  const runs: Run[] = [];
  for (let r = 0; r < RUNS; r++) runs.push(await once(n, chain, IDLE_S));
  console.log(`${name}: master RSS ${spread(runs.map((r) => r.rssMb))} MB (anon ${spread(runs.map((r) => r.anonMb))}), idle CPU ${spread(runs.map((r) => r.cpuPct), 3)} % of a core${chain ? `, sup's part of the ordered start ${spread(runs.map((r) => r.overheadMs), 0)} ms over 9 steps (median ${median(runs.map((r) => r.overheadMs))})` : ""}`);
}
