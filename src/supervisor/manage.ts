// Convergence (gunicorn's manage_workers, Puma's check_workers): compare the
// workers that run with what should run, and say what to spawn and what to
// retire. Pure: the arbiter applies the actions. What should run is
//  - the slots: worker id → the generation it runs (what a respawn gets),
//  - and, while a reload runs, the new generation for the ids it replaces.
// A reload is "set what is wanted", a rollback "drop the reload", a scale
// change "add or drop a slot"; this function makes the table follow.
import type { Reload } from "./reload.ts";

export interface SlotView {
  id: number;
  generation: number;
  /** When a respawn is allowed (ms); undefined: now; Infinity: waiting for a change. */
  respawnAt?: number;
}

export interface WorkerView {
  id: number;
  generation: number;
  state: "starting" | "ready" | "stopping" | "exited";
}

export type Action<W> =
  | { kind: "spawn"; id: number; generation: number; candidate: boolean }
  | { kind: "retire"; worker: W; reason: string };

export interface ManageInput<W extends WorkerView> {
  slots: ReadonlyMap<number, SlotView>;
  workers: readonly W[];
  reload?: Reload;
  now: number;
  /** False while id cannot start yet (its port is still held by two workers). */
  canSpawn?(id: number): boolean;
  /** Workers being replaced (replacements.ts), by id: each is kept beside the successor of its slot. */
  replacing?: ReadonlyMap<number, W>;
}

const live = (w: WorkerView) => w.state === "starting" || w.state === "ready";

export function manage<W extends WorkerView>(input: ManageInput<W>): Action<W>[] {
  const { slots, workers, reload, now } = input;
  const canSpawn = input.canSpawn ?? (() => true);
  const actions: Action<W>[] = [];
  const r = reload?.starting ? reload : undefined;

  // 1. Retire every live worker nothing wants; keep one per (id, generation).
  const kept = new Set<string>();
  for (const w of workers) {
    if (!live(w)) continue;
    if (input.replacing?.get(w.id) === w) continue; // it serves until its successor is ready
    const slot = slots.get(w.id);
    const key = `${w.id}.${w.generation}`;
    const asSlot = slot?.generation === w.generation && !(r?.stopsFirst(w.id) && w.generation !== r.to);
    const asCandidate = r !== undefined && w.generation === r.to && w.id <= r.count;
    if ((asSlot || asCandidate) && !kept.has(key)) {
      kept.add(key);
      continue;
    }
    let reason: string;
    if (kept.has(key)) reason = "duplicate";
    else if (r?.stopsFirst(w.id)) reason = `stop-first: replaced by gen ${r.to}`;
    else if (!slot && !(r && w.id <= r.count)) reason = "scale down";
    else if (slot && w.generation < slot.generation) reason = `replaced by gen ${slot.generation}`;
    else reason = "rollback";
    actions.push({ kind: "retire", worker: w, reason });
  }

  const liveOf = (id: number, pred: (w: W) => boolean) => workers.some((w) => w.id === id && live(w) && pred(w));

  // 2. Every slot runs its generation (a crashed worker waits for its backoff).
  for (const slot of slots.values()) {
    if (kept.has(`${slot.id}.${slot.generation}`)) continue;
    if (r?.stopsFirst(slot.id) && slot.generation !== r.to) continue; // the reload starts this id once the old worker is gone
    if (slot.respawnAt !== undefined && now < slot.respawnAt) continue;
    if (!canSpawn(slot.id)) continue;
    actions.push({ kind: "spawn", id: slot.id, generation: slot.generation, candidate: false });
  }

  // 3. The reload's new workers: all at once, or one at a time when rolling.
  if (r) {
    for (const id of r.pending()) {
      if (!r.replacing(id)) continue;
      if (liveOf(id, (w) => w.generation === r.to)) continue;
      // Stop-first: start only once the old worker (rolling) or every old
      // worker being replaced (all at once) has exited, so a port the app
      // binds itself is free again.
      if (r.stopFirst && workers.some((w) => w.generation !== r.to && (r.rolling ? w.id === id : r.stopsFirst(w.id)))) continue;
      if (!canSpawn(id)) continue;
      actions.push({ kind: "spawn", id, generation: r.to, candidate: true });
    }
  }
  return actions;
}
