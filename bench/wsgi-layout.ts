// Issue 19: which layout a uwsgi.ini drop-in should run. The same Django app
// (test/fixtures/apps/django) served four ways, and the memory of the whole
// process tree (the master and every descendant) once every worker has
// answered requests:
//
//   sup-p      sup -p N -- gunicorn --preload proj.wsgi          (N sup workers, one gunicorn arbiter + 1 worker each)
//   sup-w      sup -p 1 -- gunicorn --preload -w N proj.wsgi     (one sup worker: a gunicorn arbiter with N forked workers)
//   uwsgi      uwsgi --master --processes N --module proj.wsgi   (uWSGI's preforked workers)
//   uwsgi-lazy the same with --lazy-apps                          (each worker imports the app itself)
//
//   bun bench/wsgi-layout.ts [--bin dist/sup] [--workers 4] [--runs 3] [--requests 400]
//
// RSS counts every shared page in every process that maps it; PSS splits a
// shared page between the processes that share it, so the PSS sum is what
// the tree costs the machine; sup's own share (its master and the guard) is
// given apart. Requests go over fresh connections, so each
// worker takes some and touches the pages a request needs. Every process
// tree is stopped by pid (TERM to the master, then SIGKILL to the tree).
import { mkdtempSync, rmSync, cpSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ROOT, alive, childrenOf, cleanEnv, cmdline, freePort, machine, procStatus, spread } from "./lib.ts";

const { values: opt } = parseArgs({
  options: {
    bin: { type: "string", default: join(ROOT, "dist/sup") },
    workers: { type: "string", default: "4" },
    runs: { type: "string", default: "3" },
    requests: { type: "string", default: "400" },
  },
});
const SUP = resolve(opt.bin);
const N = Number(opt.workers);
const REQUESTS = Number(opt.requests);
const GUNICORN = "/usr/bin/gunicorn";

const LAYOUTS: Record<string, (port: number) => string[]> = {
  "sup-p": (port) => [SUP, "-p", String(N), "--listen", `127.0.0.1:${port}`, "--ready", "notify", "--", GUNICORN, "--preload", "proj.wsgi"],
  "sup-w": (port) => [SUP, "-p", "1", "--listen", `127.0.0.1:${port}`, "--ready", "notify", "--", GUNICORN, "--preload", "-w", String(N), "proj.wsgi"],
  uwsgi: (port) => ["uwsgi", "--plugin", "python3", "--http-socket", `127.0.0.1:${port}`, "--master", "--processes", String(N), "--module", "proj.wsgi", "--disable-logging"],
  "uwsgi-lazy": (port) => ["uwsgi", "--plugin", "python3", "--http-socket", `127.0.0.1:${port}`, "--master", "--processes", String(N), "--module", "proj.wsgi", "--lazy-apps", "--disable-logging"],
};

/** The pid and every descendant of it. */
function tree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...childrenOf(out[i]!));
  return out;
}

async function get(port: number): Promise<string | undefined> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/`, { headers: { Connection: "close" } });
    return r.ok ? await r.text() : undefined;
  } catch {
    return undefined;
  }
}

async function measure(name: string): Promise<{ rss: number; pss: number; procs: number; own: number }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "sup-bench-"));
  cpSync(join(ROOT, "test/fixtures/apps/django"), dir, { recursive: true });
  const proc = Bun.spawn(LAYOUTS[name]!(port), { cwd: dir, env: cleanEnv(), stdio: ["ignore", "ignore", "ignore"] });
  try {
    const deadline = Date.now() + 30_000;
    while (!(await get(port))) {
      if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`${name}: not serving after 30 s (exit ${proc.exitCode})`);
      await Bun.sleep(50);
    }
    const pids = new Set<string>();
    for (let i = 0; i < REQUESTS; i++) pids.add((await get(port))?.match(/pid=(\d+)/)?.[1] ?? "");
    await Bun.sleep(1000);
    let rss = 0;
    let pss = 0;
    let own = 0; // sup's master and guard: what sup itself adds
    const all = tree(proc.pid);
    for (const p of all) {
      try {
        const s = procStatus(p);
        rss += s.VmRSS ?? 0;
        pss += s.Pss ?? 0;
        if (cmdline(p)[0] === SUP) own += s.Pss ?? 0;
      } catch {
        // gone between the listing and the reading
      }
    }
    return { rss, pss, procs: all.length, own };
  } finally {
    const all = tree(proc.pid);
    process.kill(proc.pid, "SIGTERM");
    const t = setTimeout(() => all.forEach((p) => alive(p) && process.kill(p, "SIGKILL")), 10_000);
    await proc.exited;
    clearTimeout(t);
    for (const p of all) if (alive(p)) process.kill(p, "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`# wsgi-layout: ${N} workers, ${REQUESTS} requests, ${opt.runs} runs; ${machine()}`);
for (const name of Object.keys(LAYOUTS)) {
  const rss: number[] = [];
  const pss: number[] = [];
  const own: number[] = [];
  let procs = 0;
  for (let r = 0; r < Number(opt.runs); r++) {
    const m = await measure(name);
    rss.push(m.rss);
    pss.push(m.pss);
    own.push(m.own);
    procs = m.procs;
  }
  const sup = name.startsWith("sup") ? `, of it sup's master and guard ${spread(own)}` : "";
  console.log(`${name.padEnd(11)} ${procs} processes  RSS ${spread(rss)} MB  PSS ${spread(pss)} MB${sup}   ${LAYOUTS[name]!(0).map((a) => a.replace(ROOT + "/", "")).join(" ").replace("127.0.0.1:0", "127.0.0.1:PORT")}`);
}
console.log(`# ${machine()}`);
