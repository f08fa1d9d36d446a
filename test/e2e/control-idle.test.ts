// The control socket under clients that connect and say nothing (issue 18
// item 5): 100 of them never keep `sup status` out, each is closed within
// about a second, and a client error names its real cause.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { locateControl } from "../../src/control/locate.ts";
import { Master, fixture, runSup, tempDir, useCleanup, waitUntil } from "./harness.ts";

useCleanup();

test("100 idle connections: sup status still answers, and the idle ones are closed within about a second", async () => {
  const dir = tempDir();
  const pidfile = join(dir, "sup.pid");
  const m = new Master(["--pidfile", pidfile, "--", fixture("sleeper.sh")], { cwd: dir });
  await m.waitFor(/ready/);
  const { socket } = locateControl(m.pid, pidfile);
  let closed = 0;
  // One after another, each open before the next: the master holds 32
  // (MAX_CONNECTIONS in src/sources/control.ts) and closes the oldest idle
  // one for each newcomer, so its table is full of idle clients when status asks.
  const idle: Awaited<ReturnType<typeof Bun.connect>>[] = [];
  for (let i = 0; i < 100; i++) idle.push(await Bun.connect({ unix: socket, socket: { data() {}, close() { closed++; } } }));
  try {
    const t0 = Date.now();
    const r = await runSup(["status", "--pidfile", pidfile], { ms: 10_000 });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("ready");
    expect(Date.now() - t0).toBeLessThan(5000);
    await waitUntil(() => closed >= idle.length, 5000, () => `every idle connection closed (${closed} of ${idle.length})`);
  } finally {
    for (const s of idle) s.end();
  }
  m.signal("SIGTERM");
  expect(await m.exitCode()).toBe(0);
}, 30_000);
