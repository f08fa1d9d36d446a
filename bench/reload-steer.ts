// Edit → every new request answered by new code (issue 18 item 7). Clients
// send requests in a closed loop, each on a fresh connection, while each
// trial edits a file that `--autoreload 1` watches; the master's log (ms
// timestamps) says when the first worker of the new generation was ready.
// Per trial:
//   ready   edit → the new generation ready: its last worker's `ready` line
//           (sup steers once the new generation has as many ready workers
//           as the old one, and a test connection was accepted)
//   all-new edit → the moment from which every request sent was answered by
//           the new generation (target: ready + 20 ms, not + the grace)
//   old     requests sent after that `ready` line + 20 ms and answered by
//           the old generation (target 0)
// Several builds are run in turns (paired: A B A B …), each trial in a fresh
// master, so a noisy moment of the machine hits both.
//
//   bun build.ts && bun bench/reload-steer.ts --sup dist/sup,/path/to/main/dist/sup [--trials 10] [--processes 4] [--clients 4] [--grace 3]
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ROOT, SYSTEM_PYTHON, cleanEnv, freePort, machine, median, quantile } from "./lib.ts";

const { values: opt } = parseArgs({
  options: {
    sup: { type: "string", default: join(ROOT, "dist/sup") },
    trials: { type: "string", default: "10" },
    processes: { type: "string", default: "4" },
    clients: { type: "string", default: "4" },
    grace: { type: "string", default: "3" },
  },
});

interface Answer { sent: number; gen: number }
interface Trial { first: number; ready: number; allNew: number; old: number; requests: number }

/** Closed-loop clients, each request on a fresh connection; every answer kept with when it was sent. */
function clients(port: number, n: number) {
  const answers: Answer[] = [];
  let running = true;
  const loops = Array.from({ length: n }, async () => {
    while (running) {
      const sent = Date.now();
      try {
        const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: "close" }, signal: AbortSignal.timeout(5000) });
        answers.push({ sent, gen: Number(/generation (\d+)/.exec(await res.text())?.[1] ?? -1) });
      } catch {
        answers.push({ sent, gen: -1 });
      }
    }
  });
  return { answers, stop: async () => ((running = false), await Promise.all(loops)) };
}

const until = async (ok: () => boolean, ms: number, what: () => string) => {
  for (const end = Date.now() + ms; !ok(); await Bun.sleep(5)) if (Date.now() > end) throw new Error(`timeout: ${what()}`);
};

async function trial(sup: string): Promise<Trial> {
  const dir = mkdtempSync(join(tmpdir(), "sup-steer-bench-"));
  writeFileSync(join(dir, "app.py"), "v = 1\n");
  const port = await freePort();
  const argv = [sup, "-p", opt.processes!, "--listen", `127.0.0.1:${port}`, "--ready", "notify", "--reload-grace", opt.grace!, "--autoreload", "1",
    "--worker-reload-mercy", "3", "--", SYSTEM_PYTHON, join(ROOT, "examples/hello.py")];
  const p = Bun.spawn(argv, { cwd: dir, env: cleanEnv(), stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  void (async () => {
    for await (const c of p.stderr as ReadableStream<Uint8Array>) log += new TextDecoder().decode(c);
  })();
  const at = (re: RegExp) => Date.parse(re.exec(log)?.[1] ?? "");
  const load = clients(port, Number(opt.clients));
  try {
    await until(() => (log.match(/gen 1 ready/g) ?? []).length >= Number(opt.processes), 20_000, () => log);
    await Bun.sleep(1000 + Math.random() * 200);
    const edit = Date.now();
    writeFileSync(join(dir, "app.py"), "v = 2\n");
    await until(() => /reload gen 2 (done|rolled back)/.test(log), 30_000, () => log);
    await Bun.sleep(300);
    const first = at(/^(\S+) .*gen 2 ready/m);
    const ready = Math.max(...[...log.matchAll(/^(\S+) .*gen 2 ready/gm)].map((m) => Date.parse(m[1]!)));
    const done = at(/^(\S+) .*reload gen 2 done/m);
    const window = load.answers.filter((a) => a.sent >= edit && a.sent < done);
    // The last request in the window not answered by gen 2: every one sent after it was.
    const lastOld = Math.max(edit, ...window.filter((a) => a.gen !== 2).map((a) => a.sent + 1));
    return { first: first - edit, ready: ready - edit, allNew: lastOld - edit, old: window.filter((a) => a.sent > ready + 20 && a.gen !== 2).length, requests: window.length };
  } finally {
    await load.stop();
    p.kill("SIGTERM");
    if ((await Promise.race([p.exited, Bun.sleep(8000).then(() => "late")])) === "late") p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

const sups = opt.sup!.split(",").map((s) => resolve(s));
const results = new Map<string, Trial[]>(sups.map((s) => [s, []]));
console.log(`# bun bench/reload-steer.ts --sup ${sups.join(",")} --trials ${opt.trials} --processes ${opt.processes} --clients ${opt.clients} --grace ${opt.grace}`);
console.log(`# ${machine()}`);
for (let i = 0; i < Number(opt.trials); i++) {
  for (const sup of sups) {
    const t = await trial(sup);
    results.get(sup)!.push(t);
    console.error(`${sup}: first ready ${t.first} ms, all ready ${t.ready} ms, all new ${t.allNew} ms, old after ready+20 ${t.old} of ${t.requests}`);
  }
}
console.log(`# ${machine()}\n`);
console.log("| build | edit → first new ready, ms (median) | → all new ready (median, p90) | → every new request new code (median, p90) | all-new − all-ready (median, max) | old answers after all-ready + 20 ms (per trial) |\n|---|---|---|---|---|---|");
for (const [sup, ts] of results) {
  const col = (f: (t: Trial) => number) => ts.map(f);
  const lag = col((t) => t.allNew - t.ready);
  console.log(`| ${sup.replace(`${ROOT}/`, "")} | ${median(col((t) => t.first))} | ${median(col((t) => t.ready))}, ${quantile(col((t) => t.ready), 0.9)} | ${median(col((t) => t.allNew))}, ${quantile(col((t) => t.allNew), 0.9)} | ${median(lag)}, ${Math.max(...lag)} | ${col((t) => t.old).join(" ")} |`);
}
