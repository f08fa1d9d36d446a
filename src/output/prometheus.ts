// /metrics as text: the Prometheus exposition format 0.0.4, or OpenMetrics
// 1.0 when the scraper asks for it (Accept: application/openmetrics-text).
// Names follow Prometheus's conventions (sup_…_total for counters, base
// units, _seconds and _bytes); the master's own process has the standard
// process_* names that client libraries export, so dashboards know them.
// Every series of a worker or a program carries a `program` label.
import type { StatusReport } from "../control/status.ts";
import type { GroupUsage } from "../processes/usage.ts";
import { RELOAD_BUCKETS, type MetricsSnapshot } from "../supervisor/metrics.ts";

export const TEXT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
export const OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8";

export interface MetricsInput {
  version: string;
  ready: boolean;
  draining: boolean;
  report: StatusReport;
  metrics: MetricsSnapshot;
  /** Usage of each worker's group, by its pid (= pgid). */
  usage: Map<number, GroupUsage>;
  self: { fds: number; maxFds: number; rss: number; cpu: number; startTime: number };
  /** Log lines lost, by stream (stdout, stderr, logfile). */
  dropped: Record<string, number>;
}

/** Label pairs, or their text already made (`{a="1"}`), which a family of many samples reuses. */
type Labels = Record<string, string | number> | string;
type Kind = "counter" | "gauge" | "histogram";

