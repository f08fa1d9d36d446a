// One worker process: its identity, state, and its own stop→kill escalation
// (Puma's WorkerHandle). The arbiter owns the table of handles; nothing here
// changes anything but this handle.
import { constants } from "node:os";

/** "TERM", "SIGTERM" or "15" → "SIGTERM"; undefined when it names no signal. */
export function parseSignal(s: string): NodeJS.Signals | undefined {
  const sigs = constants.signals as Record<string, number>;
  const upper = s.trim().toUpperCase();
  if (/^\d+$/.test(upper)) return Object.keys(sigs).find((k) => sigs[k] === Number(upper)) as NodeJS.Signals | undefined;
  const name = upper.startsWith("SIG") ? upper : `SIG${upper}`;
  return name in sigs ? (name as NodeJS.Signals) : undefined;
}

export type WorkerState = "starting" | "ready" | "stopping" | "exited";

/** kill(2) on a whole process group, so grandchildren get it too; false once the group is gone (ESRCH). */
export function signalGroup(pgid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false;
  }
}

/**
 * What a report keeps of a worker's stderr: its first lines (Python's
 * "Traceback", Node's SyntaxError with its caret are at the top) and its
 * last (the error itself), about 40 lines and 4 KB in all.
 */
const STDERR_HEAD = 10;
const STDERR_TAIL = 30;
const STDERR_BYTES = 4096;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const TAIL_LINE_MAX = 500;

export class WorkerHandle {
  state: WorkerState = "starting";
  readyAt?: number;
  stopAt?: number;
  killAt?: number;
  /** The stop signal still to send after a diagnostic one, and when. */
  termAt?: { sig: NodeJS.Signals; at: number };
  killed = false;
  /** The last STATUS= it sent over sd_notify. */
  statusText?: string;
  /** What the master wants a reader of `sup status` to know about it. */
  note?: string;
  /** The port of its own socket (liveness probes that must reach this worker), when it has one. */
  privatePort?: number;
  exit?: { code: number | null; signal: string | null };
  /** Its first and last stderr lines (raw, decoded only when a report needs them), and how many fell between. */
  private readonly head: Uint8Array[] = [];
  private readonly tail: Uint8Array[] = [];
  private skipped = 0;
  /** Why the arbiter is stopping it ("replaced by gen 3", "rollback", "stop", …). */
  stopReason?: string;
  /** Stopped because it failed (not ready in time): its exit counts as a crash. */
  failed = false;
  /** cgroup mode: its own cgroup, which holds its whole tree. */
  cgroup?: string;

  constructor(
    readonly id: number,
    readonly generation: number,
    readonly pid: number,
    readonly startedAt: number,
    /** Its $PORT with --port-base, else 0. */
    readonly port = 0,
    /** Its program's name when the master runs several (log lines name it). */
    readonly program?: string,
  ) {}

  get label(): string {
    return `${this.program ? `${this.program} ` : ""}worker ${this.id} pid ${this.pid} gen ${this.generation}`;
  }

  /** Starting or ready: not on its way out. */
  get live(): boolean {
    return this.state === "starting" || this.state === "ready";
  }

  markReady(now: number) {
    if (this.state === "starting") {
      this.state = "ready";
      this.readyAt = now;
    }
  }

  /** The polite stop: the stop signal to the group, SIGKILL after `mercy` seconds. */
  term(sig: NodeJS.Signals, now: number, mercy: number, reason: string, diagnose?: { signal: NodeJS.Signals; ms: number }) {
    if (this.state === "stopping" || this.state === "exited") return;
    this.state = "stopping";
    this.stopReason = reason;
    this.stopAt = now;
    if (diagnose) {
      // A diagnostic signal first (SIGABRT: Python's faulthandler, Node's
      // report, the JVM dump their stacks), the stop signal a moment later.
      signalGroup(this.pid, diagnose.signal);
      this.termAt = { sig, at: now + diagnose.ms };
      this.killAt = now + diagnose.ms + mercy * 1000;
      return;
    }
    this.killAt = now + mercy * 1000;
    signalGroup(this.pid, sig);
  }

  /** SIGKILL the group now (QUIT, a ready timeout, or the mercy ran out). */
  kill(reason?: string) {
    if (this.state === "starting" || this.state === "ready") this.state = "stopping";
    this.stopReason ??= reason;
    this.killed = true;
    signalGroup(this.pid, "SIGKILL");
  }

  /** True when the mercy has run out and KILL was sent by this call. */
  escalate(now: number): boolean {
    if (this.termAt && this.state === "stopping" && now >= this.termAt.at) {
      signalGroup(this.pid, this.termAt.sig);
      this.termAt = undefined;
    }
    if (this.state !== "stopping" || this.killed || this.killAt === undefined || now < this.killAt) return false;
    this.kill();
    return true;
  }

  noteStderr(line: Uint8Array | string) {
    const bytes = (typeof line === "string" ? encoder.encode(line) : line).slice(0, TAIL_LINE_MAX);
    if (this.head.length < STDERR_HEAD) return void this.head.push(bytes);
    this.tail.push(bytes);
    if (this.tail.length > STDERR_TAIL) {
      this.tail.shift();
      this.skipped++;
    }
  }

  /** Its stderr for crash and rollback reports: the first lines, the last, at most about 4 KB. */
  get stderrTail(): string[] {
    const text = (b: Uint8Array) => decoder.decode(b) + (b.length === TAIL_LINE_MAX ? "…" : "");
    const tail = this.tail.map(text);
    // Over the byte budget: the last lines win (the error), then the first.
    let budget = STDERR_BYTES;
    const keptTail: string[] = [];
    for (let i = tail.length - 1; i >= 0 && budget - tail[i]!.length >= 0; i--) {
      budget -= tail[i]!.length;
      keptTail.unshift(tail[i]!);
    }
    const keptHead: string[] = [];
    for (const l of this.head.map(text)) {
      if (budget - l.length < 0) break;
      budget -= l.length;
      keptHead.push(l);
    }
    const gap = this.skipped + (tail.length - keptTail.length) + (this.head.length - keptHead.length);
    return [...keptHead, ...(gap > 0 ? [`… ${gap} line${gap === 1 ? "" : "s"} left out …`] : []), ...keptTail];
  }

  markExited(code: number | null, signal: string | null) {
    this.state = "exited";
    this.exit = { code, signal };
  }

  /** "code 1" or "signal SIGKILL". */
  get exitText(): string {
    if (!this.exit) return "running";
    return this.exit.signal ? `signal ${this.exit.signal}` : `code ${this.exit.code}`;
  }
}
