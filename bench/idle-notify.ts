// Issue 9: what an idle master costs while a worker keeps talking sd_notify.
//
//   bun bench/idle-notify.ts [--bin dist/sup] [--seconds 60] [--runs 3] [--interval 0.1] [--strace 10]
//
// `sup -p 4 --ready notify -- python3 bench/fixtures/notify.py CHATTY 0.1`
// (Debian's python): every worker says READY=1 over $NOTIFY_SOCKET; with
// CHATTY = 1, worker 1 then sends `STATUS=tick N` every --interval seconds
// ("chatty"), with CHATTY = 0 nobody says anything more ("floor"). After the
// 4 workers are ready and 2 s of settling, over --seconds:
//   - CPU % of one core: utime+stime of all the master's threads
//     (/proc/PID/stat) per wall second; the guard's the same way;
//   - per thread: CPU (utime and stime, /proc/PID/task/*/stat) and
//     wakeups: voluntary context switches per thread (/proc/PID/task/*/status),
//     each one a sleep that ended, per second, by thread name: "main" is the
//     JS thread, "sup" the notify reader thread (native/fdwatch.ts), the others
//     Bun's and JavaScriptCore's own.
// Then USR1's status table must show worker 1's latest STATUS= (the
// datagrams were read, not left queued), and `strace -c -f -p MASTER` runs
// for --strace seconds (0: skip) to count the syscalls behind those wakeups
// (epoll_pwait2 is the JS loop's wait, poll the notify reader thread's).
// Target (issue 9): chatty ≤ 0.5 % of a core.
//
// Build the binary first (`bun build.ts`). Every master is stopped by pid
// (TERM, then SIGKILL to it, its workers' groups and its guard), and strace
// with SIGINT, then SIGKILL, even on failure.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { CLK_TCK, Master, ROOT, SYSTEM_PYTHON, cpuTicks, machine, shown, spread, threads, threadsBetween } from "./lib.ts";

const { values: opt } = parseArgs({
  options: {
    bin: { type: "string", default: join(ROOT, "dist/sup") },
    seconds: { type: "string", default: "60" },
    runs: { type: "string", default: "3" },
    interval: { type: "string", default: "0.1" },
    strace: { type: "string", default: "10" },
  },
});
const BIN = resolve(opt.bin);
const SECONDS = Number(opt.seconds);
const RUNS = Math.max(1, Number(opt.runs));
const STRACE = Number(opt.strace);
const FIXTURE = join(ROOT, "bench/fixtures/notify.py");

interface Run {
  cpu: number;
  guardCpu: number;
  wake: Map<string, number>; // per second, by thread name
  user: Map<string, number>; // utime, % of one core, by thread name
  sys: Map<string, number>; // stime, the same
  lastTick: number; // worker 1's STATUS=tick N in the status table (0 when silent)
  syscalls: Map<string, number>; // per second under strace
}

/** `strace -c -f -p pid` for `seconds`; calls per second by syscall. */
async function straceCount(pid: number, seconds: number, dir: string): Promise<Map<string, number>> {
  const out = join(dir, "strace.txt");
  const p = Bun.spawn(["strace", "-c", "-f", "-o", out, "-p", String(pid)], { stdio: ["ignore", "ignore", "pipe"] });
  try {
    await Bun.sleep(seconds * 1000);
    p.kill("SIGINT"); // detaches and writes the summary
    await Promise.race([p.exited, Bun.sleep(5000)]);
  } finally {
    if (p.exitCode === null) p.kill("SIGKILL");
  }
  const calls = new Map<string, number>();
  for (const m of readFileSync(out, "utf8").matchAll(/^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$/gm)) if (m[2] !== "total") calls.set(m[2]!, Number(m[1]) / seconds);
  return calls;
}

