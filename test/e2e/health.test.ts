// Workers that stay healthy for months (issue 21), with the real binary: a
// hung worker (watchdog) gets SIGABRT before it goes, a worker whose /health
// fails is replaced after K failures and its siblings are left alone, one
// that grows past --reload-on-rss is replaced, and lifetime recycling under
// a hammering client fails no request and never drops below N ready.
import { expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HEALTH_LINE } from "./doc-examples.ts";
import { GUNICORN, hammer, words } from "./recipes.ts";
import { Master, ROOT, fixture, freePort, freePorts, runSup, tempDir, useCleanup, waitUntil } from "./harness.ts";

useCleanup();

function vital(flags: string[], workers = 2) {
  const dir = tempDir();
  const m = new Master(["-p", String(workers), "--pidfile", join(dir, "sup.pid"), "--ready", "notify", "--reload-grace", "0", "--worker-reload-mercy", "3", ...flags, "--", fixture("vital.py")], { cwd: dir, env: { VITAL_DIR: dir } });
  const allReady = () => waitUntil(() => m.count(/gen 1 ready \(notify\)/g) >= workers, 20_000, `${workers} workers ready`);
  return { dir, m, allReady, set: (name: string, id: number) => writeFileSync(join(dir, `${name}-${id}`), "") };
}

const pidOf = (out: string, id: number) => Number([...out.matchAll(new RegExp(`worker ${id} pid (\\d+) gen 1 ready`, "g"))].at(0)?.[1]);

test("watchdog: a worker that stops sending WATCHDOG=1 is replaced, its successor ready first, and it gets SIGABRT before TERM", async () => {
  const v = vital(["--watchdog", "1"]);
  await v.allReady();
  await Bun.sleep(2500); // both alive past two watchdog periods
  expect(v.m.out).not.toContain("is replaced");
  const hung = pidOf(v.m.out, 2);
  v.set("mute", 2);
  await v.m.waitFor(new RegExp(`worker 2 pid ${hung} gen 1 is replaced \\(watchdog\\): silent for 1\\.\\ds`), 10_000);
  await v.m.waitFor(new RegExp(`worker 2 pid ${hung} gen 1 stopping \\(replaced \\(watchdog\\)\\): SIGABRT first`), 10_000);
  await waitUntil(() => existsSync(join(v.dir, `signals-${hung}`)), 5000, "the hung worker's signal record");
  expect(readFileSync(join(v.dir, `signals-${hung}`), "utf8").split("\n")[0]).toBe("ABRT");
  // Its successor was ready before it was stopped.
  const at = (re: RegExp) => v.m.out.search(re);
  expect(at(/worker 2 pid (?!${hung})\d+ gen 1 ready/)).toBeLessThan(at(new RegExp(`worker 2 pid ${hung} gen 1 stopping`)));
  expect(v.m.out).not.toMatch(/worker 1 pid \d+ gen 1 is replaced/);
});

test("health: a worker whose /health starts failing is replaced after K failures, not before; its siblings are left alone", async () => {
  const base = await freePorts(8);
  const v = vital(["--port-base", String(base), "--health", "http://127.0.0.1:{port}/health", "--health-interval", "0.3", "--health-failures", "3"], 3);
  await v.allReady();
  const siblings = [pidOf(v.m.out, 1), pidOf(v.m.out, 3)];
  const sick = pidOf(v.m.out, 2);
  v.set("sick", 2);
  await v.m.waitFor(new RegExp(`worker 2 pid ${sick} gen 1 is replaced \\(health\\): 3 health checks failed in a row, last: http://127\\.0\\.0\\.1:\\d+/health answered 500`), 10_000);
  const failures = v.m.count(new RegExp(`worker 2 pid ${sick} gen 1 health check failed`, "g"));
  expect(failures).toBe(3);
  expect(v.m.out).toContain(`worker 2 pid ${sick} gen 1 health check failed (2 of 3 in a row)`);
  await v.m.waitFor(new RegExp(`worker 2 pid ${sick} gen 1 exited`), 10_000);
  for (const p of siblings) expect(v.m.out).not.toMatch(new RegExp(`pid ${p} gen 1 (is replaced|stopping|exited)`));
});

test("reload-on-rss: a worker whose process group grows past the limit is replaced", async () => {
  const v = vital(["--reload-on-rss", "120", "--check-interval", "0.3"]);
  await v.allReady();
  const fat = pidOf(v.m.out, 1);
  v.set("grow", 1);
  await v.m.waitFor(new RegExp(`worker 1 pid ${fat} gen 1 is replaced \\(rss\\): its process group uses \\d+ MB resident, over --reload-on-rss 120 MB`), 15_000);
  const r = await runSup(["status", "--json", "--pidfile", join(v.dir, "sup.pid")]);
  const report = JSON.parse(r.stdout) as { workers: { id: number; replaced?: Record<string, number> }[] };
  expect(report.workers.find((w) => w.id === 1)!.replaced).toEqual({ rss: 1 });
});

/**
 * Lifetime recycling of 4 workers under a hammering client, by the line
 * docs/health.md shows (its port made a free one; another command when
 * given): no request fails, and sup status never shows fewer than 4 ready.
 */
