// A master runs for months (issue 18 item 1): worker exits, reloads and
// scaling cost no descriptor. Under each readiness mode, a crash loop with a
// short backoff, HUPs, USR2s and TTIN/TTOU make hundreds of worker exits;
// then the master's and the guard's open descriptors (/proc/PID/fd) are
// back to their count before (±2). Before the fix, every worker that ever
// ran under --ready notify kept one socket open in the master.
import { expect, test } from "bun:test";
import { readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Master, fixture, freePorts, runSup, tempDir, useCleanup, waitUntil } from "./harness.ts";

useCleanup();

const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

/** The guard: the master's child running `sup __guard`. */
function guardOf(master: number): number {
  for (const tid of readdirSync(`/proc/${master}/task`)) {
    for (const c of readFileSync(`/proc/${master}/task/${tid}/children`, "utf8").split(" ").filter(Boolean)) {
      if (readFileSync(`/proc/${c}/cmdline`, "utf8").includes("__guard")) return Number(c);
    }
  }
  throw new Error(`no guard among the children of ${master}`);
}

const MODES: [string, (ports: number) => string[]][] = [
  ["delay", () => ["--ready", "delay:0.2"]],
  ["notify", () => ["--ready", "notify"]],
  ["http probe", (base) => ["--port-base", String(base), "--ready", "http://127.0.0.1:{port}/"]],
];

for (const [mode, flags] of MODES) {
  test(`${mode}: 330 worker exits, HUPs, USR2s, TTIN/TTOU leave the master's and the guard's descriptors where they were`, async () => {
    const dir = tempDir();
    const flag = join(dir, "crash");
    const pidfile = join(dir, "sup.pid");
    const base = await freePorts(16);
    const m = new Master(["-p", "4", "--pidfile", pidfile, "--backoff-max", "0.1", "--reload-grace", "0", "--worker-reload-mercy", "2", ...flags(base), "--", fixture("flaky.py")], {
      cwd: dir,
      env: { CRASH_FLAG: flag },
    });
    const allReady = () => waitUntil(async () => {
      const r = await runSup(["status", "--json", "--pidfile", pidfile]);
      if (r.code !== 0) return false;
      const s = JSON.parse(r.stdout) as { master: { target: number; reloading: boolean }; workers: { state: string }[] };
      return !s.master.reloading && s.workers.length === s.master.target && s.workers.every((w) => w.state === "ready");
    }, 20_000, `every worker ready:\n${m.out.slice(-2000)}`);
    await allReady();
    const guard = guardOf(m.pid);
    const before = { master: fds(m.pid), guard: fds(guard) };

    // A crash loop: every worker exits, and each respawn exits at boot.
    const exits = () => m.count(/ exited /g);
    writeFileSync(flag, "");
    await waitUntil(() => exits() >= 300, 120_000, () => `300 exits (have ${exits()})`);
    rmSync(flag);
    await allReady();
    for (let i = 0; i < 4; i++) {
      const r = await runSup(["reload", "--wait", "--pidfile", pidfile]);
      expect(r.code).toBe(0);
    }
    for (let i = 0; i < 2; i++) expect((await runSup(["reload", "--rolling", "--wait", "--pidfile", pidfile])).code).toBe(0);
    for (const sig of ["SIGTTIN", "SIGTTIN", "SIGTTOU", "SIGTTOU", "SIGTTIN", "SIGTTOU"] as const) {
      m.signal(sig);
      await Bun.sleep(150);
    }
    await allReady();
    await waitUntil(() => m.livePids().length === 4, 10_000, "the retired workers' exits in the log");
    // Descriptors of exited workers are closed as their pipes end: give them a moment.
    await waitUntil(() => fds(m.pid) <= before.master + 2, 5_000, () => `master fds back to ${before.master} (now ${fds(m.pid)})`);
    expect(Math.abs(fds(m.pid) - before.master)).toBeLessThanOrEqual(2);
    expect(Math.abs(fds(guard) - before.guard)).toBeLessThanOrEqual(2);
    expect(exits()).toBeGreaterThanOrEqual(320); // three modes: about 1,000 exits
    m.signal("SIGTERM");
    expect(await m.exitCode()).toBe(0);
  }, 200_000);
}
