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
