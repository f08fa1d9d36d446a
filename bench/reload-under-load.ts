// Reloads under load (issue 5, point 7): 4 workers of an example app behind
// `--listen`, ~32 keep-alive clients (wrk) for 15 s, and reloads during the
// run. Reports requests, failed requests, p50/p99 latency and the time from
// each trigger to the new generation ready / the last old worker gone.
//   node_modules/.bin/bun build.ts && node_modules/.bin/bun bench/reload-under-load.ts [--app py|bun|node|django|express|uvicorn|uvicorn-gunicorn]
//   [--runs baseline,hup,rolling,broken] [--ready MODE] [--duration 15] [--connections 32]
// Needs wrk(1) on PATH. Exits 1 when a target is missed (BENCHMARKS.md), and
// then keeps the master logs it names.
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { freePort } from "../test/e2e/harness.ts";

const ROOT = resolve(import.meta.dir, "..");
const { values: opt } = parseArgs({
  options: {
    app: { type: "string", default: "py" },
    runs: { type: "string", default: "baseline,hup,rolling,broken" },
    duration: { type: "string", default: "15" },
    connections: { type: "string", default: "32" },
    processes: { type: "string", default: "4" },
    ready: { type: "string" }, // override the app's --ready
    sup: { type: "string", default: join(ROOT, "dist/sup") },
  },
});
const DURATION = Number(opt.duration);
const PROCESSES = Number(opt.processes);

// The real interpreter, not a version-manager shim (a pyenv shim alone costs ~1 s per boot).
const python = () => Bun.spawnSync(["python3", "-c", "import sys; print(sys.executable)"]).stdout.toString().trim();
const node = () => Bun.which("node") ?? "node";
/**
 * An example runs behind bench/fixtures/app.sh, which exits at boot while a
 * flag file exists; a fixture app (test/fixtures/apps, the README's recipes)
 * runs from a copy, and "broken" appends `broken` to its `file`.
 */
interface App { argv: () => string[]; ready: string; fixture?: { dir: string; file: string; broken: string } }
const APPS: Record<string, App> = {
  py: { argv: () => [python(), join(ROOT, "examples/hello.py")], ready: "notify" },
  bun: { argv: () => [process.execPath, join(ROOT, "examples/hello-bun.ts")], ready: "notify" },
  node: { argv: () => [node(), join(ROOT, "examples/hello-node.mjs")], ready: "notify" }, // READY=1 on $SUP_NOTIFY_FD
  // Debian's gunicorn and Django (test/e2e/recipes.ts: the README's Django recipe).
  django: {
    argv: () => ["/usr/bin/gunicorn", "--preload", "proj.wsgi"],
    ready: "notify",
    fixture: { dir: "test/fixtures/apps/django", file: "proj/settings.py", broken: "\nthis is not ( valid\n" },
  },
  // uvicorn alone, to see what its shutdown does to keep-alive clients (README: uvicorn).
  uvicorn: {
    argv: () => ["/usr/bin/python3", "-m", "uvicorn", "--fd", "3", "app:app"],
    ready: "delay:2",
    fixture: { dir: "test/fixtures/apps/asgi", file: "marker.py", broken: "import no_such_module\n" },
  },
  "uvicorn-gunicorn": {
    argv: () => ["/usr/bin/gunicorn", "--preload", "-k", "uvicorn.workers.UvicornWorker", "app:app"],
    ready: "notify",
    fixture: { dir: "test/fixtures/apps/asgi", file: "marker.py", broken: "import no_such_module\n" },
  },
  express: { argv: () => [node(), "server.mjs"], ready: "notify", fixture: { dir: "test/fixtures/apps/express", file: "marker.mjs", broken: 'import "no-such-package";\n' } },
};
const app = APPS[opt.app!] ?? (() => { throw new Error(`--app must be one of ${Object.keys(APPS).join(", ")}`); })();

