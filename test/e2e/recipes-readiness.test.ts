// Readiness that tells the truth (issue 11 item 2), with today's sup: a tcp
// probe under --port-base reaches only the new worker, a new worker that
// dies soon after saying READY=1 rolls the reload back (--reload-grace), and
// a Node worker says READY=1 on a pipe.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Master, alive, fixture, freePort, freePorts, runSup, tempDir, useCleanup, waitUntil } from "./harness.ts";
import { NODE, hammer, hit, privateTmp, recipe, start, type Recipe } from "./recipes.ts";

useCleanup();

/** Longer than gunicorn's failing boot on a loaded machine: this checks the mechanism, not the default of 3 s. */
const RELOAD_GRACE = ["--reload-grace", "10"];

describe("readiness that tells the truth", () => {
  test("--port-base with a tcp probe: a new worker that never listens is not declared ready by the old worker on its port", async () => {
    const base = await freePorts(4); // worker N gets B+2(N-1) or the port after it
    const dir = tempDir();
    const pidfile = join(dir, "sup.pid");
    const m = new Master(["-p", "2", "--port-base", String(base), "--ready", "tcp:127.0.0.1:{port}", "--ready-timeout", "3", "--pidfile", pidfile, "--", fixture("app.sh")], { env: { APP_DIR: dir, ...privateTmp() } });
    await waitUntil(() => m.count(/gen 1 ready/g) >= 2, 20_000, () => `2 ready workers:\n${m.out}`);
    const old = m.livePids();
    writeFileSync(join(dir, "hang"), ""); // the new workers never bind
    const r = await runSup(["reload", "--wait", "--pidfile", pidfile], { ms: 30_000 });
    expect(r.code).toBe(1);
    expect(m.out).not.toMatch(/gen 2 ready/);
    for (const p of old) expect(alive(p)).toBe(true);
    expect(old).toContain((await hit(base)).pid);
  }, 60_000);

  test("Django under gunicorn without --preload: a broken settings.py (READY=1, then the boot fails) rolls back within the reload grace", async () => {
    const r: Recipe = { ...recipe("Django under gunicorn"), line: "sup -p 4 --listen 127.0.0.1:8000 --ready notify -- gunicorn proj.wsgi" };
    const app = await start(r, RELOAD_GRACE);
    const load = hammer(app.port, 1);
    let res: Awaited<ReturnType<typeof runSup>>;
    try {
      // Without --preload, READY=1 comes before gunicorn's worker imported the app: wait for answers.
      await waitUntil(() => load.answers.length >= 3, 15_000, "answers before the change");
      app.change(r.breaks[0]!); // the syntax error in settings.py
      res = await runSup(["reload", "--wait", "--pidfile", app.pidfile], { ms: 30_000 });
    } finally {
      await load.stop();
    }
    expect(res.code).toBe(1);
    await app.m.waitFor(/generation 1 keeps serving/, 5000); // the log can trail the control reply
    expect(load.failures).toEqual([]);
    expect((await hit(app.port)).gen).toBe(1);
  }, 60_000);

  test(`a Node app says READY=1 on $SUP_NOTIFY_FD (no native code) and counts as ready (notify); one that never says it is not`, async () => {
    const dir = tempDir();
    const script = join(dir, "server.mjs");
    writeFileSync(
      script,
      `import http from "node:http";
import { existsSync, writeSync } from "node:fs";
const server = http.createServer((q, s) => s.end("pid=" + process.pid + " gen=" + process.env.SUP_GENERATION + "\\n"));
server.listen({ fd: 3 }, () => {
  const fd = Number(process.env.SUP_NOTIFY_FD);
  if (fd && !existsSync(new URL("never-ready", import.meta.url))) writeSync(fd, "READY=1\\n");
});
process.on("SIGTERM", () => server.close());
`,
    );
    const port = await freePort();
    const pidfile = join(dir, "sup.pid");
    const m = new Master(["-p", "2", "--listen", `127.0.0.1:${port}`, "--ready", "notify", "--ready-timeout", "4", "--pidfile", pidfile, "--", NODE, script], { cwd: dir, env: privateTmp() });
    await waitUntil(() => m.count(/gen 1 ready \(notify\)/g) >= 2, 15_000, () => `2 workers ready (notify):\n${m.out}`);
    writeFileSync(join(dir, "never-ready"), ""); // the next generation never says it
    const r = await runSup(["reload", "--wait", "--pidfile", pidfile], { ms: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("not ready within 4s");
    expect((await hit(port)).gen).toBe(1);
  }, 60_000);
});
