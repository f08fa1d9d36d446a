// Transactional reloads (DESIGN.md section 3, issue 5). A reload is "bump the
// generation, converge": the new generation must become ready before the old
// one is retired; if a new worker exits or misses the ready timeout, the new
// workers are stopped and the old generation keeps serving. Requests that
// arrive during a reload collapse into exactly one follow-up.
import type { Config } from "../config/schema.ts";
import type { WorkerHandle } from "../worker/handle.ts";
import { tail, type Arbiter } from "./arbiter.ts";
import type { ReloadResult } from "./events.ts";

type Reply = (r: ReloadResult) => void;

interface Transaction {
  generation: number;
  rolling: boolean;
  config: Config;
  reason: string;
  replies: Reply[];
  startedAt: number;
  candidates: WorkerHandle[];
  steps: number[]; // rolling: worker ids still to replace
}

export interface LastReload {
  reason: string;
  at: number; // epoch ms
  ok: boolean;
  generation: number;
  message: string;
}

export class Reloads {
  tx?: Transaction;
  pending?: { reason: string; rolling: boolean; replies: Reply[] };
  last?: LastReload;

  constructor(private arb: Arbiter) {}

  async request(reason: string, rolling: boolean, reply?: Reply) {
    const arb = this.arb;
    if (arb.stopping) return reply?.({ ok: false, generation: arb.generation, message: "the master is stopping" });
    if (this.tx) {
      // At most one reload queued behind the running one; later requests join it.
      this.pending ??= { reason, rolling, replies: [] };
      this.pending.rolling ||= rolling;
      if (reply) this.pending.replies.push(reply);
      arb.log.info(`reload requested (${reason}); queued after generation ${this.tx.generation}`, { event: "reload.queued", reason });
      return;
    }
    arb.log.info(`reload requested (${reason})`, { event: "reload.request", reason, rolling });
    await this.begin(reason, rolling, reply ? [reply] : []);
  }

  private async begin(reason: string, rolling: boolean, replies: Reply[]) {
    const arb = this.arb;
    let config: Config;
    try {
      config = await arb.deps.loadConfig();
      await arb.deps.applyConfig?.(config, arb.config);
    } catch (e) {
      const message = `${(e as Error).message}; keeping the old config and workers`;
      arb.log.error(`reload failed: ${message}`, { event: "reload.fail", reason });
      return this.finish(replies, { ok: false, generation: arb.generation, message }, reason);
    }
    const generation = ++arb.genCounter;
    arb.configs.set(generation, config);
    const ids = Array.from({ length: config.processes }, (_, i) => i + 1);
    this.tx = { generation, rolling, config, reason, replies, startedAt: arb.deps.now(), candidates: [], steps: rolling ? ids : [] };
    arb.deps.onLifecycle?.("reloading", reason);
    arb.log.info(`reload gen ${generation} started: ${config.processes} new worker${config.processes === 1 ? "" : "s"}${rolling ? ", one at a time" : ""} (${reason})`, { event: "reload.start", gen: generation, rolling, reason });
    if (rolling) this.step();
    else for (const id of ids) if (this.tx && !this.spawn(id)) return;
  }

  private spawn(id: number): boolean {
    const tx = this.tx!;
    const w = this.arb.spawnWorker(id, tx.generation, true);
    if (!w) {
      this.abort(`worker ${id} could not be started`);
      return false;
    }
    tx.candidates.push(w);
    return true;
  }

  private step() {
    const id = this.tx!.steps.shift();
    if (id === undefined) return this.commit();
    this.spawn(id);
  }

  onCandidateReady(w: WorkerHandle) {
    const tx = this.tx;
    if (!tx || w.generation !== tx.generation) return;
    if (!tx.rolling) {
      if (tx.candidates.every((c) => c.state === "ready")) this.commit();
      return;
    }
    // Rolling: the new worker takes its id's place, then the old one goes.
    w.candidate = false;
    const slot = this.arb.slot(w.id);
    Object.assign(slot, { generation: tx.generation, failures: 0, respawnAt: undefined });
    for (const old of this.arb.workers) {
      if (old.id === w.id && old !== w && !old.candidate && old.state !== "stopping") this.arb.retire(old, `replaced by gen ${tx.generation}`);
    }
    this.step();
  }

  onCandidateFailed(w: WorkerHandle, why: string) {
    if (!this.tx || w.generation !== this.tx.generation) return;
    this.abort(`${w.label} ${why}${tail(w.stderrTail)}`);
  }

  private commit() {
    const arb = this.arb;
    const tx = this.tx!;
    arb.generation = tx.generation;
    arb.config = tx.config;
    arb.target = tx.config.processes;
    for (const c of tx.candidates) c.candidate = false;
    for (const w of arb.workers) {
      if (w.generation !== tx.generation && w.state !== "stopping") arb.retire(w, `replaced by gen ${tx.generation}`);
    }
    for (const slot of arb.slots.values()) Object.assign(slot, { generation: tx.generation, failures: 0, respawnAt: undefined });
    const secs = ((arb.deps.now() - tx.startedAt) / 1000).toFixed(2);
    arb.log.info(`reload gen ${tx.generation} done in ${secs}s (${tx.reason})`, { event: "reload.done", gen: tx.generation, seconds: Number(secs) });
    arb.deps.onLifecycle?.("reloaded", `gen ${tx.generation}`);
    this.end({ ok: true, generation: tx.generation, message: `generation ${tx.generation} serving` });
    arb.manage();
  }

  private abort(why: string) {
    const arb = this.arb;
    const tx = this.tx!;
    for (const c of tx.candidates) if (c.candidate && c.state !== "exited") arb.retire(c, "rollback");
    const message = `reload gen ${tx.generation} rolled back: ${why}`;
    // A file-triggered reload into broken code (development): say so, and wait.
    const next = /^(autoreload|touch):/.test(tx.reason) ? "; the new code does not start, waiting for changes" : "";
    arb.log.error(`${message}\n  generation ${arb.generation} keeps serving${next}`, { event: "reload.rollback", gen: tx.generation });
    arb.deps.onLifecycle?.("reloaded", `gen ${tx.generation} rolled back`);
    this.end({ ok: false, generation: arb.generation, message });
  }

  /** Stop: the running reload ends, the queued one is dropped. */
  cancel(why: string) {
    if (this.tx) this.abort(why);
    const p = this.pending;
    this.pending = undefined;
    for (const r of p?.replies ?? []) r({ ok: false, generation: this.arb.generation, message: why });
  }

  private end(result: ReloadResult) {
    const tx = this.tx!;
    this.tx = undefined;
    this.prune();
    this.finish(tx.replies, result, tx.reason);
  }

  private finish(replies: Reply[], result: ReloadResult, reason: string) {
    this.last = { reason, at: Date.now(), ok: result.ok, generation: result.generation, message: result.message };
    for (const r of replies) r(result);
    const p = this.pending;
    if (p && !this.arb.stopping) {
      this.pending = undefined;
      const reply = p.replies.length ? (r: ReloadResult) => p.replies.forEach((f) => f(r)) : undefined;
      this.arb.queue.push({ type: "reload", reason: p.reason, rolling: p.rolling, reply });
    }
  }

  /** Forget configs no worker or slot runs any more. */
  private prune() {
    const arb = this.arb;
    const used = new Set([arb.generation, ...arb.workers.map((w) => w.generation), ...[...arb.slots.values()].map((s) => s.generation)]);
    for (const g of arb.configs.keys()) if (!used.has(g)) arb.configs.delete(g);
  }
}