/** Where the workers run: the copy of a fixture app, or the repository. */
function prepare(dir: string): string {
  if (!app.fixture) return ROOT;
  const cwd = join(dir, "app");
  cpSync(join(ROOT, app.fixture.dir), cwd, { recursive: true, dereference: true });
  if (existsSync(join(cwd, "server.mjs"))) symlinkSync(join(ROOT, "node_modules"), join(cwd, "node_modules"));
  return cwd;
}

/** Deploys broken code (or the working code back). */
function setBroken(dir: string, cwd: string, broken: boolean) {
  if (!app.fixture) return broken ? writeFileSync(join(dir, "broken"), "") : rmSync(join(dir, "broken"), { force: true });
  const file = join(cwd, app.fixture.file);
  const original = join(dir, "original");
  if (!existsSync(original)) copyFileSync(file, original);
  writeFileSync(file, readFileSync(original, "utf8") + (broken ? app.fixture.broken : ""));
}

interface Trigger { at: number; signal: "SIGHUP" | "SIGUSR2"; broken?: boolean }
const RUNS: Record<string, Trigger[]> = {
  baseline: [],
  hup: [3, 7, 11].map((at) => ({ at, signal: "SIGHUP" })),
  rolling: [3, 7, 11].map((at) => ({ at, signal: "SIGUSR2" })),
  // Two reloads into code that exits at boot (transactional, then rolling), then a fixed one.
  broken: [{ at: 3, signal: "SIGHUP", broken: true }, { at: 7, signal: "SIGUSR2", broken: true }, { at: 11, signal: "SIGHUP" }],
};

interface LogEvent { at: number; event?: string; msg?: string; gen?: number; wpid?: number; reason?: string }
interface Wrk {
  requests: number;
  errors: Record<"connect" | "read" | "write" | "status" | "timeout", number>;
  latencyUs: { p50: number; p90: number; p99: number; max: number };
  served: Record<string, number>; // "epoch second:generation" -> responses
}

async function until<T>(get: () => T | undefined, ms: number): Promise<T | undefined> {
  for (const end = Date.now() + ms; Date.now() < end; await Bun.sleep(50)) {
    const v = get();
    if (v !== undefined) return v;
  }
  return get();
}

