// The stats server (--stats ADDR, uWSGI's name): /metrics for Prometheus,
// /healthz and /readyz for Kubernetes probes, /status for people and
// scripts. Like every source it only pushes events: each request asks the
// loop ("stats" or "status" event) and is answered from the loop's reply, so
// /healthz proves the loop is turning (a stuck loop fails it) and nothing
// here reads or changes the master's state itself. Worker RSS and CPU come
// from /proc through a cache read at most every USAGE_TTL_MS, and /status (the
// JSON of `sup status --json`, which reads every group's PSS) at most once
// a second too, so a scraper every 100 ms costs little (BENCHMARKS.md).
import type { StatusReport } from "../control/status.ts";
import type { Queue } from "../core/queue.ts";
import { rmSync } from "node:fs";
import { bindListen } from "../net/listen.ts";
import { ANSWER_TIMEOUT_S, serveHttp, type Response } from "../net/http-server.ts";
import { OPENMETRICS_TYPE, TEXT_TYPE, renderMetrics, wantsOpenMetrics } from "../output/prometheus.ts";
import { Usage, selfUsage } from "../processes/usage.ts";
import type { Event } from "../supervisor/events.ts";
import type { StatsAnswer } from "../supervisor/metrics.ts";

export interface StatsOptions {
  queue: Queue<Event>;
  version: string;
  /** Log lines lost so far, by stream. */
  dropped: () => Record<string, number>;
  /** The master's start, seconds since the epoch. */
  startTime: number;
}

const INDEX = "sup stats: /metrics (Prometheus), /healthz (the master loop answers), /readyz (traffic may come), /status (sup status --json)\n";
const STATUS_TTL_MS = 1000;
/**
 * Worker RSS and CPU are at most this old: reading 64 workers' groups cost
 * 4.5-14 ms of CPU on the loaded build machine, 1 % of a core if done every
 * second; Prometheus scrapes every 15-60 s by default.
 */
const USAGE_TTL_MS = 5000;

/** uWSGI's stats takes a bare path for a unix socket ("/tmp/stats.sock"); sup's form is unix:/PATH. */
export function statsAddress(addr: string): string {
  return addr.startsWith("/") || addr.startsWith("./") ? `unix:${addr}` : addr;
}

/** Binds ADDR (ConfigError naming `stats` when it cannot: exit 2 at start) and serves. */
export function startStats(addr: string, o: StatsOptions): { close(): void; readonly rejected: number } {
  const [sock] = bindListen([statsAddress(addr)], { backlog: 1024, mode: "", option: "stats" });
  const usage = new Usage(USAGE_TTL_MS);
  let status: { at: number; json: string } | undefined;
  let waiting: ((json: string) => void)[] = [];

  const ask = (full: boolean, then: (a: StatsAnswer) => void) => o.queue.push({ type: "stats", full, reply: then });

  const metrics = (a: StatsAnswer, om: boolean): Response => {
    const report = a.report!;
    const body = renderMetrics({
      version: o.version,
      ready: a.serving.ready,
      draining: !!a.draining,
      report,
      metrics: a.metrics!,
      usage: usage.of(report.workers.map((w) => w.pid)),
      self: { ...selfUsage(), startTime: o.startTime },
      dropped: o.dropped(),
    }, om);
    return { status: 200, body, type: om ? OPENMETRICS_TYPE : TEXT_TYPE };
  };

  /** One status report a second at most: requests in between share it. */
  const statusJson = (then: (json: string) => void) => {
    if (status && performance.now() - status.at < STATUS_TTL_MS) return then(status.json);
    waiting.push(then);
    if (waiting.length > 1) return;
    o.queue.push({
      type: "status",
      reply: (r: StatusReport) => {
        status = { at: performance.now(), json: JSON.stringify(r, null, 2) + "\n" };
        const w = waiting;
        waiting = [];
        for (const f of w) f(status.json);
      },
    });
  };

  const server = serveHttp(sock!.fd, (req, respond) => {
    switch (req.path) {
      case "/healthz":
        return ask(false, () => respond({ status: 200, body: "ok\n" }));
      case "/readyz":
        return ask(false, (a) => respond({ status: a.serving.ready ? 200 : 503, body: `${a.serving.ready ? "ready" : "not ready"}: ${a.serving.why}\n` }));
      case "/metrics":
        return ask(true, (a) => respond(metrics(a, wantsOpenMetrics(req.headers.get("accept")))));
      case "/status":
        return statusJson((json) => respond({ status: 200, body: json, type: "application/json" }));
      case "/":
        return respond({ status: 200, body: INDEX });
      default:
        return respond({ status: 404, body: `no ${req.path.slice(0, 100)} here; ${INDEX}` });
    }
  }, () => ({ status: 503, body: `the master loop did not answer within ${ANSWER_TIMEOUT_S}s\n` }));

  return {
    close() {
      server.close(); // Bun closes the fd it listened on
      if (sock!.path) rmSync(sock!.path, { force: true });
    },
    get rejected() {
      return server.rejected;
    },
  };
}
