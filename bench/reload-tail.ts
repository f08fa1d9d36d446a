// Tail latency of a reload (issue 18 item 7): paired runs of one server
// setup under wrk (-t2 -c32, 15 s), one run steady and one with three
// reloads (at 3, 7 and 11 s), in alternating order, each on a fresh server;
// p99 of the reload run over p99 of its steady twin. Variants:
//   sup          sup -p 4 --listen … --ready notify -- gunicorn --preload app:app (the README's Flask recipe), SIGHUP
//   sup-boots    the same steady master, and at each trigger 4 more `gunicorn --preload app:app` boot on a port
//                nobody uses and live 4 s (a new generation's boot and grace, with no socket handover)
//   gunicorn     gunicorn -w 4 app:app alone, its own SIGHUP (new workers forked, the app imported again)
//   uwsgi        uwsgi --master --processes 4 --lazy-apps, a chain reload (--touch-chain-reload)
// --flags adds sup options to sup and sup-boots (e.g. "--boot-nice 19"); --sup picks the binary.
//
//   bun build.ts && bun bench/reload-tail.ts [--variants sup,gunicorn] [--pairs 3] [--flags "..."] [--duration 15]
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ROOT, SYSTEM_PYTHON, cleanEnv, freePort, machine, median } from "./lib.ts";

const { values: opt } = parseArgs({
  options: {
    variants: { type: "string", default: "sup,sup-boots,gunicorn,uwsgi" },
    pairs: { type: "string", default: "3" },
    duration: { type: "string", default: "15" },
    flags: { type: "string", default: "" },
    sup: { type: "string", default: join(ROOT, "dist/sup") },
  },
});
const DURATION = Number(opt.duration);
const SUP = resolve(opt.sup!);
const FLAGS = opt.flags!.split(" ").filter(Boolean);
const GUNICORN = "/usr/bin/gunicorn";

interface Server { proc: ReturnType<typeof Bun.spawn>; log: () => string; trigger(): void; cleanup(): Promise<void> }

function spawnServer(argv: string[], cwd: string): { proc: ReturnType<typeof Bun.spawn>; log: () => string } {
  const proc = Bun.spawn(argv, { cwd, env: { ...cleanEnv(), PYTHONDONTWRITEBYTECODE: "1" }, stdio: ["ignore", "ignore", "pipe"] });
  let text = "";
  void (async () => {
    for await (const c of proc.stderr as ReadableStream<Uint8Array>) text += new TextDecoder().decode(c);
  })();
  return { proc, log: () => text };
}

async function stop(proc: ReturnType<typeof Bun.spawn>, sig: NodeJS.Signals = "SIGTERM") {
  proc.kill(sig);
  if ((await Promise.race([proc.exited, Bun.sleep(15_000).then(() => "late")])) === "late") proc.kill("SIGKILL");
}

const VARIANTS: Record<string, (dir: string, port: number) => Server> = {
  sup: (dir, port) => {
    const s = spawnServer([SUP, "-p", "4", "--listen", `127.0.0.1:${port}`, "--ready", "notify", ...FLAGS, "--", GUNICORN, "--preload", "app:app"], dir);
    return { ...s, trigger: () => s.proc.kill("SIGHUP"), cleanup: () => stop(s.proc) };
  },
  "sup-boots": (dir, port) => {
    const s = spawnServer([SUP, "-p", "4", "--listen", `127.0.0.1:${port}`, "--ready", "notify", ...FLAGS, "--", GUNICORN, "--preload", "app:app"], dir);
    const extra: ReturnType<typeof Bun.spawn>[] = [];
    return {
      ...s,
      trigger: () => {
        const batch = Array.from({ length: 4 }, () => Bun.spawn([GUNICORN, "--preload", "-b", "127.0.0.1:0", "app:app"], { cwd: dir, stdio: ["ignore", "ignore", "ignore"] }));
        extra.push(...batch);
        setTimeout(() => batch.forEach((p) => p.kill("SIGTERM")), 4000);
      },
      cleanup: async () => {
        for (const p of extra) p.kill("SIGKILL");
        await stop(s.proc);
      },
    };
  },
  gunicorn: (dir, port) => {
    const s = spawnServer([GUNICORN, "-w", "4", "-b", `127.0.0.1:${port}`, "app:app"], dir);
    return { ...s, trigger: () => s.proc.kill("SIGHUP"), cleanup: () => stop(s.proc) };
  },
  uwsgi: (dir, port) => {
    const chain = join(dir, "chain");
    writeFileSync(chain, "");
    const s = spawnServer(["uwsgi", "--master", "--processes", "4", "--http-socket", `127.0.0.1:${port}`, "--plugin", "python3", "--wsgi-file", "app.py",
      "--callable", "app", "--lazy-apps", "--touch-chain-reload", chain, "--die-on-term", "--disable-logging",
      "--add-header", "Connection: close"] /* it closes after each response: say so, or wrk counts a read error */, dir);
    return { ...s, trigger: () => writeFileSync(chain, String(Date.now())), cleanup: () => stop(s.proc, "SIGINT") };
  },
};

