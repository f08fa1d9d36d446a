// When does a new worker count as ready? (DESIGN.md section 4; `--ready`)
// notify: it sent READY=1 to its own NOTIFY_SOCKET; tcp/http: a probe
// answered; delay: it stayed alive that long. Checked on the master's tick.
import type { Config } from "../config/schema.ts";
import { expandReady, parseReady, probeOnce, type ReadySpec } from "../net/probe.ts";
import { signalGroup, type WorkerHandle } from "../worker/handle.ts";
import type { Arbiter } from "./arbiter.ts";

/** A worker's sd_notify socket, as the master polls it. */
export interface ReadyProbe {
  readonly path: string;
  poll(): string[];
  close(): void;
}

interface Watch {
  w: WorkerHandle;
  spec: ReadySpec;
  timeout: number; // ms
  notify?: ReadyProbe;
  probing: boolean;
  lastProbe: number;
}

const PROBE_EVERY_MS = 100;

export class Readiness {
  private watches = new Map<WorkerHandle, Watch>();

  constructor(private arb: Arbiter) {}

  watch(w: WorkerHandle, cfg: Config, notify?: ReadyProbe) {
    const port = cfg["port-base"] > 0 ? cfg["port-base"] + w.id - 1 : 0;
    const spec = expandReady(parseReady(cfg.ready), { id: w.id, port });
    this.watches.set(w, { w, spec, timeout: cfg["ready-timeout"] * 1000, notify, probing: false, lastProbe: 0 });
  }

  unwatch(w: WorkerHandle) {
    this.watches.get(w)?.notify?.close();
    this.watches.delete(w);
  }

  closeAll() {
    for (const w of [...this.watches.keys()]) this.unwatch(w);
  }

  check(now: number) {
    for (const watch of this.watches.values()) {
      const { w, spec } = watch;
      if (watch.notify) this.readNotify(watch);
      if (w.state !== "starting" || w.killed) continue;
      if (spec.kind === "delay" && now - w.startedAt >= spec.seconds * 1000) this.arb.onReady(w, `alive ${spec.seconds}s`);
      else if ((spec.kind === "tcp" || spec.kind === "http") && !watch.probing && now - watch.lastProbe >= PROBE_EVERY_MS) this.probe(watch, now);
      if (w.state === "starting" && now - w.startedAt >= watch.timeout) this.timedOut(w, watch.timeout / 1000);
    }
  }

  private readNotify(watch: Watch) {
    for (const msg of watch.notify!.poll()) {
      for (const line of msg.split("\n")) {
        if (line === "READY=1" && watch.w.state === "starting") this.arb.onReady(watch.w, "notify");
        else if (line.startsWith("STATUS=")) watch.w.statusText = line.slice(7);
      }
    }
  }

  private probe(watch: Watch, now: number) {
    watch.probing = true;
    watch.lastProbe = now;
    const how = watch.spec.kind === "http" ? watch.spec.url : `tcp ${watch.spec.kind === "tcp" ? `${watch.spec.host}:${watch.spec.port}` : ""}`;
    void probeOnce(watch.spec).then((ok) => {
      watch.probing = false;
      if (ok) this.arb.queue.push({ type: "ready", worker: watch.w, how });
    });
  }

  private timedOut(w: WorkerHandle, seconds: number) {
    const why = `not ready within ${seconds}s (--ready-timeout)`;
    if (w.candidate) return this.arb.reloads.onCandidateFailed(w, why);
    // Not part of a reload: treat it as a crash, so it is respawned with backoff.
    this.arb.log.error(`${w.label} ${why}; killing it`, this.arb.fields(w, "worker.timeout"));
    w.killed = true;
    signalGroup(w.pid, "SIGKILL");
  }
}
