// The desired state per worker id (a slot): the generation that id runs and
// the crash accounting that outlives each of its processes. A respawn of the
// id gets the slot's generation after the slot's backoff.
import type { ReplaceReason } from "./vitals.ts";
import { BACKOFF_RESET_AFTER, CRASH_LOOP_AFTER, backoffDelay, nextFailures } from "../core/backoff.ts";

export interface Slot {
  id: number;
  generation: number;
  failures: number; // exits in a row
  restarts: number;
  respawnAt?: number; // ms; undefined = now; Infinity = waiting for a change
  lastExit?: string;
  lastStderr: string[];
  /** A worker of a one-shot program (restart never / on-failure) finished: nothing respawns it. */
  done?: { ok: boolean; exit: string };
  /** Replacements of this id's workers by reason (watchdog, health, lifetime, rss), and the last one. */
  replaced: Partial<Record<ReplaceReason, number>>;
  lastReplaced?: { reason: ReplaceReason; detail: string; at: number };
}

export const newSlot = (id: number, generation: number): Slot => ({ id, generation, failures: 0, restarts: 0, lastStderr: [], replaced: {} });

export interface Failure {
  /** Seconds to the respawn, or "change" when it waits for the files to change. */
  next: number | "change";
  crashLoop: boolean;
}

/**
 * A worker of this slot exited without being asked (or never started):
 * count it and decide when the id may start again. With file triggers on, a
 * crash loop waits for the next change instead of retrying (a developer's
 * broken code will not fix itself).
 */
export function recordFailure(slot: Slot, o: { now: number; uptime: number; exitText: string; stderr: string[]; backoffMax: number; waitForChange: boolean }): Failure {
  slot.failures = nextFailures(slot.failures, o.uptime);
  slot.restarts++;
  slot.lastExit = o.exitText;
  slot.lastStderr = [...o.stderr];
  const crashLoop = slot.failures >= CRASH_LOOP_AFTER;
  const delay = backoffDelay(slot.failures, o.backoffMax);
  const wait = crashLoop && o.waitForChange;
  slot.respawnAt = wait ? Infinity : o.now + delay * 1000;
  return { next: wait ? "change" : delay, crashLoop };
}

/** When the slot's crash record clears: its worker has stayed up long enough (ms), or Infinity. */
export function clearsAt(slot: Slot, startedAt: number): number {
  return slot.failures > 0 ? startedAt + BACKOFF_RESET_AFTER * 1000 : Infinity;
}
