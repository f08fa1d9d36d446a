// A uWSGI user's uwsgi.ini, unchanged, run by uWSGI and then by sup (issue
// 19): the Django and Flask fixture apps, each served, reloaded on HUP and on
// the touch of a file, by Debian's uwsgi (with its python3 plugin) and by
// `sup --ini uwsgi.ini` (which runs the app under gunicorn). Then what the
// drop-in promises beyond uWSGI: no request fails during a reload, a broken
// import rolls back, workers run as another user; and the errors for what
// it cannot run (uWSGI's own protocol, no server installed).
import { describe, expect, test } from "bun:test";
import { chmodSync, cpSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Master, ROOT, asNobody, forNobody, freePort, isRoot, runSup, tempDir, track, useCleanup, waitUntil } from "./harness.ts";
import { hammer, hit, privateTmp } from "./recipes.ts";

useCleanup();

const TIMEOUT = 120_000;
const APPS = [
  // module = proj.wsgi, Django's usual line: the module proj/wsgi.py, its callable `application`.
  { name: "Django", dir: "test/fixtures/apps/django", module: "proj.wsgi", target: "proj.wsgi:application", marker: "proj/marker.py" },
  { name: "Flask", dir: "test/fixtures/apps/flask", module: "app:app", target: "app:app", marker: "marker.py" },
];

/** A fresh copy of the app with a uwsgi.ini beside it, as a uWSGI user has it. */
async function project(app: (typeof APPS)[number], extra = "") {
  const dir = tempDir(0o755);
  cpSync(join(ROOT, app.dir), dir, { recursive: true });
  const port = await freePort();
  writeFileSync(
    join(dir, "uwsgi.ini"),
    `[uwsgi]
; Debian's uwsgi-core loads Python as a plugin
plugins = python3
master = true
processes = 2
http-socket = 127.0.0.1:${port}
module = ${app.module}
touch-reload = %dreload.txt
vacuum = true
die-on-term = true
harakiri = 30
${extra}`,
  );
  writeFileSync(join(dir, "reload.txt"), "");
  const mark = (v: string) => writeFileSync(join(dir, app.marker), `MARKER = "${v}"\n`);
  // uWSGI's answers carry no generation (no SUP_GENERATION): fetch the text alone.
  const text = async () => await (await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: "close" }, signal: AbortSignal.timeout(10_000) })).text();
  const served = async (v: string) => await waitUntil(async () => (await text().catch(() => ""))?.includes(`marker=${v}`), 30_000, `marker=${v} on port ${port}`);
  return { dir, port, mark, served };
}

describe.each(APPS)("$name: one uwsgi.ini, run by uwsgi --ini and by sup --ini", (app) => {
  test("uWSGI serves it and reloads on HUP and on touch", async () => {
    const p = await project(app);
    const uwsgi = Bun.spawn(["uwsgi", "--ini", "uwsgi.ini"], { cwd: p.dir, stdio: ["ignore", "ignore", "pipe"], detached: true });
    track(uwsgi.pid);
    let log = "";
    void (async () => {
      for await (const c of uwsgi.stderr as ReadableStream<Uint8Array>) log += new TextDecoder().decode(c);
    })();
    try {
      await p.served("v1").catch((e) => Promise.reject(new Error(`${e}\n${log}`)));
      p.mark("v2");
      process.kill(uwsgi.pid, "SIGHUP");
      await p.served("v2");
      p.mark("v3");
      await Bun.sleep(1100); // uWSGI compares the mtime in whole seconds
      writeFileSync(join(p.dir, "reload.txt"), String(Date.now()));
      await p.served("v3");
    } finally {
      process.kill(uwsgi.pid, "SIGTERM");
      await Promise.race([uwsgi.exited, Bun.sleep(10_000)]);
    }
  }, TIMEOUT);

  test("sup serves it with gunicorn, says so, and reloads on HUP and on touch", async () => {
    const p = await project(app);
    const m = new Master(["--ini", "uwsgi.ini"], { cwd: p.dir, env: privateTmp() });
    await m.waitFor(/gen 1 ready/, 30_000);
    // One sup worker; its gunicorn forks the two workers the file asks for.
    expect(m.out).toContain(`uwsgi: runs /usr/bin/gunicorn --preload --workers 2 --timeout 30 ${app.target}: one sup worker whose gunicorn forks 2 workers`);
    expect(m.out).toMatch(/set command = … in the file or give it after --/);
    // harakiri = 30 is gunicorn's --timeout 30 (in the command above), not "not in sup yet".
    expect(m.out).not.toMatch(/harakiri: ignored/);
    await p.served("v1");
    expect((await hit(p.port)).text).toContain(`app=${app.name.toLowerCase()}`);
    p.mark("v2");
    m.signal("SIGHUP");
    await m.waitFor(/reload gen 2 done/, 30_000);
    await p.served("v2");
    p.mark("v3");
    writeFileSync(join(p.dir, "reload.txt"), String(Date.now()));
    await m.waitFor(/reload gen 3 done/, 30_000);
    await p.served("v3");
  }, TIMEOUT);
});

