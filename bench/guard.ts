// The guard (issue 18 item 6): what it costs while the master runs, and how
// soon nothing of the workers runs after `kill -9` of the master.
//
//   bun bench/guard.ts [--bin dist/sup] [--seconds 20] [--runs 3]
//
// `sup -p 4 --ready delay:0.2 -- CMD` in two modes: "cgroup" (as run: root
// with a writable cgroup2 mount) and "subreaper" (the same under
// `unshare --mount` with the cgroup2 mount remounted read-only, as in a
// container without a writable cgroupfs; the guard then reads the master's
// process tree, 25 ms after a change, backing off to 1 s). CMD is "idle"
// (sleep 1000) or "churn" (test/fixtures/daemonizer.sh: it leaves daemons
// behind and loops on `sleep 0.05`, so the tree changes 20 times a second
// per worker and the guard keeps reading it at its fastest). After the 4
// workers are ready and 2 s of settling, over --seconds: the guard's CPU %
// of a core (utime+stime, /proc/PID/stat) and wakeups/s (voluntary context
// switches, /proc/PID/status); its and the master's VmRSS and Pss at the
// end. Then SIGKILL to the master: ms until no process that was below it
// runs (zombies count as gone; polled every 2 ms), and until the guard has
// exited. Root only (cgroups, unshare). Every process is killed by pid at
// the end, even on failure.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { CLK_TCK, Master, ROOT, childrenOf, cpuTicks, machine, median, procStatus, shown } from "./lib.ts";

const { values: opt } = parseArgs({
  options: {
    bin: { type: "string", default: join(ROOT, "dist/sup") },
    seconds: { type: "string", default: "20" },
    runs: { type: "string", default: "3" },
  },
});
const BIN = resolve(opt.bin);
const SECONDS = Number(opt.seconds);
const RUNS = Math.max(1, Number(opt.runs));
const CGROUP2 = readFileSync("/proc/self/mountinfo", "latin1").split("\n").find((l) => l.includes(" - cgroup2 "))?.split(" ")[4] ?? "";

const WORKLOADS: Record<string, string[]> = { idle: ["sleep", "1000"], churn: [join(ROOT, "test/fixtures/daemonizer.sh")] };
const MODES: Record<string, (argv: string[]) => [string, string[]]> = {
  cgroup: (argv) => [BIN, argv],
  subreaper: (argv) => ["unshare", ["--mount", "sh", "-c", `mount -o remount,bind,ro ${CGROUP2} && exec "$0" "$@"`, BIN, ...argv]],
};

const running = (pid: number) => {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "latin1");
    return s[s.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return false;
  }
};
const wakeups = (pid: number) => Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "latin1"))?.[1] ?? 0);

const kids = (pid: number) => {
  try {
    return childrenOf(pid);
  } catch {
    return []; // gone meanwhile (the churn's short sleeps)
  }
};

/** Every process below pid now. */
function below(pid: number): number[] {
  const out: number[] = [];
  for (let q = kids(pid); q.length; ) {
    const p = q.shift()!;
    out.push(p);
    q.push(...kids(p));
  }
  return out;
}

async function once(mode: string, load: string) {
  const dir = mkdtempSync(join(tmpdir(), "sup-bench-"));
  const [bin, args] = MODES[mode]!(["-p", "4", "--ready", "delay:0.2", "--", ...WORKLOADS[load]!]);
  const m = new Master(bin, args, dir);
  const all = new Set<number>();
  try {
    await m.waitFor(new RegExp(`kill mode: ${mode === "cgroup" ? "cgroup" : "process groups"}`), 10_000);
    for (let i = 1; i <= 4; i++) await m.waitFor(new RegExp(`worker ${i} pid \\d+ gen 1 ready`), 10_000);
    const guard = Number((await m.waitFor(/guard pid (\d+): native/, 5000))[1]);
    await Bun.sleep(2000);
    const [t0, w0, at0] = [cpuTicks(guard), wakeups(guard), performance.now()];
    await Bun.sleep(SECONDS * 1000);
    const secs = (performance.now() - at0) / 1000;
    const cpu = ((cpuTicks(guard) - t0) / CLK_TCK / secs) * 100;
    const wake = (wakeups(guard) - w0) / secs;
    const g = procStatus(guard);
    const mm = procStatus(m.pid);
    for (const p of below(m.pid)) if (p !== guard) all.add(p);
    process.kill(m.pid, "SIGKILL");
    const k0 = performance.now();
    let gone = NaN;
    let guardGone = NaN;
    while (performance.now() - k0 < 5000 && (Number.isNaN(gone) || Number.isNaN(guardGone))) {
      if (Number.isNaN(gone) && ![...all].some(running)) gone = performance.now() - k0;
      if (Number.isNaN(guardGone) && !running(guard)) guardGone = performance.now() - k0;
      await Bun.sleep(2);
    }
    return { cpu, wake, gRss: g.VmRSS!, gPss: g.Pss!, mRss: mm.VmRSS!, mPss: mm.Pss!, gone, guardGone, procs: all.size };
  } finally {
    for (const p of [m.pid, ...all]) {
      try {
        process.kill(p, "SIGKILL");
      } catch {}
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`${machine()}; ${shown([BIN])}; ${RUNS} runs of ${SECONDS} s each, medians`);
console.log(`mode       workers  guard CPU %  wakeups/s  guard VmRSS  guard Pss  master VmRSS  master Pss  | kill -9: all gone ms  guard done ms  (processes below)`);
for (const mode of Object.keys(MODES)) {
  for (const load of Object.keys(WORKLOADS)) {
    const rs: Awaited<ReturnType<typeof once>>[] = [];
    for (let i = 0; i < RUNS; i++) rs.push(await once(mode, load));
    const med = (f: (r: (typeof rs)[number]) => number, d = 1) => median(rs.map(f)).toFixed(d);
    console.log(`${mode.padEnd(10)} ${load.padEnd(8)} ${med((r) => r.cpu, 3).padStart(11)}  ${med((r) => r.wake).padStart(9)}  ${`${med((r) => r.gRss, 2)} MB`.padStart(11)}  ${`${med((r) => r.gPss, 2)} MB`.padStart(9)}  ${`${med((r) => r.mRss)} MB`.padStart(12)}  ${`${med((r) => r.mPss)} MB`.padStart(10)}  | ${rs.map((r) => r.gone.toFixed(0)).join(", ").padStart(20)}  ${rs.map((r) => r.guardGone.toFixed(0)).join(", ").padStart(13)}  (${med((r) => r.procs, 0)})`);
  }
}
console.log(`commands: ${shown([BIN, "-p", "4", "--ready", "delay:0.2", "--", "sleep", "1000"])}; the same with test/fixtures/daemonizer.sh; subreaper: under unshare --mount with ${CGROUP2} remounted read-only`);
console.log(`at the end: ${machine()}`);