const SPECIAL = /[\\"\n]/;
const escape = (v: string | number) => (typeof v === "number" || !SPECIAL.test(v) ? String(v) : v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n"));
export function labelText(l: Labels): string {
  if (typeof l === "string") return l;
  let out = "";
  for (const k in l) out += `${out ? "," : "{"}${k}="${escape(l[k]!)}"`;
  return out ? `${out}}` : "";
}
const num = (v: number) => (Number.isFinite(v) ? String(v) : v > 0 ? "+Inf" : v < 0 ? "-Inf" : "NaN");

class Writer {
  readonly lines: string[] = [];
  constructor(private readonly openmetrics: boolean) {}

  /** A metric family's header; counters are named without _total in OpenMetrics' TYPE line. */
  family(name: string, kind: Kind, help: string) {
    const family = this.openmetrics && kind === "counter" ? name.replace(/_total$/, "") : name;
    this.lines.push(`# HELP ${family} ${help}`, `# TYPE ${family} ${kind}`);
  }

  sample(name: string, labels: Labels, value: number) {
    this.lines.push(`${name}${labelText(labels)} ${num(value)}`);
  }

  /** One family with a sample per entry (nothing at all when there are none, except a lone unlabelled one). */
  metric(name: string, kind: Kind, help: string, samples: [Labels, number][]) {
    if (samples.length === 0) return;
    this.family(name, kind, help);
    for (const [l, v] of samples) this.sample(name, l, v);
  }
}

const split = (key: string) => key.split("\0");

export function renderMetrics(i: MetricsInput, openmetrics: boolean): string {
  const w = new Writer(openmetrics);
  const r = i.report;
  w.metric("sup_build_info", "gauge", "The running sup's version (always 1).", [[{ version: i.version }, 1]]);
  w.metric("sup_master_uptime_seconds", "gauge", "Seconds since the master started.", [[{}, r.master.uptime]]);
  w.metric("sup_ready", "gauge", "1 while /readyz answers 200: every long-running program has a ready worker of its current generation, and the master is not draining or stopping.", [[{}, i.ready ? 1 : 0]]);
  w.metric("sup_draining", "gauge", "1 between TERM and the graceful stop (--shutdown-delay).", [[{}, i.draining ? 1 : 0]]);

  w.metric("sup_program_generation", "gauge", "The generation each program serves (its newest committed one).", r.programs.map((p) => [{ program: p.name }, p.generation]));
  w.metric("sup_program_workers_desired", "gauge", "Workers each program should run (processes, after TTIN/TTOU).", r.programs.map((p) => [{ program: p.name }, p.target]));
  w.metric("sup_program_reloading", "gauge", "1 while a program's reload runs.", r.programs.map((p) => [{ program: p.name }, p.state === "reloading" ? 1 : 0]));

  const byState = new Map<string, number>();
  for (const p of r.programs) for (const s of ["starting", "ready", "stopping"]) byState.set(`${p.name}\0${s}`, 0);
  for (const x of r.workers) {
    const k = `${x.program ?? ""}\0${x.state.replace(/ \(new\)$/, "")}`;
    byState.set(k, (byState.get(k) ?? 0) + 1);
  }
  w.metric("sup_workers", "gauge", "Live workers by program and state.", [...byState].map(([k, n]) => [{ program: split(k)[0]!, state: split(k)[1]! }, n]));
  w.metric("sup_workers_crash_looping", "gauge", "Worker ids in a crash loop now (5 or more exits in a row).", r.programs.map((p) => [{ program: p.name }, r.crashing.filter((c) => (c.program ?? "") === p.name).length]));

  // Restarts are the slot's (they outlive its processes): one series per program and id.
  const restarts = new Map<string, number>();
  for (const x of r.workers) restarts.set(`${x.program ?? ""}\0${x.id}`, Math.max(restarts.get(`${x.program ?? ""}\0${x.id}`) ?? 0, x.restarts));
  w.metric("sup_worker_restarts_total", "counter", "Times each worker id was started again after it exited on its own.", [...restarts].map(([k, n]) => [{ program: split(k)[0]!, worker: split(k)[1]! }, n]));
  w.metric("sup_worker_crashes_total", "counter", "Exits the master did not ask for (and spawns that failed), per worker id.", [...i.metrics.crashes].map(([k, n]) => [{ program: split(k)[0]!, worker: split(k)[1]! }, n]));
  w.metric("sup_worker_crash_loops_total", "counter", "Times a worker id entered a crash loop (its 5th exit in a row).", [...i.metrics.crashLoops].map(([k, n]) => [{ program: split(k)[0]!, worker: split(k)[1]! }, n]));
  w.metric("sup_worker_replacements_total", "counter", "Running workers replaced by the master, by reason (watchdog, health, lifetime, rss; ready-timeout: one never ready outside a reload).", [...i.metrics.replacements].map(([k, n]) => [{ program: split(k)[0]!, reason: split(k)[1]! }, n]));

  // Three families of a sample per worker: each worker's labels made once.
  const live = r.workers.filter((x) => i.usage.has(x.pid)).map((x) => ({ labels: labelText({ program: x.program ?? "", worker: x.id, generation: x.generation }), u: i.usage.get(x.pid)! }));
  w.metric("sup_worker_resident_memory_bytes", "gauge", "Resident memory of each worker's process group (RSS summed over its processes).", live.map((x) => [x.labels, x.u.rss]));
  w.metric("sup_worker_cpu_seconds_total", "counter", "User and system CPU seconds of each worker's process group (its live processes and the children they reaped).", live.map((x) => [x.labels, x.u.cpu]));
  w.metric("sup_worker_processes", "gauge", "Processes in each worker's process group.", live.map((x) => [x.labels, x.u.processes]));

  w.metric("sup_reloads_total", "counter", "Program reloads by what asked (signal, control, touch, autoreload) and how they ended (done, rolled_back, failed, outage, cancelled).", [...i.metrics.reloads].map(([k, n]) => {
    const [program, trigger, result] = split(k);
    return [{ program: program!, trigger: trigger!, result: result! }, n];
  }));
  if (i.metrics.reloadSeconds.size > 0) {
    w.family("sup_reload_duration_seconds", "histogram", "Seconds from a reload's request to its end (done or not), per program.");
    for (const [program, h] of i.metrics.reloadSeconds) {
      RELOAD_BUCKETS.forEach((le, j) => w.sample("sup_reload_duration_seconds_bucket", { program, le: String(le) }, h.counts[j]!));
      w.sample("sup_reload_duration_seconds_bucket", { program, le: "+Inf" }, h.count);
      w.sample("sup_reload_duration_seconds_sum", { program }, h.sum);
      w.sample("sup_reload_duration_seconds_count", { program }, h.count);
    }
  }
  w.metric("sup_log_dropped_lines_total", "counter", "Log and worker output lines lost because the destination was full, slow or failing, by stream (stdout, stderr, logfile).", Object.entries(i.dropped).map(([stream, n]) => [{ stream }, n]));

  w.metric("process_start_time_seconds", "gauge", "Start time of the master since the Unix epoch in seconds.", [[{}, i.self.startTime]]);
  w.metric("process_cpu_seconds_total", "counter", "User and system CPU seconds of the master.", [[{}, i.self.cpu]]);
  w.metric("process_resident_memory_bytes", "gauge", "Resident memory of the master in bytes.", [[{}, i.self.rss]]);
  w.metric("process_open_fds", "gauge", "Open file descriptors of the master.", [[{}, i.self.fds]]);
  w.metric("process_max_fds", "gauge", "The master's limit of open file descriptors.", [[{}, i.self.maxFds]]);
  if (openmetrics) w.lines.push("# EOF");
  return w.lines.join("\n") + "\n";
}

/** Whether an Accept header asks for OpenMetrics (Prometheus 2.5+ sends it first, with text/plain as the fallback). */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  return accept !== undefined && /application\/openmetrics-text/i.test(accept);
}