describe("the drop-in keeps sup's promises", () => {
  test("HUP under a hammering client fails no request; a broken import rolls back", async () => {
    const p = await project(APPS[0]!);
    const m = new Master(["--ini", "uwsgi.ini"], { cwd: p.dir, env: privateTmp() });
    await m.waitFor(/gen 1 ready/, 30_000);
    const load = hammer(p.port);
    try {
      p.mark("v2");
      m.signal("SIGHUP");
      await m.waitFor(/reload gen 2 done/, 30_000);
      await waitUntil(() => load.answers.some((a) => a.text.includes("marker=v2")), 20_000, "an answer of generation 2");
    } finally {
      await load.stop();
    }
    expect(load.failures).toEqual([]);
    writeFileSync(join(p.dir, "proj/views.py"), readFileSync(join(p.dir, "proj/views.py"), "utf8") + "import no_such_module\n");
    m.signal("SIGHUP");
    await m.waitFor(/reload gen 3 rolled back/, 30_000);
    expect((await hit(p.port)).text).toContain("marker=v2");
  }, TIMEOUT);

  test("attach-daemon: a program beside the app, restarted when it dies; a HUP reloads the app and leaves the daemon alone", async () => {
    const p = await project(APPS[1]!, `attach-daemon = ${join(ROOT, "test/fixtures/programs/worker.sh")} --queue mail\n`);
    const m = new Master(["--ini", "uwsgi.ini"], { cwd: p.dir, env: privateTmp() });
    await m.waitFor(/worker\.1 g1 \| bg-worker pid \d+ program worker/, 30_000);
    const first = Number((await m.waitFor(/worker worker 1 pid (\d+) gen 1 spawned/))[1]);
    await m.waitFor(/app worker 1 pid \d+ gen 1 ready/, 30_000);
    expect(m.out).toMatch(/master started pid \d+, programs app \(1\), worker \(1\)/);
    p.mark("v2");
    m.signal("SIGHUP");
    await m.waitFor(/reload gen 2 done/, 30_000);
    await p.served("v2");
    expect(m.out).not.toMatch(/worker worker 1 pid \d+ gen 1 stopping/); // the daemon is left alone
    process.kill(first, "SIGKILL");
    await m.waitFor(/worker worker 1 pid \d+ gen 1 exited signal SIGKILL/, 10_000);
    await m.waitFor(/worker worker 1 pid (?!${first})\d+ gen 1 spawned/, 10_000); // the daemon respawned
  }, TIMEOUT);

  test("uid and gid: sockets and files as root, the app's processes as nobody with its groups", async () => {
    if (!isRoot) throw new Error("this test runs as root (it switches the workers to nobody, 65534)");
    const p = await project(APPS[1]!, "uid = nobody\ngid = 65534\nsocket = %dapp.sock\nprotocol = http\nchown-socket = nobody\nchmod-socket = 660\npidfile = %dapp.pid\n");
    for (const f of readdirSync(p.dir)) chmodSync(join(p.dir, f), 0o755);
    const m = new Master(["--ini", "uwsgi.ini"], { cwd: p.dir, env: privateTmp() });
    await m.waitFor(/gen 1 ready/, 30_000);
    await p.served("v1");
    const pid = Number(/pid=(\d+)/.exec((await hit(p.port)).text)![1]);
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    expect(status).toMatch(/^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
    expect(status).toMatch(/^Gid:\s+65534\s+65534\s+65534\s+65534$/m);
    expect(status).toMatch(/^Groups:\s*65534\s*$/m);
    const sock = Bun.spawnSync(["stat", "-c", "%U %a", join(p.dir, "app.sock")]).stdout.toString().trim();
    expect(sock).toBe("nobody 660");
    const pidfile = Bun.spawnSync(["stat", "-c", "%U", join(p.dir, "app.pid")]).stdout.toString().trim();
    expect(pidfile).toBe("root");
  }, TIMEOUT);

  test("uid needs a root master: said at once, exit 2", async () => {
    if (!isRoot) throw new Error("this test runs as root (it checks the file as nobody)");
    const p = await project(APPS[1]!, "uid = root\n");
    for (const f of readdirSync(p.dir)) chmodSync(join(p.dir, f), 0o755);
    const nobody = forNobody();
    const r = await runSup(["check", "--ini", "uwsgi.ini"], { cwd: p.dir, sup: nobody.sup, wrap: asNobody, env: privateTmp() });
    expect(r.stderr).toContain("only a master run as root can run workers as another user or group");
    expect(r.code).toBe(2);
  }, TIMEOUT);
});

describe("what the drop-in cannot run says what to do, exit 2", () => {
  test("socket = (uWSGI's own protocol): the nginx line to change", async () => {
    const p = await project(APPS[1]!, "socket = 127.0.0.1:3031\n");
    const r = await runSup(["--ini", "uwsgi.ini"], { cwd: p.dir, env: privateTmp() });
    expect(r.stderr).toContain("uwsgi.ini:12: socket = 127.0.0.1:3031: uWSGI's binary protocol, which only uWSGI speaks: change nginx's `uwsgi_pass ADDR;`");
    expect(r.stderr).toContain("`proxy_pass http://ADDR;`");
    expect(r.code).toBe(2);
  }, TIMEOUT);

  test("no gunicorn on PATH, or none in the virtualenv: what to install", async () => {
    const p = await project(APPS[1]!);
    const none = await runSup(["--ini", "uwsgi.ini"], { cwd: p.dir, env: { ...privateTmp(), PATH: tempDir() } });
    expect(none.stderr).toContain("uwsgi.ini:7: no WSGI server to run the app");
    expect(none.stderr).toContain("install gunicorn (pip install gunicorn, or apt install gunicorn)");
    expect(none.code).toBe(2);
    writeFileSync(join(p.dir, "uwsgi.ini"), readFileSync(join(p.dir, "uwsgi.ini"), "utf8") + `home = ${p.dir}/venv\n`);
    const venv = await runSup(["--ini", "uwsgi.ini"], { cwd: p.dir, env: privateTmp() });
    expect(venv.stderr).toContain(`which has no gunicorn: install it there (${p.dir}/venv/bin/pip install gunicorn)`);
    expect(venv.code).toBe(2);
  }, TIMEOUT);
});
