// A real Prometheus (Debian's prometheus package) scrapes sup's --stats
// server every second; after two HUPs, one of them rolled back, its HTTP
// API must show sup's target up and the reload counters by result. The
// exposition also passes `promtool check metrics`, and the OpenMetrics form
// (what Prometheus asks for first) passes prometheus_client's strict parser.
import { expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Master, fixture, freePort, tempDir, track, useCleanup, waitUntil } from "./harness.ts";

useCleanup();

const PROMETHEUS = "/usr/bin/prometheus";
const PROMTOOL = "/usr/bin/promtool";

async function startPrometheus(target: string): Promise<{ url: string; out: () => string }> {
  if (!existsSync(PROMETHEUS)) throw new Error(`${PROMETHEUS} is missing: apt-get install prometheus (.ci/run installs it)`);
  const dir = tempDir();
  const config = join(dir, "prometheus.yml");
  writeFileSync(config, `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: sup\n    static_configs:\n      - targets: ["${target}"]\n`);
  const port = await freePort();
  const p = Bun.spawn([PROMETHEUS, `--config.file=${config}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"], { stdio: ["ignore", "pipe", "pipe"] });
  track(p.pid);
  let out = "";
  void (async () => {
    for await (const c of p.stderr as ReadableStream<Uint8Array>) out += new TextDecoder().decode(c);
  })();
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok, 20_000, () => `prometheus ready:\n${out}`);
  return { url, out: () => out };
}

/** An instant query's result as { "label values": value }. */
async function query(url: string, q: string, by: string[]): Promise<Record<string, number>> {
  const r = (await (await fetch(`${url}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  return Object.fromEntries(r.data.result.map((x) => [by.map((l) => x.metric[l] ?? "").join(","), Number(x.value[1])]));
}

test("Prometheus scrapes sup: up, and the reload counters by result after a HUP and a rolled-back HUP", async () => {
  const dir = tempDir();
  const [app, stats] = [await freePort(), await freePort()];
  const m = new Master(["-p", "2", "--listen", `127.0.0.1:${app}`, "--ready", "delay:0.3", "--reload-grace", "0.3", "--stats", `127.0.0.1:${stats}`, "--", fixture("app.sh")], { env: { APP_DIR: dir } });
  await m.waitFor(/worker 2 pid \d+ gen 1 ready/);
  const prom = await startPrometheus(`127.0.0.1:${stats}`);

  m.signal("SIGHUP");
  await m.waitFor(/reload gen 2 done/, 20_000);
  writeFileSync(join(dir, "broken"), "");
  m.signal("SIGHUP");
  await m.waitFor(/reload gen 3 rolled back/, 20_000);

  // Each query is retried (10-20 s at most): on a loaded machine a scrape can miss its 1 s timeout, and
  // Prometheus then marks the series stale until the next one.
  const eventually = async (q: string, by: string[], want: Record<string, number>, ms = 20_000) => {
    let got: Record<string, number> = {};
    const sorted = (o: Record<string, number>) => JSON.stringify(Object.fromEntries(Object.entries(o).sort()));
    await waitUntil(async () => sorted((got = await query(prom.url, q, by))) === sorted(want), ms, () => `${q} = ${JSON.stringify(want)} in Prometheus; got ${JSON.stringify(got)}; prometheus:\n${prom.out()}`);
  };
  await eventually('sum by (result) (sup_reloads_total{job="sup"})', ["result"], { done: 1, rolled_back: 1 });
  await eventually('up{job="sup"}', ["job"], { sup: 1 });
  // Per program (the implicit one is named after its command) and trigger.
  await eventually('sup_reloads_total{job="sup"}', ["program", "trigger", "result"], { "app.sh,signal,done": 1, "app.sh,signal,rolled_back": 1 });
  await eventually('sup_reload_duration_seconds_count{job="sup"}', ["program"], { "app.sh": 2 });
  await eventually('sup_worker_resident_memory_bytes{job="sup"} > bool 1048576', ["worker", "generation"], { "1,2": 1, "2,2": 1 });
  await eventually('sup_ready{job="sup"}', ["job"], { sup: 1 });
}, 90_000);

test("promtool check metrics finds no problem, and the OpenMetrics form parses strictly", async () => {
  const stats = await freePort();
  const m = new Master(["-p", "2", "--ready", "delay:0.2", "--reload-grace", "0.2", "--stats", `127.0.0.1:${stats}`, "--", fixture("sleeper.sh")]);
  await m.waitFor(/worker 2 pid \d+ gen 1 ready/);
  m.signal("SIGHUP");
  await m.waitFor(/reload gen 2 done/, 20_000);
  const text = await (await fetch(`http://127.0.0.1:${stats}/metrics`)).text();
  expect(text).toContain('sup_reloads_total{program="sleeper.sh",trigger="signal",result="done"} 1');
  expect(existsSync(PROMTOOL)).toBe(true);
  const check = Bun.spawnSync([PROMTOOL, "check", "metrics"], { stdin: new TextEncoder().encode(text) });
  expect({ code: check.exitCode, out: check.stdout.toString() + check.stderr.toString() }).toEqual({ code: 0, out: "" });

  const om = await fetch(`http://127.0.0.1:${stats}/metrics`, { headers: { Accept: "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5" } });
  expect(om.headers.get("content-type")).toStartWith("application/openmetrics-text; version=1.0.0");
  const body = await om.text();
  expect(body.endsWith("# EOF\n")).toBe(true);
  const parse = Bun.spawnSync(["/usr/bin/python3", "-c", "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as p\nprint(len(list(p(sys.stdin.read()))))"], { stdin: new TextEncoder().encode(body) });
  expect({ code: parse.exitCode, err: parse.stderr.toString() }).toEqual({ code: 0, err: "" });
  expect(Number(parse.stdout.toString())).toBeGreaterThan(15);
}, 40_000);
