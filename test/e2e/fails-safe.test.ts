// A bug in sup's own code (issue 18 item 4): thrown in the loop or in a
// callback, it is logged once with its stack, the workers are stopped
// gracefully, and the master exits 70 (EX_SOFTWARE). The fault is injected
// with SUP_TEST_FAULT, which only the source run honours: the release
// binary ignores it.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { Master, ROOT, alive, fixture, useCleanup, waitUntil } from "./harness.ts";

useCleanup();

const fromSource = (argv: string[]) => [process.execPath, join(ROOT, "src/main.ts"), ...argv.slice(1)];

for (const where of ["loop", "callback"] as const) {
  test(`a fault in the ${where} stops the workers gracefully and exits 70`, async () => {
    const m = new Master(["-p", "2", "--worker-reload-mercy", "5", "--", fixture("sleeper.sh")], { wrap: fromSource, env: { SUP_TEST_FAULT: where } });
    await m.waitFor(/worker 2 pid \d+ gen 1 ready/);
    const pids = m.workerPids();
    m.signal("SIGUSR1"); // the injected fault fires on a status request
    expect(await m.exitCode(10_000)).toBe(70);
    expect(m.out).toContain("this is a bug in sup, please report it");
    expect(m.out).toContain(`injected fault in ${where === "loop" ? "the loop" : "a callback"}`);
    expect(m.out).toMatch(/\n +at /); // the stack
    expect(m.count(/this is a bug in sup/g)).toBe(1);
    // Stopped by the stop signal (graceful), not left behind and not SIGKILLed.
    expect(m.out).toMatch(/worker 1 pid \d+ got TERM/);
    expect(m.out).toMatch(/worker 1 pid \d+ gen 1 exited code 0 \(stop\)/);
    await waitUntil(() => pids.every((p) => !alive(p)), 3000, "every worker gone");
  });
}

test("the release binary ignores SUP_TEST_FAULT", async () => {
  const m = new Master(["--", fixture("sleeper.sh")], { env: { SUP_TEST_FAULT: "loop" } });
  await m.waitFor(/worker 1 pid \d+ gen 1 ready/);
  m.signal("SIGUSR1");
  await m.waitFor(/ID +PID +GEN/);
  m.signal("SIGTERM");
  expect(await m.exitCode()).toBe(0);
  expect(m.out).not.toContain("bug in sup");
});

test("a process limit (ulimit -u) that 16 workers would fill: the master keeps room for its own threads, says why a worker cannot start, retries, and lives (Bun aborted once the workers took the last of it)", async () => {
  const { forNobody, tempDir } = await import("./harness.ts");
  const nobody = forNobody();
  // A uid of its own, so no other test's processes count against the limit.
  const asUid = (argv: string[]) => ["prlimit", "--nproc=12", "setpriv", "--reuid=64917", "--regid=64917", "--clear-groups", ...argv];
  const m = new Master(["-p", "16", "--ready", "delay:0.2", "--", "sleep", "300"], { sup: nobody.sup, wrap: asUid, env: { TMPDIR: tempDir(0o1777) } });
  await m.waitFor(/cannot start: EAGAIN: uid 64917 runs \d+ processes and threads of the 12 its process limit allows \(ulimit -u\); sup keeps 32 free for its own threads/, 15_000);
  await Bun.sleep(3000); // respawns back off; a GC or a new thread of the master's would have aborted it by now
  expect(m.out).not.toContain("Bun has crashed");
  expect(alive(m.pid)).toBe(true);
  m.signal("SIGTERM");
  expect(await m.exitCode()).toBe(0);
}, 30_000);
