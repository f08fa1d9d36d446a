import { describe, expect, test } from "bun:test";
import { defaults, type Config } from "../../src/config/schema.ts";
import { manage, type SlotView, type WorkerView } from "../../src/supervisor/manage.ts";
import { Reload } from "../../src/supervisor/reload.ts";

type W = WorkerView & { name: string };
const w = (id: number, generation: number, state: WorkerView["state"] = "ready"): W => ({ id, generation, state, name: `${id}.${generation}` });
const slots = (...s: [number, number][]) => new Map<number, SlotView>(s.map(([id, generation]) => [id, { id, generation }]));
const cfg = (over: Partial<Config> = {}): Config => ({ ...defaults(), command: ["app"], ...over });
function reload(count: number, rolling = false, over: Partial<Config> = {}) {
  const r = new Reload(1, "t", rolling, 0);
  r.begin(2, cfg(over), count);
  return r;
}
const show = (actions: ReturnType<typeof manage<W>>) => actions.map((a) => (a.kind === "spawn" ? `spawn ${a.id}.${a.generation}${a.candidate ? "*" : ""}` : `retire ${a.worker.name} (${a.reason})`));

describe("manage", () => {
  test("spawns every slot that has no live worker", () => {
    expect(show(manage({ slots: slots([1, 1], [2, 1]), workers: [w(1, 1)], now: 0 }))).toEqual(["spawn 2.1"]);
  });

  test("a stopping worker does not count as the slot's worker", () => {
    expect(show(manage({ slots: slots([1, 1]), workers: [w(1, 1, "stopping")], now: 0 }))).toEqual(["spawn 1.1"]);
  });

  test("a slot waits out its backoff", () => {
    const s = new Map([[1, { id: 1, generation: 1, respawnAt: 100 }]]);
    expect(manage({ slots: s, workers: [], now: 99 })).toEqual([]);
    expect(show(manage({ slots: s, workers: [], now: 100 }))).toEqual(["spawn 1.1"]);
  });

  test("a worker with no slot is scaled down; an older generation is replaced", () => {
    expect(show(manage({ slots: slots([1, 2]), workers: [w(1, 1), w(1, 2), w(2, 2)], now: 0 }))).toEqual(["retire 1.1 (replaced by gen 2)", "retire 2.2 (scale down)"]);
  });

  test("a reload keeps both generations and starts the new one all at once", () => {
    expect(show(manage({ slots: slots([1, 1], [2, 1]), workers: [w(1, 1), w(2, 1)], reload: reload(2), now: 0 }))).toEqual(["spawn 1.2*", "spawn 2.2*"]);
  });

  test("a reload to more workers keeps every new one, none is scaled down", () => {
    const r = reload(4);
    expect(show(manage({ slots: slots([1, 1], [2, 1]), workers: [w(1, 1), w(2, 1), w(1, 2), w(2, 2), w(3, 2), w(4, 2, "starting")], reload: r, now: 0 }))).toEqual([]);
  });

  test("without the reload (a rollback), its new workers are retired", () => {
    expect(show(manage({ slots: slots([1, 1]), workers: [w(1, 1), w(1, 2, "starting")], now: 0 }))).toEqual(["retire 1.2 (rollback)"]);
  });

  test("stop-first: the old worker is retired first, and the new one waits until it has exited", () => {
    const r = reload(1, false, { "reload-strategy": "stop-first" });
    expect(show(manage({ slots: slots([1, 1]), workers: [w(1, 1)], reload: r, now: 0 }))).toEqual(["retire 1.1 (stop-first: replaced by gen 2)"]);
    expect(manage({ slots: slots([1, 1]), workers: [w(1, 1, "stopping")], reload: r, now: 0 })).toEqual([]);
    expect(show(manage({ slots: slots([1, 1]), workers: [], reload: r, now: 0 }))).toEqual(["spawn 1.2*"]);
  });

  test("canSpawn holds a spawn back (both ports of the id still held)", () => {
    expect(manage({ slots: slots([1, 1]), workers: [], now: 0, canSpawn: () => false })).toEqual([]);
  });

  test("two live workers of the same id and generation: the second is a duplicate", () => {
    const a = w(1, 1);
    const b = { ...w(1, 1), name: "dup" };
    expect(show(manage({ slots: slots([1, 1]), workers: [a, b], now: 0 }))).toEqual(["retire dup (duplicate)"]);
  });
});
