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

const STDERR_TAIL = 10;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const TAIL_LINE_MAX = 500;

export class WorkerHandle {
  state: WorkerState = "starting";
  readyAt?: number;
  stopAt?: number;
  killAt?: number;
  killed = false;
  /** The last STATUS= it sent over sd_notify. */
  statusText?: string;
  exit?: { code: number | null; signal: string | null };
  /** Its last stderr lines (raw, decoded only when a report needs them). */
  private readonly tail: Uint8Array[] = [];
  /** Why the arbiter is stopping it ("replaced by gen 3", "rollback", "stop", …). */
  stopReason?: string;
  /** cgroup mode: its own cgroup, which holds its whole tree. */
  cgroup?: string;

  constructor(
    readonly id: number,
    readonly generation: number,
    readonly pid: number,
    readonly startedAt: number,
    /** Its $PORT with --port-base, else 0. */
    readonly port = 0,
  ) {}

  get label(): string {
    return `worker ${this.id} pid ${this.pid} gen ${this.generation}`;
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
  term(sig: NodeJS.Signals, now: number, mercy: number, reason: string) {
    if (this.state === "stopping" || this.state === "exited") return;
    this.state = "stopping";
    this.stopReason = reason;
    this.stopAt = now;
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
    if (this.state !== "stopping" || this.killed || this.killAt === undefined || now < this.killAt) return false;
    this.kill();
    return true;
  }

  noteStderr(line: Uint8Array | string) {
    const bytes = typeof line === "string" ? encoder.encode(line) : line;
    this.tail.push(bytes.slice(0, TAIL_LINE_MAX));
    if (this.tail.length > STDERR_TAIL) this.tail.shift();
  }

  /** Its last stderr lines, for crash and rollback reports. */
  get stderrTail(): string[] {
    return this.tail.map((b) => decoder.decode(b) + (b.length === TAIL_LINE_MAX ? "…" : ""));
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
