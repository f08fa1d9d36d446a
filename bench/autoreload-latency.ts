// Edit → new code served, and where the time goes. Each trial writes app.py
// at a random phase of the poll interval and times until a worker of the
// next generation answers over HTTP; the master's log lines (ms timestamps)
// split that into phases. The worker is examples/hello.py on the master's
// socket (--ready notify), started by the real interpreter (a pyenv shim in
// front of it adds ~1 s per boot and would be what this measures).
//
//   bun bench/autoreload-latency.ts [--trials 15] [--sup dist/sup] [--cases events,poll1,poll3] [--app hello|django]
//
// --app django: the README's Django recipe instead (2 workers of Debian's
// gunicorn --preload proj.wsgi from a copy of test/fixtures/apps/django),
// each trial editing proj/marker.py; the app-alone figures are hello.py's.
//
// Phases: detect = edit → "reload requested" (engine + settle); start =
// requested → "spawned"; boot = spawned → "ready" (the exec shim, the app's
// boot, the READY=1 datagram and the master noticing it); switch = ready →
// "reload done"; served = edit → first answer of the new generation. Also
// measured alone, without sup: the app's boot to READY=1 and to its first
// answer, and the exec shim (sup __exec … -- /bin/true).
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { freePort } from "../test/e2e/harness.ts";
import { NotifyServer } from "../src/net/notify.ts";

const ROOT = resolve(import.meta.dir, "..");
const HELLO = join(ROOT, "examples/hello.py");
// The real interpreter, not a version-manager shim (as in bench/reload-under-load.ts).
const PYTHON = Bun.spawnSync(["python3", "-c", "import sys; print(sys.executable)"]).stdout.toString().trim();

/** What runs, where, and which file each trial edits. */
interface App { argv: string[]; flags: string[]; prepare: (dir: string) => void; edit: (dir: string, gen: number) => void }
const APPS: Record<string, App> = {
  hello: {
    argv: [PYTHON, HELLO],
    flags: [],
    prepare: (dir) => writeFileSync(join(dir, "app.py"), "v = 0\n"),
    edit: (dir, gen) => writeFileSync(join(dir, "app.py"), `v = ${gen}\n`),
  },
  django: {
    argv: ["/usr/bin/gunicorn", "--preload", "proj.wsgi"],
    flags: ["-p", "2"],
    prepare: (dir) => cpSync(join(ROOT, "test/fixtures/apps/django"), dir, { recursive: true }),
    edit: (dir, gen) => writeFileSync(join(dir, "proj/marker.py"), `MARKER = "v${gen}"\n`),
  },
};

async function answer(port: number): Promise<number> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: "close" }, signal: AbortSignal.timeout(1000) });
    return Number(/gen(?:eration)?[= ](\d+)/.exec(await res.text())?.[1] ?? 0);
  } catch {
    return 0;
  }
}

const until = async (ok: () => boolean | Promise<boolean>, ms: number, what: () => string) => {
  for (const end = Date.now() + ms; !(await ok()); await Bun.sleep(2)) if (Date.now() > end) throw new Error(`timeout: ${what()}`);
};

type Trial = Record<"detect" | "start" | "boot" | "switch" | "served", number>;

