import { describe, expect, test } from "bun:test";
import { defaults, type Config } from "../../src/config/schema.ts";
import { Reload, type CandidateView } from "../../src/supervisor/reload.ts";

const cfg = (over: Partial<Config> = {}): Config => ({ ...defaults(), command: ["app"], ...over });

function begun(count: number, rolling: boolean, grace = 0, over: Partial<Config> = {}) {
  const r = new Reload(1, "test", rolling, 0);
  r.begin(2, cfg({ "reload-grace": grace, ...over }), count);
  return r;
}
const ready = (id: number, readyAt: number): CandidateView => ({ id, generation: 2, state: "ready", readyAt });
const starting = (id: number): CandidateView => ({ id, generation: 2, state: "starting" });

describe("Reload", () => {
  test("loading: replaces nothing, decides nothing", () => {
    const r = new Reload(1, "test", false, 0);
    expect(r.replacing(1)).toBe(false);
    expect(r.decide([], 0)).toEqual({ switchIds: [], commit: false, recheckAt: Infinity });
  });

  test("all at once: every id is replaced; commit once all are ready", () => {
    const r = begun(3, false);
    expect([1, 2, 3].map((id) => r.replacing(id))).toEqual([true, true, true]);
    expect(r.decide([ready(1, 0), ready(2, 0), starting(3)], 10).commit).toBe(false);
    expect(r.decide([ready(1, 0), ready(2, 0), ready(3, 5)], 10).commit).toBe(true);
  });

  test("grace: commit only after every new worker has been ready that long; recheck at the earliest end", () => {
    const r = begun(2, false, 3);
    expect(r.decide([ready(1, 1000), ready(2, 1500)], 3999)).toEqual({ switchIds: [], commit: false, recheckAt: 4000 });
    expect(r.decide([ready(1, 1000), ready(2, 1500)], 4000)).toEqual({ switchIds: [], commit: false, recheckAt: 4500 });
    expect(r.decide([ready(1, 1000), ready(2, 1500)], 4500).commit).toBe(true);
  });

  test("a decision that is due says so in its recheck time (never Infinity), so a timer armed a moment later still fires", () => {
    const r = begun(1, false, 3);
    expect(r.decide([ready(1, 0)], 3000)).toEqual({ switchIds: [], commit: true, recheckAt: 3000 });
  });

  test("rolling: one id at a time; the next may start once the one before is ready and in its grace", () => {
    const r = begun(3, true, 2);
    expect([1, 2, 3].map((id) => r.replacing(id))).toEqual([true, false, false]);
    r.decide([ready(1, 100)], 200); // 1 in grace
    expect([1, 2, 3].map((id) => r.replacing(id))).toEqual([true, true, false]);
    const d = r.decide([ready(1, 100), starting(2)], 2100);
    expect(d.switchIds).toEqual([1]);
    expect(d.commit).toBe(false);
  });

  test("rolling: the last switch is the commit", () => {
    const r = begun(2, true);
    r.switched.add(1);
    expect(r.decide([ready(2, 0)], 0)).toMatchObject({ switchIds: [2], commit: true });
  });

  test("stop-first replaces like the strategy says", () => {
    const r = begun(2, true, 0, { "reload-strategy": "stop-first" });
    expect(r.stopsFirst(1)).toBe(true);
    expect(r.stopsFirst(2)).toBe(false);
  });

  test("an id above the new count is never replaced", () => {
    const r = begun(2, false);
    expect(r.replacing(3)).toBe(false);
  });
});
