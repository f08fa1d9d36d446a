// One worker process: its identity, state, and its own stop→kill escalation
// (Puma's WorkerHandle). The arbiter owns the table of handles; nothing here
// changes anything but this handle.

import { readdirSync, readFileSync } from "node:fs";
import { constants } from "node:os";

/** "TERM", "SIGTERM" or "15" → "SIGTERM"; undefined when it names no signal. */
export function parseSignal(s: string): NodeJS.Signals | undefined {
  const sigs = constants.signals as Record<string, number>;
  const upper = s.trim().toUpperCase();
  if (/^\d+$/.test(upper)) return Object.keys(sigs).find((k) => sigs[k] === Number(upper)) as NodeJS.Signals | undefined;
  const name = upper.startsWith("SIG") ? upper : `SIG${upper}`;
  return name in sigs ? (name as NodeJS.Signals) : undefined;
}

/**
 * True while a process that is not a zombie is in the group. kill(-pgid, 0)
 * alone also counts zombies, which stay until an init reaps them: about once
 * a second on some hosts, never when sup itself is PID 1 without tini.
 */
export function groupAlive(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false;
  if (process.platform !== "linux") return true;
  try {
    for (const name of readdirSync("/proc")) {
      if (name.charCodeAt(0) > 57) continue; // not a pid directory
      let stat: string;
      try {
        stat = readFileSync(`/proc/${name}/stat`, "latin1");
      } catch {
        continue; // gone meanwhile
      }
      // proc(5): "pid (comm) state ppid pgrp …"; comm may hold spaces and ")".
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ", 3);
      if (Number(pgrp) === pgid && state !== "Z") return true;
    }
    return false;
  } catch {
    return true;
  }
}

export type WorkerState = "starting" | "ready" | "stopping" | "exited";

/** kill(2) on the worker's whole process group, so grandchildren get it too. */
export function signalGroup(pgid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false; // ESRCH: the group is gone
  }
}

export class WorkerHandle {
  state: WorkerState = "starting";
  readyAt?: number;
  stopAt?: number;
  killAt?: number;
  killed = false;
  /** A new worker of a reload that has not yet taken its place. */
  candidate = false;
  /** The last STATUS= line it sent over sd_notify. */
  statusText?: string;
  exit?: { code: number | null; signal: string | null };
  readonly stderrTail: string[] = [];
  /** Why the arbiter is stopping it: "retire", "rollback", "stop", "scale". */
  stopReason?: string;

  constructor(
    readonly id: number,
    readonly generation: number,
    readonly pid: number,
    readonly startedAt: number,
  ) {}

  get label(): string {
    return `worker ${this.id} pid ${this.pid} gen ${this.generation}`;
  }

  /** Serving capacity: ready and not draining. */
  get serving(): boolean {
    return this.state === "ready";
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

  /** SIGKILL the group now (QUIT, or the mercy ran out). */
  kill(reason?: string) {
    if (this.state !== "exited") {
      this.state = this.state === "starting" || this.state === "ready" ? "stopping" : this.state;
      this.stopReason ??= reason;
    }
    this.killed = true;
    signalGroup(this.pid, "SIGKILL");
  }

  /** True when the mercy has run out and KILL was sent by this call. */
  escalate(now: number): boolean {
    if (this.state !== "stopping" || this.killed || this.killAt === undefined || now < this.killAt) return false;
    this.kill();
    return true;
  }

  noteStderr(line: string) {
    this.stderrTail.push(line);
    if (this.stderrTail.length > 10) this.stderrTail.shift();
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