async function run(sup: string, app: App, flags: string[], trials: number, interval: number): Promise<Trial[]> {
  const dir = mkdtempSync(join(tmpdir(), "sup-latency-"));
  app.prepare(dir);
  const port = await freePort();
  const argv = [sup, "--listen", `127.0.0.1:${port}`, "--ready", "notify", "--worker-reload-mercy", "2", ...app.flags, ...flags, "--", ...app.argv];
  const p = Bun.spawn(argv, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  void (async () => {
    for await (const c of p.stderr as ReadableStream<Uint8Array>) log += new TextDecoder().decode(c);
  })();
  const at = (re: RegExp) => {
    const m = re.exec(log);
    return m ? Date.parse(m[1]!) : NaN;
  };
  const out: Trial[] = [];
  try {
    await until(() => /gen 1 ready/.test(log), 20_000, () => `first worker\n${log}`);
    await Bun.sleep(1500);
    for (let gen = 2; gen < trials + 2; gen++) {
      await Bun.sleep(Math.random() * interval * 1000); // a random phase of the poll
      const requestedBefore = [...log.matchAll(/reload requested/g)].length;
      const edit = Date.now();
      app.edit(dir, gen);
      await until(async () => (await answer(port)) >= gen, 20_000, () => `generation ${gen}\n${log}`);
      const served = Date.now() - edit;
      await until(() => log.includes(`reload gen ${gen} done`), 20_000, () => `gen ${gen} done\n${log}`);
      const requested = Date.parse([...log.matchAll(/^(\S+) .*reload requested/gm)][requestedBefore]![1]!);
      const spawned = at(new RegExp(`^(\\S+) .*gen ${gen} spawned`, "m")); // the first worker of the generation
      const ready = at(new RegExp(`^(\\S+) .*gen ${gen} ready`, "m"));
      const done = at(new RegExp(`^(\\S+) .*reload gen ${gen} done`, "m"));
      out.push({ detect: requested - edit, start: spawned - requested, boot: ready - spawned, switch: done - ready, served });
      await Bun.sleep(500);
    }
  } finally {
    p.kill("SIGTERM");
    await Promise.race([p.exited, Bun.sleep(5000)]);
    p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

/** The app without sup: spawn → READY=1, and spawn → first answer (its own port); median ms of n. */
async function appAlone(n: number): Promise<{ ready: number; answer: number }> {
  const dir = mkdtempSync(join(tmpdir(), "sup-latency-app-"));
  const ready: number[] = [], answered: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const sock = NotifyServer.open(join(dir, `n${i}.sock`));
      const port = await freePort();
      const t0 = Date.now();
      const p = Bun.spawn([PYTHON, HELLO], { env: { ...process.env, PORT: String(port), NOTIFY_SOCKET: sock.path, SUP_GENERATION: "1" }, stdio: ["ignore", "ignore", "ignore"] });
      try {
        await until(() => sock.drain().some((m) => m.text.includes("READY=1")), 20_000, () => "READY=1");
        ready.push(Date.now() - t0);
        await until(async () => (await answer(port)) > 0, 20_000, () => "answer");
        answered.push(Date.now() - t0);
      } finally {
        p.kill("SIGKILL");
        sock.close();
        await p.exited;
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { ready: median(ready), answer: median(answered) };
}

async function shimAlone(sup: string, n: number): Promise<{ direct: number; shim: number }> {
  const time = async (argv: string[]) => {
    const xs: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await Bun.spawn(argv, { stdio: ["ignore", "ignore", "ignore"] }).exited;
      xs.push(performance.now() - t0);
    }
    return median(xs);
  };
  return { direct: await time(["/bin/true"]), shim: await time([sup, "__exec", String(process.pid), "--", "/bin/true"]) };
}

const q = (xs: number[], f: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(f * xs.length))]!;
const median = (xs: number[]) => q(xs, 0.5);

const { values } = parseArgs({ options: { trials: { type: "string", default: "15" }, sup: { type: "string", default: join(ROOT, "dist/sup") }, cases: { type: "string", default: "events,poll1" }, app: { type: "string", default: "hello" } } });
const trials = Number(values.trials);
const theApp = APPS[values.app!] ?? (() => { throw new Error(`--app must be one of ${Object.keys(APPS).join(", ")}`); })();
const CASES: Record<string, [string, string[], number]> = {
  events: ["events (--autoreload 1)", ["--autoreload", "1"], 1],
  poll1: ["poll (--py-autoreload 1)", ["--py-autoreload", "1"], 1],
  poll3: ["poll (--py-autoreload 3)", ["--py-autoreload", "3"], 3],
};
console.log(`# bun bench/autoreload-latency.ts --trials ${trials} --cases ${values.cases} --app ${values.app}   (worker: ${[...theApp.flags, "--", ...theApp.argv].join(" ")}, --ready notify; default settle)`);
const app = await appAlone(7);
const shim = await shimAlone(values.sup!, 15);
console.log(`without sup: hello.py spawn → READY=1 ${app.ready} ms, → first answer ${app.answer} ms; exec shim ${(shim.shim - shim.direct).toFixed(1)} ms over a direct spawn (${shim.shim.toFixed(1)} vs ${shim.direct.toFixed(1)} ms for /bin/true)`);
console.log("\n| engine | served: median ms | p90 ms | min | max | detect | start | boot | switch | (phases: medians, ms) |\n|---|---|---|---|---|---|---|---|---|---|");
for (const key of values.cases!.split(",")) {
  const [name, flags, interval] = CASES[key]!;
  const t = await run(values.sup!, theApp, flags, trials, interval);
  const col = (k: keyof Trial) => t.map((x) => x[k]);
  const served = col("served");
  const sup = median(served) - app.answer;
  console.log(
    `| ${name} | ${median(served)} | ${q(served, 0.9)} | ${Math.min(...served)} | ${Math.max(...served)} | ${median(col("detect"))} | ${median(col("start"))} | ${median(col("boot"))} | ${median(col("switch"))} | served − app alone: ${sup} ms |`,
  );
}
