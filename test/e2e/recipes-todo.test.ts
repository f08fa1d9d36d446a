// Issue 11 behaviour that sup does not have yet, written against the
// interface the issue suggests. Each is test.todo: `bun test` lists it,
// `bun test --todo test/e2e/recipes-todo.test.ts` runs it (a todo that
// passes is reported, so move it out of .todo then). The flag names below are
// guesses; change them here, in one place, to what lands.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Master, alive, fixture, freePorts, freePort, runSup, tempDir, useCleanup, waitUntil } from "./harness.ts";
import { NODE, hammer, hit, recipe, runserver, start, type Recipe } from "./recipes.ts";

useCleanup();

/** Item 3: the reload strategy for apps that bind their own port (stop the old worker, then start the new). */
const STOP_FIRST = ["--reload-strategy", "stop-first"];
/** Item 2: a new worker that dies this long after saying ready, while the old generation is still there, rolls back. */
const RELOAD_GRACE = ["--reload-grace", "5"];
/** Item 2: how a Node app says READY=1 without native code (the lead's choice): a line on an inherited fd named here. */
const NODE_READY_FD_ENV = "SUP_NOTIFY_FD";

describe("a dev server that binds its own port (issue 11 item 3)", () => {
  test.todo("with the stop-first strategy an edit is served after reload --wait, which exits 0", async () => {
    const { m, dir, port, pidfile } = await runserver(["--ready", "delay:2", ...STOP_FIRST]);
    writeFileSync(join(dir, "proj/marker.py"), 'MARKER = "v2-edited"\n');
    const r = await runSup(["reload", "--wait", "--pidfile", pidfile], { ms: 30_000 });
    expect(r.code).toBe(0);
    await waitUntil(() => hit(port).catch(() => undefined), 10_000, "the new server answering");
    const a = await hit(port);
    expect(a.text).toMatch(/gen=2 marker=v2-edited/);
    expect(m.livePids()).toEqual([a.pid]);
  });

  test.todo("without it, the rollback says the app binds its own port and names the stop-first flag and --listen", async () => {
    const { pidfile } = await runserver(["--ready", "delay:2"]);
    const r = await runSup(["reload", "--wait", "--pidfile", pidfile], { ms: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/binds its own port/);
    expect(r.stderr).toContain(STOP_FIRST[0]!);
    expect(r.stderr).toContain("--listen");
  });
});

describe("readiness that tells the truth (issue 11 item 2)", () => {
  test.todo("--port-base with a tcp probe: a new worker that never listens is not declared ready by the old worker on its port", async () => {
    const base = await freePorts(2);
    const dir = tempDir();
    const pidfile = join(dir, "sup.pid");
    const m = new Master(["-p", "2", "--port-base", String(base), "--ready", "tcp:127.0.0.1:{port}", "--ready-timeout", "3", "--pidfile", pidfile, "--", fixture("app.sh")], { env: { APP_DIR: dir } });
    await waitUntil(() => m.count(/gen 1 ready/g) >= 2, 20_000, () => `2 ready workers:\n${m.out}`);
    const old = m.livePids();
    writeFileSync(join(dir, "hang"), ""); // the new workers never bind
    const r = await runSup(["reload", "--wait", "--pidfile", pidfile], { ms: 30_000 });
    expect(r.code).toBe(1);
    expect(m.out).not.toMatch(/gen 2 ready/);
    for (const p of old) expect(alive(p)).toBe(true);
    expect(old).toContain((await hit(base)).pid);
  });

  test.todo("Django under gunicorn without --preload: a broken settings.py (READY=1, then the boot fails) rolls back within the reload grace", async () => {
    const r: Recipe = { ...recipe("Django under gunicorn"), line: "sup -p 4 --listen 127.0.0.1:8000 --ready notify -- gunicorn proj.wsgi" };
    const app = await start(r, RELOAD_GRACE);
    const load = hammer(app.port, 1);
    let res: Awaited<ReturnType<typeof runSup>>;
    try {
      app.change(r.breaks[0]!); // the syntax error in settings.py
      res = await runSup(["reload", "--wait", "--pidfile", app.pidfile], { ms: 30_000 });
    } finally {
      await load.stop();
    }
    expect(res.code).toBe(1);
    expect(app.m.out).toContain("generation 1 keeps serving");
    expect(load.failures).toEqual([]);
    expect((await hit(app.port)).gen).toBe(1);
  });

  test.todo(`a Node app says READY=1 on $${NODE_READY_FD_ENV} (no native code) and counts as ready (notify); one that never says it is not`, async () => {
    const dir = tempDir();
    const script = join(dir, "server.mjs");
    writeFileSync(
      script,
      `import http from "node:http";
import { existsSync, writeSync } from "node:fs";
const server = http.createServer((q, s) => s.end("pid=" + process.pid + " gen=" + process.env.SUP_GENERATION + "\\n"));
server.listen({ fd: 3 }, () => {
  const fd = Number(process.env.${NODE_READY_FD_ENV});
  if (fd && !existsSync(new URL("never-ready", import.meta.url))) writeSync(fd, "READY=1\\n");
});
process.on("SIGTERM", () => server.close());
`,
    );
    const port = await freePort();
    const pidfile = join(dir, "sup.pid");
    const m = new Master(["-p", "2", "--listen", `127.0.0.1:${port}`, "--ready", "notify", "--ready-timeout", "4", "--pidfile", pidfile, "--", NODE, script], { cwd: dir });
    await waitUntil(() => m.count(/gen 1 ready \(notify\)/g) >= 2, 15_000, () => `2 workers ready (notify):\n${m.out}`);
    writeFileSync(join(dir, "never-ready"), ""); // the next generation never says it
    const r = await runSup(["reload", "--wait", "--pidfile", pidfile], { ms: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("not ready within 4s");
    expect((await hit(port)).gen).toBe(1);
  });
});

describe("autoreload in a Django project (issue 11 item 4)", () => {
  const django = recipe("Django under gunicorn, autoreload");

  test("a log file and SQLite files written inside the tree cause no reload; a source edit does", async () => {
    const app = await start(django);
    await app.m.waitFor(/autoreload: watching/);
    for (const f of ["app.log", "db.sqlite3", "db.sqlite3-journal", "db.sqlite3-wal"]) writeFileSync(join(app.dir, f), "x");
    await Bun.sleep(2500); // a poll every second, then the settle
    expect(app.m.out).not.toMatch(/reload requested/);
    app.change(django.edit);
    await app.m.waitFor(/reload gen 2 done/, 20_000);
  });

  test("with --chdir, the app directory is watched (and named in the log), the start directory is not", async () => {
    const app = await start(django); // to get a prepared app directory and port
    app.m.kill();
    const elsewhere = tempDir();
    const port = await freePort();
    const m = new Master(["-p", "1", "--listen", `127.0.0.1:${port}`, "--ready", "notify", "--py-autoreload", "1", "--chdir", app.dir, "--", "/usr/bin/gunicorn", "--preload", "proj.wsgi"], { cwd: elsewhere });
    await m.waitFor(/gen 1 ready/, 20_000);
    await m.waitFor(new RegExp(`autoreload: watching .*${app.dir.replaceAll("/", "\\/")}`));
    writeFileSync(join(elsewhere, "unrelated.py"), "x = 1\n");
    await Bun.sleep(2500);
    expect(m.out).not.toMatch(/reload requested/);
    app.change(django.edit);
    await m.waitFor(/reload gen 2 done/, 20_000);
    expect((await hit(port)).text).toContain("marker=v2-edited");
  });
});