function startMaster(dir: string, cwd: string, port: number) {
  const command = app.fixture ? app.argv() : [join(ROOT, "bench/fixtures/app.sh"), join(dir, "broken"), ...app.argv()];
  const argv = [opt.sup!, "-p", String(PROCESSES), "--listen", `127.0.0.1:${port}`, "--ready", opt.ready ?? app.ready, "--pidfile", join(dir, "sup.pid"),
    "--log-format", "json", "--", ...command];
  const proc = Bun.spawn(argv, { cwd, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const events: LogEvent[] = [];
  const raw: string[] = [];
  (async () => {
    let buf = "";
    for await (const chunk of proc.stderr.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        raw.push(line);
        try {
          const e = JSON.parse(line);
          events.push({ ...e, at: Date.parse(e.time) });
        } catch {} // a worker's own line
      }
    }
  })();
  return { proc, events, raw };
}
type Master = ReturnType<typeof startMaster>;

/** SIGTERM, then SIGKILL after 15 s; then any worker group of this master still alive. */
async function stopMaster(m: Master) {
  m.proc.kill("SIGTERM");
  if ((await Promise.race([m.proc.exited, Bun.sleep(15_000).then(() => "late")])) === "late") m.proc.kill("SIGKILL");
  await Promise.race([m.proc.exited, Bun.sleep(2000)]);
  for (const e of m.events) {
    if (e.event !== "worker.spawn" || !e.wpid) continue;
    try {
      if (readFileSync(`/proc/${e.wpid}/environ`, "latin1").includes(`SUP_MASTER_PID=${m.proc.pid}\0`)) process.kill(-e.wpid, "SIGKILL");
    } catch {} // gone: the usual case
  }
}

async function wrk(port: number): Promise<Wrk> {
  const proc = Bun.spawn(["wrk", "-t2", `-c${opt.connections}`, `-d${DURATION}s`, "--timeout", "5s", "-s", join(ROOT, "bench/fixtures/load.lua"), `http://127.0.0.1:${port}/`],
    { stdout: "pipe", stderr: "inherit" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), (DURATION + 20) * 1000);
  const out = await new Response(proc.stdout).text();
  clearTimeout(timer);
  const line = out.split("\n").find((l) => l.startsWith("RESULT "));
  if (!line) throw new Error(`wrk gave no result:\n${out}`);
  return JSON.parse(line.slice(7));
}

const secs = (ms: number) => `${(ms / 1000).toFixed(2)}s`;
const ms = (us: number) => `${(us / 1000).toFixed(1)} ms`;

/** What became of one trigger, from the master's log: the first generation started after it, and that generation's end. */
function outcome(m: Master, t0: number, loadEnd: number) {
  const start = m.events.find((e) => e.event === "reload.start" && e.at >= t0);
  const end = start && m.events.find((e) => (e.event === "reload.done" || e.event === "reload.rollback") && e.gen === start.gen);
  if (!start || !end) return { ok: false, text: "no reload.done or reload.rollback in the log" };
  const queued = m.events.some((e) => e.event === "reload.queued" && e.at >= t0 && e.at < start.at) ? " (queued behind the running reload)" : "";
  const late = end.at > loadEnd ? " (finished after the load ended)" : "";
  if (end.event === "reload.rollback") {
    const [first, stderr] = (end.msg ?? "").split("\n");
    const why = `${first!.replace(/^reload gen \d+ rolled back: /, "")} ${stderr?.trim() ?? ""}`;
    return { ok: true, gen: end.gen, rollbackAt: end.at, text: `gen ${end.gen} rolled back after ${secs(end.at - t0)}${queued}: ${why}` };
  }
  const retired = m.events.filter((e) => e.event === "worker.exit" && e.reason === `replaced by gen ${end.gen}`);
  const gone = retired.length ? Math.max(...retired.map((e) => e.at)) - t0 : NaN;
  return { ok: true, gen: end.gen, text: `gen ${end.gen} ready ${secs(end.at - t0)}, last old worker gone ${secs(gone)}${queued}${late}` };
}

async function run(name: string, triggers: Trigger[]) {
  const dir = mkdtempSync(join(tmpdir(), "sup-bench-"));
  const port = await freePort();
  const cwd = prepare(dir);
  const m = startMaster(dir, cwd, port);
  try {
    const ready = await until(() => (m.events.filter((e) => e.event === "worker.ready").length >= PROCESSES ? true : undefined), 30_000);
    if (!ready) throw new Error(`workers not ready within 30 s:\n${m.raw.slice(-20).join("\n")}`);
    const gen1Pids = m.events.filter((e) => e.event === "worker.ready").map((e) => e.wpid);
    const start = Date.now();
    const load = wrk(port);
    const fired: number[] = [];
    for (const t of triggers) {
      await Bun.sleep(Math.max(0, start + t.at * 1000 - Date.now()));
      setBroken(dir, cwd, !!t.broken);
      fired.push(Date.now());
      m.proc.kill(t.signal);
    }
    const res = await load;
    const loadEnd = Date.now();
    // A reload still running (or queued) when the load ends: wait (bounded) until the last reload event is an end.
    const settled = () => {
      const last = m.events.findLast((e) => e.event?.startsWith("reload."));
      return !last || ((last.event === "reload.done" || last.event === "reload.rollback") && Date.now() - last.at > 300) ? true : undefined;
    };
    await until(settled, 30_000);
    await Bun.sleep(1500); // the old workers' exits
    const outcomes = triggers.map((t, i) => ({ signal: t.signal, broken: !!t.broken, ...outcome(m, fired[i]!, loadEnd) }));
    // Requests that arrive while one reload runs collapse into one queued reload (SIGNALS.md).
    outcomes.forEach((o, i) => i && o.gen !== undefined && o.gen === outcomes[i - 1]!.gen && (o.text = `merged into the previous trigger's gen ${o.gen}`));
    // After each rollback: responses from generation 1 in the following whole seconds, none from the rolled-back one.
    const servedBy = (gen: number, fromSec: number) =>
      Object.entries(res.served).reduce((n, [k, v]) => { const [s, g] = k.split(":").map(Number); return s! > fromSec && g === gen ? n + v : n; }, 0);
    for (const o of outcomes) {
      if (!("rollbackAt" in o)) continue;
      const after = servedBy(1, Math.floor(o.rollbackAt! / 1000));
      const fromBroken = servedBy(o.gen!, 0);
      o.text += `; then gen 1 (pids ${gen1Pids.join(" ")}) served ${after} requests, gen ${o.gen} served ${fromBroken}`;
      o.ok &&= after > 0 && fromBroken === 0;
    }
    console.error(`${name}: master log in ${join(dir, "master.log")}`);
    return { name, res, outcomes, ok: outcomes.every((o) => o.ok) && (!triggers.some((t) => t.broken) || outcomes.filter((o) => "rollbackAt" in o).length === triggers.filter((t) => t.broken).length) };
  } finally {
    await stopMaster(m);
    writeFileSync(join(dir, "master.log"), m.raw.join("\n") + "\n"); // removed below when the run met its targets
    process.once("exit", (code) => code || rmSync(dir, { recursive: true, force: true }));
  }
}

if (!Bun.which("wrk")) {
  console.error("reload-under-load needs wrk (e.g. apt-get install wrk)");
  process.exit(2);
}
if (!existsSync(opt.sup!)) {
  console.error(`${opt.sup} not found: build it first (node_modules/.bin/bun build.ts)`);
  process.exit(2);
}

const results = [];
for (const name of opt.runs!.split(",")) {
  if (!RUNS[name]) throw new Error(`unknown run ${name}; runs: ${Object.keys(RUNS).join(", ")}`);
  console.error(`run ${name}: ${PROCESSES} workers of ${opt.app}, ${opt.connections} connections, ${DURATION}s`);
  results.push(await run(name, RUNS[name]));
}

const base = results.find((r) => r.name === "baseline")?.res.latencyUs.p99;
let missed = 0;
console.log(`\n${PROCESSES} workers of ${opt.app}, wrk -t2 -c${opt.connections} -d${DURATION}s, ${new Date().toISOString()}\n`);
console.log("| run | requests | failed | p50 | p99 | max | p99 / baseline |\n|---|---|---|---|---|---|---|");
for (const r of results) {
  const e = r.res.errors;
  const failed = e.connect + e.read + e.write + e.status + e.timeout;
  const ratio = base ? r.res.latencyUs.p99 / base : NaN;
  const detail = failed ? ` (connect ${e.connect}, read ${e.read}, write ${e.write}, non-2xx ${e.status}, timeout ${e.timeout})` : "";
  console.log(`| ${r.name} | ${r.res.requests} | ${failed}${detail} | ${ms(r.res.latencyUs.p50)} | ${ms(r.res.latencyUs.p99)} | ${ms(r.res.latencyUs.max)} | ${ratio.toFixed(2)}x |`);
  if (failed || ratio > 3 || !r.ok) missed++;
}
for (const r of results) {
  if (!r.outcomes.length) continue;
  console.log(`\n${r.name}:`);
  for (const o of r.outcomes) console.log(`- ${o.signal}${o.broken ? " into broken code" : ""}: ${o.text}${o.ok ? "" : " [MISSED]"}`);
}
console.log(missed ? `\ntargets missed in ${missed} run(s)` : "\nall targets met: 0 failed, p99 within 3x of baseline, rollbacks kept generation 1 serving");
process.exit(missed ? 1 : 0);
