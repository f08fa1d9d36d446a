// Several programs in one master (issue 20), run by the real binary from a
// TOML, an INI and a Procfile config, each with three programs: a web app
// (examples/hello.py on a socket sup holds), a background worker and a
// one-shot migration the web app waits for.
import { expect, test } from "bun:test";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hammer, hit } from "./recipes.ts";
import { Master, ROOT, alive, fixture, freePort, freePorts, runSup, tempDir, useCleanup, waitUntil } from "./harness.ts";

useCleanup();

const HELLO = join(ROOT, "examples/hello.py");
const PY = "/usr/bin/python3";

function toml(port: number, extra = "") {
  return `pidfile = "sup.pid"
worker-reload-mercy = 5
reload-grace = 0.5

[programs.migrate]
command = ["${fixture("programs/migrate.sh")}"]
restart = "never"

[programs.web]
command = ["${PY}", "${HELLO}"]
processes = 2
listen = ["127.0.0.1:${port}"]
ready = "notify"
depends-on = { migrate = "completed" }

[programs.worker]
command = ["${fixture("programs/worker.sh")}"]
depends-on = ["web"]
${extra}`;
}

type Status = { programs: { name: string; state: string; generation: number }[]; workers: { program: string; pid: number; generation: number; state: string }[] };
const status = async (dir: string): Promise<Status> => {
  const r = await runSup(["status", "--json", "--pidfile", join(dir, "sup.pid")]);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as Status;
};
const pidsOf = (s: Status, program: string) => s.workers.filter((w) => w.program === program).map((w) => w.pid).sort();

async function startedFrom(file: string, text: string, args: string[] = []) {
  const dir = tempDir();
  writeFileSync(join(dir, file), text);
  const m = new Master(args, { cwd: dir, env: { MARKER: join(dir, "migrated") } });
  return { dir, m };
}

/** examples/ copied, with the examples' port 8000 made a free one; Debian's python3 first on PATH. */
async function examples() {
  const root = tempDir();
  cpSync(join(ROOT, "examples"), root, { recursive: true });
  const port = await freePort();
  for (const f of ["sup.toml", "sup.ini"]) {
    const path = join(root, "programs", f);
    writeFileSync(path, readFileSync(path, "utf8").replaceAll("8000", String(port)));
  }
  return { dir: join(root, "programs"), port, env: { PATH: `/usr/bin:${process.env.PATH}` } };
}

/** The log shows: the migration done, then web started; web ready, then the worker (which saw migrated.txt). */
function expectExampleOrder(out: string) {
  const done = out.search(/worker 1 pid \d+ gen 1 exited code 0 after [\d.]+s: done \(restart = never\)/);
  expect(done).toBeGreaterThan(0);
  expect(done).toBeLessThan(out.search(/program web starts/));
  expect(out).toMatch(/worker up, migrated=yes/);
}

test("examples/programs/sup.toml (cd examples/programs && sup): start order on depends-on; sup reload web under a hammering client fails no request and leaves the worker's pids alone", async () => {
  const { dir, port, env } = await examples();
  const m = new Master([], { cwd: dir, env });
  await m.waitFor(/worker up, migrated=/, 20_000);
  expectExampleOrder(m.out);
  await waitUntil(async () => (await status(dir)).programs.every((p) => ["ready", "completed"].includes(p.state)), 10_000, "every program ready or completed");
  const before = await status(dir);
  expect(before.programs.map((p) => `${p.name}:${p.state}`)).toEqual(["migrate:completed", "web:ready", "worker:ready"]);
  const load = hammer(port);
  await Bun.sleep(300);
  const r = await runSup(["reload", "web", "--wait", "--pidfile", join(dir, "sup.pid")]);
  await Bun.sleep(300);
  await load.stop();
  expect(r.code).toBe(0);
  expect(load.failures).toEqual([]);
  expect(load.answers.some((a) => a.gen === 2)).toBe(true);
  const after = await status(dir);
  expect(pidsOf(after, "worker")).toEqual(pidsOf(before, "worker"));
  expect(after.programs.find((p) => p.name === "web")!.generation).toBe(2);
  expect(after.programs.find((p) => p.name === "migrate")!.state).toBe("completed"); // not run again
  m.signal("SIGTERM");
  expect(await m.exitCode()).toBe(0);
}, 60_000);

