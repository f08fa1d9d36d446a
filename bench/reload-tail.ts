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
import { ROOT, SYSTEM_PYTHON, cleanEnv, freePort, machine, median, quantile } from "./lib.ts";

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

interface Result { p50: number; p99: number; max: number; requests: number; failed: number; boots: number[]; done: number; phases: Map<string, number[]> }

/**
 * A probe beside wrk: one request at a time on a fresh connection, every
 * 20 ms, each latency kept with when it was sent, so a reload run's tail can
 * be placed in its phases (wrk's figures cover the whole run).
 */
function prober(port: number) {
  const samples: { at: number; ms: number }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const at = Date.now();
      try {
        await (await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: "close" }, signal: AbortSignal.timeout(5000) })).text();
      } catch {} // counted by its latency: the timeout
      samples.push({ at, ms: Date.now() - at });
      await Bun.sleep(20);
    }
  })();
  return { samples, stop: async () => ((running = false), await loop) };
}

/**
 * The phases of each reload from sup's log: boot (trigger → new connections
 * steered to the new generation), grace (→ reload done), retire (→ the last
 * old worker exited); other servers: 4 s after each trigger. "between" is
 * the rest of the run.
 */
function phasesOf(log: string, triggers: number[]): [string, number, number][] {
  const at = (re: RegExp) => [...log.matchAll(re)].map((m) => ({ t: Date.parse(m[1]!), gen: Number(m[2]) }));
  const started = at(/^(\S+) .*reload gen (\d+) started/gm);
  if (started.length === 0) return triggers.map((t) => ["reload", t, t + 4000]);
  const steer = at(/^(\S+) .*new connections go to gen (\d+)/gm);
  const done = at(/^(\S+) .*reload gen (\d+) done/gm);
  const exited = at(/^(\S+) .*gen (\d+) exited/gm);
  const out: [string, number, number][] = [];
  for (const t of triggers) {
    const gen = started.find((s) => s.t >= t - 50)?.gen;
    const s = steer.find((x) => x.gen === gen)?.t ?? done.find((x) => x.gen === gen)?.t ?? t + 15_000;
    const d = done.find((x) => x.gen === gen)?.t ?? s;
    const g = Math.max(d, ...exited.filter((x) => x.gen === gen! - 1).map((x) => x.t));
    out.push(["boot", t, s], ["grace", s, d], ["retire", d, g + 1]);
  }
  return out;
}

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
    const probe = prober(port);
    const triggers: number[] = [];
    if (reloads) {
      for (const at of [3, 7, 11]) {
        await Bun.sleep(start + at * 1000 - Date.now());
        triggers.push(Date.now());
        server.trigger();
      }
    }
    const out = await new Response(wrk.stdout).text();
    const end = Date.now();
    await probe.stop();
    const windows = phasesOf(server.log(), triggers);
    const phases = new Map<string, number[]>();
    for (const x of probe.samples) {
      if (x.at < start + 1000 || x.at > end - 500) continue;
      const name = windows.find(([, a, b]) => x.at >= a && x.at < b)?.[0] ?? "between";
      phases.set(name, [...(phases.get(name) ?? []), x.ms]);
    }
    const r = JSON.parse(out.split("\n").find((l) => l.startsWith("RESULT "))!.slice(7));
    const e = r.errors;
    // sup's own figure for each new worker: spawn → ready.
    const boots = [...server.log().matchAll(/gen [2-9]\d* ready \(\w+\) in ([\d.]+)s/g)].map((m) => Number(m[1]) * 1000);
    const done = [...server.log().matchAll(/^(\S+) .*reload gen \d+ done/gm)].filter((m) => Date.parse(m[1]!) < end).length;
    return { p50: r.latencyUs.p50 / 1000, p99: r.latencyUs.p99 / 1000, max: r.latencyUs.max / 1000, requests: r.requests, failed: e.connect + e.read + e.write + e.status + e.timeout, boots, done, phases };
  } finally {
    await server.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (!Bun.which("wrk")) throw new Error("needs wrk (apt-get install wrk)");
console.log(`# bun bench/reload-tail.ts --variants ${opt.variants} --pairs ${opt.pairs} --duration ${DURATION}${FLAGS.length ? ` --flags "${FLAGS.join(" ")}"` : ""}   (python ${SYSTEM_PYTHON})`);
console.log(`# ${machine()}`);
const rows: string[] = [];
const probes: string[] = [];
for (const variant of opt.variants!.split(",")) {
  if (!VARIANTS[variant]) throw new Error(`unknown variant ${variant}: ${Object.keys(VARIANTS).join(", ")}`);
  const ratios: number[] = [];
  const cells: string[] = [];
  const boots: number[] = [];
  const phases = new Map<string, number[]>();
  let failed = 0;
  let done = 0;
  for (let i = 0; i < Number(opt.pairs); i++) {
    const order = i % 2 ? [true, false] : [false, true];
    const [a, b] = [await run(variant, order[0]!), await run(variant, order[1]!)];
    const [steady, reload] = order[0] ? [b, a] : [a, b];
    ratios.push(reload.p99 / steady.p99);
    boots.push(...reload.boots);
    done += reload.done;
    for (const [k, v] of reload.phases) phases.set(k, [...(phases.get(k) ?? []), ...v]);
    phases.set("steady run", [...(phases.get("steady run") ?? []), ...[...steady.phases.values()].flat()]);
    failed += steady.failed + reload.failed;
    cells.push(`${steady.p99.toFixed(1)}→${reload.p99.toFixed(1)}`);
    console.error(`${variant} pair ${i + 1}: steady p50 ${steady.p50.toFixed(1)} p99 ${steady.p99.toFixed(1)} max ${steady.max.toFixed(0)} (${steady.requests} req); reloads p50 ${reload.p50.toFixed(1)} p99 ${reload.p99.toFixed(1)} max ${reload.max.toFixed(0)} (${reload.requests} req); ${(reload.p99 / steady.p99).toFixed(2)}x${reload.boots.length ? `; boots ${median(reload.boots).toFixed(0)} ms median` : ""}`);
  }
  const p99s = ["steady run", "between", "boot", "grace", "retire", "reload"].filter((k) => phases.has(k)).map((k) => `${k} ${quantile(phases.get(k)!, 0.99)} (${phases.get(k)!.length})`);
  probes.push(`| ${variant} | ${p99s.join(", ")} |`);
  rows.push(`| ${variant} | ${variant.startsWith("sup") && variant !== "sup-boots" ? `${done}/${3 * Number(opt.pairs)}` : "–"} | ${cells.join(", ")} | ${ratios.map((r) => r.toFixed(2)).join(", ")} | **${median(ratios).toFixed(2)}x** | ${boots.length ? `${median(boots).toFixed(0)} (${Math.min(...boots).toFixed(0)}–${Math.max(...boots).toFixed(0)})` : "–"} | ${failed} |`);
}
console.log(`# ${machine()}\n`);
console.log("| variant | reloads done in the run | p99 steady→reloads, ms, per pair | ratio per pair | median ratio | new worker spawn → ready, ms (median, min–max) | failed |\n|---|---|---|---|---|---|---|");
for (const r of rows) console.log(r);
console.log("\nThe probe (one request at a time, fresh connection, every 20 ms): p99 ms by phase (samples)\n\n| variant | p99 by phase |\n|---|---|");
for (const r of probes) console.log(r);