interface Result { p50: number; p99: number; max: number; requests: number; failed: number; boots: number[] }

async function answers(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) })).status === 200;
  } catch {
    return false;
  }
}

async function run(variant: string, reloads: boolean): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), "sup-tail-"));
  cpSync(join(ROOT, "test/fixtures/apps/flask"), dir, { recursive: true });
  const port = await freePort();
  const server = VARIANTS[variant]!(dir, port);
  try {
    for (const end = Date.now() + 30_000; !(await answers(port)); await Bun.sleep(100)) if (Date.now() > end) throw new Error(`${variant} not answering:\n${server.log()}`);
    await Bun.sleep(2000); // every worker up
    const wrk = Bun.spawn(["wrk", "-t2", "-c32", `-d${DURATION}s`, "--timeout", "5s", "-s", join(ROOT, "bench/fixtures/load.lua"), `http://127.0.0.1:${port}/`], { stdout: "pipe", stderr: "inherit" });
    const start = Date.now();
    if (reloads) {
      for (const at of [3, 7, 11]) {
        await Bun.sleep(start + at * 1000 - Date.now());
        server.trigger();
      }
    }
    const out = await new Response(wrk.stdout).text();
    const r = JSON.parse(out.split("\n").find((l) => l.startsWith("RESULT "))!.slice(7));
    const e = r.errors;
    // sup's own figure for each new worker: spawn → ready.
    const boots = [...server.log().matchAll(/gen [2-9]\d* ready \(\w+\) in ([\d.]+)s/g)].map((m) => Number(m[1]) * 1000);
    return { p50: r.latencyUs.p50 / 1000, p99: r.latencyUs.p99 / 1000, max: r.latencyUs.max / 1000, requests: r.requests, failed: e.connect + e.read + e.write + e.status + e.timeout, boots };
  } finally {
    await server.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (!Bun.which("wrk")) throw new Error("needs wrk (apt-get install wrk)");
console.log(`# bun bench/reload-tail.ts --variants ${opt.variants} --pairs ${opt.pairs} --duration ${DURATION}${FLAGS.length ? ` --flags "${FLAGS.join(" ")}"` : ""}   (python ${SYSTEM_PYTHON})`);
console.log(`# ${machine()}`);
const rows: string[] = [];
for (const variant of opt.variants!.split(",")) {
  if (!VARIANTS[variant]) throw new Error(`unknown variant ${variant}: ${Object.keys(VARIANTS).join(", ")}`);
  const ratios: number[] = [];
  const cells: string[] = [];
  const boots: number[] = [];
  let failed = 0;
  for (let i = 0; i < Number(opt.pairs); i++) {
    const order = i % 2 ? [true, false] : [false, true];
    const [a, b] = [await run(variant, order[0]!), await run(variant, order[1]!)];
    const [steady, reload] = order[0] ? [b, a] : [a, b];
    ratios.push(reload.p99 / steady.p99);
    boots.push(...reload.boots);
    failed += steady.failed + reload.failed;
    cells.push(`${steady.p99.toFixed(1)}→${reload.p99.toFixed(1)}`);
    console.error(`${variant} pair ${i + 1}: steady p50 ${steady.p50.toFixed(1)} p99 ${steady.p99.toFixed(1)} max ${steady.max.toFixed(0)} (${steady.requests} req); reloads p50 ${reload.p50.toFixed(1)} p99 ${reload.p99.toFixed(1)} max ${reload.max.toFixed(0)} (${reload.requests} req); ${(reload.p99 / steady.p99).toFixed(2)}x${reload.boots.length ? `; boots ${median(reload.boots).toFixed(0)} ms median` : ""}`);
  }
  rows.push(`| ${variant} | ${cells.join(", ")} | ${ratios.map((r) => r.toFixed(2)).join(", ")} | **${median(ratios).toFixed(2)}x** | ${boots.length ? `${median(boots).toFixed(0)} (${Math.min(...boots).toFixed(0)}–${Math.max(...boots).toFixed(0)})` : "–"} | ${failed} |`);
}
console.log(`# ${machine()}\n`);
console.log("| variant | p99 steady→reloads, ms, per pair | ratio per pair | median ratio | new worker spawn → ready, ms (median, min–max) | failed |\n|---|---|---|---|---|---|");
for (const r of rows) console.log(r);