test("examples/programs/sup.ini (sup --ini sup.ini): [program:NAME] sections start in order, and sup stop/start/restart act on one program", async () => {
  const { dir, port, env } = await examples();
  const m = new Master(["--ini", "sup.ini"], { cwd: dir, env });
  await m.waitFor(/worker up, migrated=/, 20_000);
  expectExampleOrder(m.out);
  expect((await hit(port)).gen).toBe(1);
  const pidfile = join(dir, "sup.pid");
  const stop = await runSup(["stop", "worker", "--pidfile", pidfile]);
  expect(stop.code).toBe(0);
  await waitUntil(async () => (await status(dir)).programs.find((p) => p.name === "worker")!.state === "stopped" && pidsOf(await status(dir), "worker").length === 0, 10_000, "worker stopped");
  expect((await hit(port)).gen).toBe(1); // web untouched
  expect((await runSup(["start", "worker", "--pidfile", pidfile])).code).toBe(0);
  await waitUntil(async () => pidsOf(await status(dir), "worker").length === 1, 10_000, "worker started again");
  const first = pidsOf(await status(dir), "worker");
  expect((await runSup(["restart", "worker", "--pidfile", pidfile])).code).toBe(0);
  await waitUntil(async () => {
    const now = pidsOf(await status(dir), "worker");
    return now.length === 1 && now[0] !== first[0];
  }, 10_000, "worker restarted with a new pid");
  const bad = await runSup(["restart", "nope", "--pidfile", pidfile]);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain('no program "nope" (programs: migrate, web, worker)');
  m.signal("SIGTERM");
  expect(await m.exitCode()).toBe(0);
}, 60_000);

test("examples/programs/Procfile (sup --procfile Procfile): each line a program of one worker on foreman's PORT; release runs first, to completion; .env is read", async () => {
  const { dir, env } = await examples();
  const base = await freePort();
  writeFileSync(join(dir, ".env"), `# foreman's .env\nexport FROM_DOTENV="yes it is"\n`);
  writeFileSync(join(dir, "worker.py"), readFileSync(join(dir, "worker.py"), "utf8").replace('print("worker up', 'print(os.environ.get("FROM_DOTENV"), flush=True)\nprint("worker up'));
  const m = new Master(["--procfile", "Procfile"], { cwd: dir, env: { ...env, PORT: String(base) } });
  await m.waitFor(/worker up, migrated=yes/, 20_000);
  expectExampleOrder(m.out);
  expect(m.out).toMatch(/worker\.1 g1 \| yes it is/);
  // web is the second process type: PORT = base + 100 (foreman's spacing).
  const answer = await waitUntil(async () => {
    try {
      return await hit(base + 100);
    } catch {
      return undefined;
    }
  }, 10_000, "web on PORT+100");
  expect(answer.gen).toBe(1);
  m.signal("SIGTERM");
  expect(await m.exitCode()).toBe(0);
}, 60_000);

test("on-exit = stop-all: when that program's worker dies, every program stops and the master exits with its code", async () => {
  const port = await freePort();
  const { m } = await startedFrom("sup.toml", toml(port, `\n[programs.sidecar]\ncommand = ["sh", "-c", "sleep 1.5; exit 3"]\non-exit = "stop-all"\n`));
  expect(await m.exitCode(20_000)).toBe(3);
  expect(m.out).toContain("on-exit = stop-all: stopping every program");
  for (const pid of m.workerPids()) expect(alive(pid)).toBe(false);
}, 30_000);