async function recycles(command: string[] | undefined, seconds: number) {
  const dir = tempDir();
  const port = await freePort();
  const pidfile = join(dir, "sup.pid");
  const line = words(HEALTH_LINE.replace("8000", String(port))).slice(1);
  const flags = line.slice(0, line.indexOf("--"));
  const argv = command ?? line.slice(line.indexOf("--") + 1).map((w) => (w === "python3" ? "/usr/bin/python3" : w.startsWith("examples/") ? join(ROOT, w) : w));
  const m = new Master([...flags, "--reload-grace", "0.5", "--pidfile", pidfile, "--", ...argv], { cwd: dir });
  await waitUntil(() => m.count(/ready \(notify\)/g) >= 4, 30_000, "4 workers ready");
  const load = hammer(port);
  let lowest = 4;
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    const r = await runSup(["status", "--json", "--pidfile", pidfile]);
    const s = JSON.parse(r.stdout) as { workers: { state: string; generation: number }[] };
    lowest = Math.min(lowest, s.workers.filter((w) => w.state === "ready").length);
    await Bun.sleep(200);
  }
  await load.stop();
  expect(load.failures).toEqual([]);
  expect(m.count(/is replaced \(lifetime\)/g)).toBeGreaterThanOrEqual(4);
  expect(lowest).toBeGreaterThanOrEqual(4);
  expect(load.answers.length).toBeGreaterThan(50);
}

test("docs/health.md's line: lifetime recycling of 4 workers (examples/hello.py) under a hammering client: 0 failed requests, never fewer than 4 ready", async () => {
  await recycles(undefined, 30);
}, 80_000);

test("the same with gunicorn (the Flask app) as the worker command", async () => {
  const app = tempDir();
  const { cpSync } = await import("node:fs");
  cpSync(join(ROOT, "test/fixtures/apps/flask"), app, { recursive: true });
  await recycles([GUNICORN, "--preload", "--chdir", app, "app:app"], 30);
}, 80_000);

/** A fresh copy of a fixture app, and a free port. */
async function appCopy(name: string) {
  const { cpSync } = await import("node:fs");
  const dir = tempDir();
  cpSync(join(ROOT, "test/fixtures/apps", name), dir, { recursive: true });
  return { dir, port: await freePort() };
}

test("--ready http:/ reaches the new worker's own socket: a Django app that boots and then answers 500 is never ready, and its reload rolls back", async () => {
  const app = await appCopy("django");
  const m = new Master(["-p", "2", "--listen", `127.0.0.1:${app.port}`, "--ready", "http:/", "--ready-timeout", "8", "--reload-grace", "0", "--", GUNICORN, "--preload", "proj.wsgi"], { cwd: app.dir });
  await waitUntil(() => m.count(/ready \(http:\/\/127\.0\.0\.1:\d+\/\)/g) >= 2, 30_000, () => `2 workers ready by their own socket:\n${m.out}`);
  // Each was probed through its own socket, never the shared --listen port.
  const probed = [...m.out.matchAll(/ready \(http:\/\/127\.0\.0\.1:(\d+)\/\)/g)].map((x) => Number(x[1]));
  expect(new Set(probed).size).toBe(2);
  expect(probed).not.toContain(app.port);
  // The view raises at request time: the app imports fine, gunicorn says READY=1, and every request is a 500.
  const views = join(app.dir, "proj/views.py");
  writeFileSync(views, readFileSync(views, "utf8").replace("def whoami(request):", "def whoami(request):\n    raise RuntimeError('broken view')"));
  m.signal("SIGHUP");
  await m.waitFor(/reload gen 2 rolled back: .*not ready within 8s/, 30_000);
  const res = await fetch(`http://127.0.0.1:${app.port}/`, { headers: { connection: "close" } });
  expect(res.status).toBe(200); // generation 1 serves
  expect(await res.text()).toContain("gen=1");
}, 60_000);

test("--health http:/PATH probes each gunicorn through its own socket: the sick one is replaced, its sibling never", async () => {
  const app = await appCopy("flask");
  // A /health that fails in the gunicorn of sup worker 2 once the file sick-2 exists.
  writeFileSync(join(app.dir, "app.py"), readFileSync(join(app.dir, "app.py"), "utf8") + `

@app.route("/health")
def health():
    sick = os.path.exists(os.path.join(${JSON.stringify(app.dir)}, "sick-" + os.environ.get("SUP_WORKER_ID", "?")))
    return ("sick\\n", 500) if sick else ("ok\\n", 200)
`);
  const m = new Master(["-p", "2", "--listen", `127.0.0.1:${app.port}`, "--ready", "notify", "--health", "http:/health", "--health-interval", "0.3", "--", GUNICORN, "--preload", "app:app"], { cwd: app.dir });
  await waitUntil(() => m.count(/ready \(notify\)/g) >= 2, 30_000, "2 workers ready");
  await Bun.sleep(1500); // several probes of each, all healthy
  expect(m.out).not.toContain("health check failed");
  writeFileSync(join(app.dir, "sick-2"), "");
  await m.waitFor(/worker 2 pid \d+ gen 1 is replaced \(health\): 3 health checks failed in a row, last: http:\/\/127\.0\.0\.1:\d+\/health answered 500/, 15_000);
  expect(m.out).not.toMatch(/worker 1 pid \d+ gen 1 (health check failed|is replaced)/);
}, 40_000);
