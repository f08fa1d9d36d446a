// Edit-to-new-worker latency of --autoreload: write a file, then time until
// a worker of the next generation answers over HTTP. The worker is
// examples/hello.py on the master's socket (--ready notify), which boots in
// about 0.1 s when started by the real interpreter (a pyenv shim in front of
// it adds ~1 s per boot and would be what this measures). Each trial edits at
// a random phase of the poll interval.
//
//   bun bench/autoreload-latency.ts [--trials 10] [--sup dist/sup] [--app hello|django]
// --app django: the README's Django recipe instead (2 workers of Debian's
// gunicorn --preload proj.wsgi from a copy of test/fixtures/apps/django,
// --py-autoreload 1), each trial editing proj/marker.py.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const ROOT = resolve(import.meta.dir, "..");
// The real interpreter, not a version-manager shim (as in bench/reload-under-load.ts).
const PYTHON = Bun.spawnSync(["python3", "-c", "import sys; print(sys.executable)"]).stdout.toString().trim();

const freePort = () =>
  new Promise<number>((r) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => r(port));
    });
  });

/** What runs, where, and which file each trial edits. */
interface App { argv: string[]; flags: string[]; prepare: (dir: string) => void; edit: (dir: string, gen: number) => void }
const APPS: Record<string, App> = {
  hello: {
    argv: [PYTHON, join(ROOT, "examples/hello.py")],
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

async function generationAnswering(port: number): Promise<number> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: "close" }, signal: AbortSignal.timeout(1000) });
    return Number(/gen(?:eration)?[= ](\d+)/.exec(await res.text())?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Seconds from each edit to a new generation answering, and to the master logging "reload requested". */
async function run(sup: string, app: App, flags: string[], trials: number, interval: number): Promise<{ answer: number[]; detect: number[] }> {
  const dir = mkdtempSync(join(tmpdir(), "sup-latency-"));
  app.prepare(dir);
  const port = await freePort();
  const argv = [sup, "--listen", `127.0.0.1:${port}`, "--ready", "notify", "--worker-reload-mercy", "2", ...app.flags, ...flags, "--", ...app.argv];
  const p = Bun.spawn(argv, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  void (async () => {
    for await (const c of p.stderr as ReadableStream<Uint8Array>) log += new TextDecoder().decode(c);
  })();
  const until = async (ok: () => boolean | Promise<boolean>, ms: number, what: string) => {
    for (const end = Date.now() + ms; !(await ok()); await Bun.sleep(5)) if (Date.now() > end) throw new Error(`timeout: ${what}\n${log}`);
  };
  const answer: number[] = [];
  const detect: number[] = [];
  const requested = () => [...log.matchAll(/^(\S+) .*reload requested/gm)].map((m) => Date.parse(m[1]!));
  try {
    await until(() => /gen 1 ready/.test(log), 10_000, "first worker");
    await Bun.sleep(1500);
    for (let gen = 2; gen < trials + 2; gen++) {
      await Bun.sleep(Math.random() * interval * 1000); // a random phase of the poll
      const before = requested().length;
      const t0 = performance.now();
      const wall = Date.now();
      app.edit(dir, gen);
      await until(async () => (await generationAnswering(port)) >= gen, 15_000, `generation ${gen}`);
      answer.push((performance.now() - t0) / 1000);
      detect.push((requested()[before]! - wall) / 1000);
      await until(() => log.includes(`reload gen ${gen} done`), 15_000, `gen ${gen} done`);
      await Bun.sleep(500);
    }
  } finally {
    p.kill("SIGTERM");
    await Promise.race([p.exited, Bun.sleep(5000)]);
    p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
  return { answer, detect };
}

const { values } = parseArgs({
  options: { trials: { type: "string", default: "10" }, sup: { type: "string", default: join(ROOT, "dist/sup") }, app: { type: "string", default: "hello" } },
});
const trials = Number(values.trials);
const app = APPS[values.app!] ?? (() => { throw new Error(`--app must be one of ${Object.keys(APPS).join(", ")}`); })();
const cases: [string, string[], number][] =
  values.app === "django"
    ? [["--py-autoreload 1 (poll)", ["--py-autoreload", "1"], 1]]
    : [
        ["poll, N=1", ["--autoreload", "1"], 1],
        ["poll, N=3", ["--autoreload", "3"], 3],
        ["events (N=1), settle 0.05", ["--autoreload", "1", "--autoreload-engine", "events"], 1],
        ["poll, N=1, settle 0.05", ["--autoreload", "1", "--autoreload-settle", "0.05"], 1],
      ];
const q = (xs: number[], f: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(f * xs.length))]!;
console.log(`# bun bench/autoreload-latency.ts --trials ${trials} --app ${values.app}   (worker: ${app.flags.join(" ")} -- ${app.argv.join(" ")}, --ready notify; settle: the default, 0.3 s for poll and 0.05 s for events, unless noted)`);
console.log("| engine | edit → new worker answers: median s | p90 s | min s | max s | edit → reload requested: median s | max s |\n|---|---|---|---|---|---|---|");
for (const [name, flags, interval] of cases) {
  const { answer: t, detect: d } = await run(values.sup!, app, flags, trials, interval);
  const f = (x: number) => x.toFixed(3);
  console.log(`| ${name} | ${f(q(t, 0.5))} | ${f(q(t, 0.9))} | ${f(Math.min(...t))} | ${f(Math.max(...t))} | ${f(q(d, 0.5))} | ${f(Math.max(...d))} |`);
}