test("HUP applies the edited config: a removed program stops, an added one starts, web (unchanged) keeps its pids", async () => {
  const port = await freePort();
  const { dir, m } = await startedFrom("sup.toml", toml(port));
  await m.waitFor(/bg-worker pid \d+ program worker/, 20_000);
  await waitUntil(async () => (await status(dir)).programs.every((p) => ["ready", "completed"].includes(p.state)), 10_000, "ready");
  const before = await status(dir);
  const edited = toml(port).split("[programs.worker]")[0] + `\n[programs.cron]\ncommand = ["${fixture("programs/worker.sh")}"]\n`;
  writeFileSync(join(dir, "sup.toml"), edited);
  m.signal("SIGHUP");
  await m.waitFor(/program worker removed/, 15_000);
  await waitUntil(async () => pidsOf(await status(dir), "cron").length === 1, 10_000, "cron started");
  const after = await status(dir);
  expect(after.programs.map((p) => p.name)).toEqual(["migrate", "web", "cron"]);
  expect(pidsOf(after, "web")).toEqual(pidsOf(before, "web"));
  for (const pid of pidsOf(before, "worker")) expect(alive(pid)).toBe(false);
  m.signal("SIGTERM");
  expect(await m.exitCode()).toBe(0);
}, 60_000);

test("a cycle in depends-on is a config error naming it (exit 2, nothing started)", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "sup.toml"), `[programs.a]\ncommand = ["true"]\ndepends-on = ["b"]\n\n[programs.b]\ncommand = ["true"]\ndepends-on = ["c"]\n\n[programs.c]\ncommand = ["true"]\ndepends-on = ["a"]\n`);
  for (const args of [["check"], []]) {
    const r = await runSup(args, { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/sup\.toml:\d+: depends-on has a cycle: a → b → c → a/);
    expect(r.stderr).not.toContain("spawned");
  }
});

test("a supervisord.conf as it is (sup -c supervisord.conf): its programs run, numprocs workers each, a one-shot with autorestart=false finishes; what sup leaves out is logged", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "supervisord.conf"), `[supervisord]
nodaemon=true
pidfile=%(here)s/sup.pid

[program:worker]
command=${fixture("programs/worker.sh")} ; the queue consumer
numprocs=2
process_name=%(program_name)s_%(process_num)02d
autorestart=true
stopwaitsecs=5
stdout_logfile=/dev/stdout

[program:once]
command=/bin/echo one-shot done
autorestart=false
`);
  const m = new Master(["-c", "supervisord.conf"], { cwd: dir });
  await waitUntil(() => m.count(/bg-worker pid \d+ program worker/g) >= 2, 20_000, "2 workers of program worker");
  await m.waitFor(/once worker 1 pid \d+ gen 1 exited code 0 after [\d.]+s: done \(restart = never\)/, 10_000);
  expect(m.out).toContain("supervisord: supervisord.conf:8: process_name: sup names each worker by its program and id");
  expect(m.out).toContain("supervisord: supervisord.conf:2: nodaemon: a supervisord setting sup has no use for");
  // startsecs (default 1) is the readiness: ready = delay:1.
  let states: string[] = [];
  await waitUntil(async () => {
    states = (await status(dir)).programs.map((p) => `${p.name}:${p.state}`);
    return states[0] === "worker:ready";
  }, 10_000, "program worker ready after startsecs");
  expect(states).toEqual(["worker:ready", "once:completed"]);
  m.signal("SIGTERM");
  expect(await m.exitCode()).toBe(0);
}, 40_000);