async function run(chatty: boolean): Promise<Run & { args: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), "sup-bench-notify-"));
  const args = ["-p", "4", "--ready", "notify", "--", SYSTEM_PYTHON, FIXTURE, chatty ? "1" : "0", opt.interval];
  const m = new Master(BIN, args, dir);
  try {
    for (let id = 1; id <= 4; id++) await m.waitFor(new RegExp(`worker ${id} pid \\d+ gen 1 ready`), 20_000);
    await Bun.sleep(2000);
    const guard = m.guardPid();
    if (guard === undefined) throw new Error("no guard process");
    const t0 = cpuTicks(m.pid), g0 = cpuTicks(guard), k0 = threads(m.pid), w0 = performance.now();
    await Bun.sleep(SECONDS * 1000);
    const t1 = cpuTicks(m.pid), g1 = cpuTicks(guard), k1 = threads(m.pid);
    const secs = (performance.now() - w0) / 1000;
    const per = [...threadsBetween(k0, k1)];
    const pct = (ticks: number) => (ticks / CLK_TCK / secs) * 100;
    const wake = new Map(per.map(([name, t]) => [name, t.wake / secs]));
    const user = new Map(per.map(([name, t]) => [name, pct(t.utime)]));
    const sys = new Map(per.map(([name, t]) => [name, pct(t.stime)]));
    const from = m.lines.length;
    process.kill(m.pid, "SIGUSR1");
    const { index } = await m.waitLine(/master pid \d+ up /, from, 5000);
    const row = await m.waitLine(/\] 1 +\d+ +1 /, index, 5000);
    const lastTick = Number(/tick (\d+)/.exec(row.line.text)?.[1] ?? 0);
    const syscalls = STRACE > 0 ? await straceCount(m.pid, STRACE, dir) : new Map<string, number>();
    return { args, cpu: pct(t1 - t0), guardCpu: pct(g1 - g0), wake, user, sys, lastTick, syscalls };
  } finally {
    await m.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`${machine()}; ${SECONDS} s idle windows, ${RUNS} runs per case, STATUS= every ${opt.interval} s`);
const rows: string[] = [];
const details: string[] = [];
let command = "";
for (const chatty of [false, true]) {
  const name = chatty ? "chatty" : "floor";
  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await run(chatty);
    command = shown([BIN, ...r.args], { [SYSTEM_PYTHON]: "python3" });
    runs.push(r);
    const top = [...r.syscalls].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ");
    console.log(`${name} run ${i + 1}: master CPU ${r.cpu.toFixed(2)} %, guard ${r.guardCpu.toFixed(2)} %, wakeups/s ${[...r.wake].map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ")}; worker 1 status tick ${r.lastTick}; strace calls/s: ${top || "–"}; ${machine()}`);
  }
  const wakeTotal = (r: Run) => [...r.wake.values()].reduce((a, b) => a + b, 0);
  const sys = (r: Run, re: RegExp) => [...r.syscalls].filter(([k]) => re.test(k)).reduce((a, [, v]) => a + v, 0);
  const total = (r: Run) => [...r.syscalls.values()].reduce((a, b) => a + b, 0);
  rows.push(
    `| ${name} | ${spread(runs.map((r) => r.cpu), 2)} | ${spread(runs.map((r) => r.guardCpu), 2)} | ${spread(runs.map(wakeTotal))} | ` +
      `${spread(runs.map((r) => sys(r, /^epoll_p?wait/)))} | ${spread(runs.map((r) => sys(r, /^(poll|ppoll)$/)))} | ${spread(runs.map((r) => sys(r, /^futex$/)))} | ${spread(runs.map(total))} |`,
  );
  const names = [...new Set(runs.flatMap((r) => [...r.wake.keys()]))];
  details.push(`${name}: wakeups/s by thread: ${names.map((n) => `${n} ${spread(runs.map((r) => r.wake.get(n) ?? 0))}`).join(", ")}`);
  details.push(`${name}: CPU % by thread, user + system: ${names.map((n) => `${n} ${spread(runs.map((r) => r.user.get(n) ?? 0), 2)} + ${spread(runs.map((r) => r.sys.get(n) ?? 0), 2)}`).join(", ")}`);
}
console.log(`\ncommand: ${command} (CHATTY 0 = floor, 1 = chatty)`);
console.log(`median (min–max) of ${RUNS} runs; CPU % of one core over ${SECONDS} s; calls/s under strace for ${STRACE} s`);
console.log(`| case | master CPU % | guard CPU % | master wakeups/s (all threads) | epoll_pwait* | poll | futex | all syscalls |`);
console.log(`|---|---|---|---|---|---|---|---|`);
for (const r of rows) console.log(r);
for (const d of details) console.log(d);
console.log(`\nat the end: ${machine()}`);