test("supervisord's %(process_num)02d gives each worker its own number (port, socket), as supervisord gives each process; sup reload api stops the old worker before the new one binds (stop-first)", async () => {
  const dir = tempDir();
  const base = await freePorts(2);
  const ports = [base, base + 1];
  // Binds the port its INSTANCE picks (1 or 2, from numprocs_start = 1) and says which name it was given.
  writeFileSync(join(dir, "bind.py"), `import os, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1 + int(os.environ["INSTANCE"])])))
s.listen()
print("bound", s.getsockname()[1], "as", sys.argv[1], os.environ["GREETING"], flush=True)
time.sleep(1000)
`);
  writeFileSync(join(dir, "supervisord.conf"), `[supervisord]
pidfile=%(here)s/sup.pid
environment=GREETING="hi, there"

[program:api]
command=${PY} %(here)s/bind.py api_%(process_num)02d ${ports.join(" ")} # the two ports
numprocs=2
numprocs_start=1
process_name=api_%(process_num)02d
environment=INSTANCE="%(process_num)s"
stopwaitsecs=5
`);
  const m = new Master(["-c", "supervisord.conf"], { cwd: dir });
  for (const [n, port] of [[1, ports[0]], [2, ports[1]]]) await m.waitFor(new RegExp(`api\\.${n} g1 \\| bound ${port} as api_0${n} hi, there`), 15_000);
  expect((await runSup(["reload", "api", "--wait", "--pidfile", join(dir, "sup.pid")])).code).toBe(0);
  for (const [n, port] of [[1, ports[0]], [2, ports[1]]]) await m.waitFor(new RegExp(`api\\.${n} g2 \\| bound ${port} as api_0${n}`), 15_000);
  expect(m.out).not.toContain("Address already in use");
  m.signal("SIGTERM");
  expect(await m.exitCode()).toBe(0);
}, 60_000);

test("supervisord's [group:x]: sup stop|start|restart|reload GROUP acts on its programs (GROUP:* and GROUP:NAME as supervisorctl reads them), never on the others", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "supervisord.conf"), `[supervisord]
pidfile=%(here)s/sup.pid

[group:web]
programs=app,assets

[program:app]
command=/bin/sleep 1000

[program:assets]
command=/bin/sleep 1001

[program:queue]
command=/bin/sleep 1002
`);
  const pidfile = join(dir, "sup.pid");
  const ctl = (...args: string[]) => runSup([...args, "--pidfile", pidfile]);
  const states = async () => Object.fromEntries((await status(dir)).programs.map((p) => [p.name, p.state]));
  const m = new Master(["-c", "supervisord.conf"], { cwd: dir });
  for (const n of ["app", "assets", "queue"]) await m.waitFor(new RegExp(`${n} worker 1 pid \\d+ gen 1 ready`), 10_000);
  const queue = pidsOf(await status(dir), "queue");

  const stop = await ctl("stop", "web");
  expect(stop.code).toBe(0);
  expect(stop.stdout).toContain("program app: stop requested; program assets: stop requested");
  await waitUntil(async () => { const s = await states(); return s.app === "stopped" && s.assets === "stopped"; }, 10_000, "app and assets stopped");
  expect((await states()).queue).toBe("ready");

  expect((await ctl("start", "web:*")).code).toBe(0);
  await waitUntil(async () => pidsOf(await status(dir), "app").length === 1 && pidsOf(await status(dir), "assets").length === 1, 10_000, "the group started again");
  const assets = pidsOf(await status(dir), "assets");
  const app = pidsOf(await status(dir), "app");
  expect((await ctl("restart", "web:app")).code).toBe(0);
  await waitUntil(async () => { const now = pidsOf(await status(dir), "app"); return now.length === 1 && now[0] !== app[0]; }, 10_000, "app restarted");
  expect(pidsOf(await status(dir), "assets")).toEqual(assets);

  const reload = await ctl("reload", "web", "--wait");
  expect(reload.code).toBe(0);
  await waitUntil(async () => { const now = pidsOf(await status(dir), "assets"); return now.length === 1 && now[0] !== assets[0]; }, 10_000, "assets reloaded");
  expect(pidsOf(await status(dir), "queue")).toEqual(queue);

  const bad = await ctl("stop", "web:queue");
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain('no program "web:queue" (programs: app, assets, queue; groups: web)');
  m.signal("SIGTERM");
  expect(await m.exitCode()).toBe(0);
}, 60_000);

test("supervisord's autostart = false: the program stays stopped until sup start NAME; the others run", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "supervisord.conf"), `[supervisord]
pidfile=%(here)s/sup.pid

[program:web]
command=/bin/sleep 1000

[program:import]
command=/bin/echo imported
autostart=false
autorestart=false
`);
  const m = new Master(["-c", "supervisord.conf"], { cwd: dir });
  await m.waitFor(/program import stays stopped \(autostart = false\): sup start import runs it/, 10_000);
  await m.waitFor(/web worker 1 pid \d+ gen 1 ready/, 10_000);
  expect((await status(dir)).programs.map((p) => `${p.name}:${p.state}`)).toEqual(["web:ready", "import:stopped"]);
  expect(m.out).not.toContain("import worker 1");
  expect((await runSup(["start", "import", "--pidfile", join(dir, "sup.pid")])).code).toBe(0);
  await m.waitFor(/import\.1 g1 \| imported/, 10_000);
  await m.waitFor(/import worker 1 pid \d+ gen 1 exited code 0 after [\d.]+s: done \(restart = never\)/, 10_000);
  m.signal("SIGTERM");
  expect(await m.exitCode()).toBe(0);
}, 40_000);

test("supervisord's [fcgi-program:x] (Django Channels' daphne --fd 0 recipe): sup binds the socket, each worker serves it as fd 0 with its own %(process_num); sup reload drops no connection", async () => {
  const dir = tempDir();
  const port = await freePort();
  // daphne --fd 0 in small: serve the socket on fd 0, answer with the name given.
  writeFileSync(join(dir, "fd0.py"), `import os, socket, sys
s = socket.socket(fileno=0)
print("serving", s.getsockname()[1], "as", sys.argv[1], flush=True)
while True:
    c, _ = s.accept()
    c.recv(4096)
    body = "%s pid=%d gen=%s" % (sys.argv[1], os.getpid(), os.environ["SUP_GENERATION"])
    c.sendall(("HTTP/1.0 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n%s" % (len(body), body)).encode())
    c.close()
`);
  writeFileSync(join(dir, "asgi.conf"), `[supervisord]
pidfile=%(here)s/sup.pid

[fcgi-program:asgi]
# TCP socket used by the proxy upstream
socket=tcp://localhost:${port}
directory=%(here)s
command=${PY} fd0.py asgi%(process_num)d
numprocs=2
process_name=asgi%(process_num)d
autorestart=true
redirect_stderr=true
`);
  const m = new Master(["-c", "asgi.conf"], { cwd: dir });
  for (const n of [0, 1]) await m.waitFor(new RegExp(`asgi\\.${n + 1} g1 \\| serving ${port} as asgi${n}`), 15_000);
  const seen = new Set<string>();
  await waitUntil(async () => {
    seen.add((await hit(port)).text.split(" ")[0]!);
    return seen.size === 2;
  }, 10_000, "both workers answer on the one socket");
  const load = hammer(port);
  expect((await runSup(["reload", "--wait", "--pidfile", join(dir, "sup.pid")])).code).toBe(0);
  await load.stop();
  expect(load.failures).toEqual([]);
  expect(load.answers.length).toBeGreaterThan(0);
  m.signal("SIGTERM");
  expect(await m.exitCode()).toBe(0);
}, 60_000);

test("a Procfile's programs get a stdin that stays open (stdin-open), as foreman's share its terminal: a watcher that exits at EOF (esbuild --watch, tailwindcss --watch; cat here) keeps running", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "Procfile"), "web: sleep 100\njs: cat; echo stdin closed\n");
  const m = new Master(["--procfile", "Procfile"], { cwd: dir });
  await m.waitFor(/js worker 1 pid \d+ gen 1 ready/, 10_000);
  await Bun.sleep(500);
  expect(m.out).not.toContain("stdin closed");
  expect(m.out).not.toMatch(/js worker 1 pid \d+ gen 1 exited/);
  m.signal("SIGTERM");
  expect(await m.exitCode()).toBe(0);
}, 30_000);
