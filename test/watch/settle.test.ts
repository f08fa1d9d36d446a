import { describe, expect, test } from "bun:test";
import { maxWaitFor, Settle } from "../../src/watch/settle.ts";

describe("Settle", () => {
  test("nothing changed: nothing pending, never due", () => {
    const s = new Settle({ settle: 300, maxWait: 5000 });
    expect(s.pending()).toBe(false);
    expect(s.due(1e9)).toBe(false);
    expect(s.dueAt()).toBeNull();
  });
  test("one change is due after the settle time, not before", () => {
    const s = new Settle({ settle: 300, maxWait: 5000 });
    s.changed(1000);
    expect(s.pending()).toBe(true);
    expect(s.due(1299)).toBe(false);
    expect(s.dueAt()).toBe(1300);
    expect(s.due(1300)).toBe(true);
  });
  test("each change restarts the quiet time", () => {
    const s = new Settle({ settle: 300, maxWait: 5000 });
    for (let t = 0; t <= 2000; t += 100) {
      s.changed(t);
      expect(s.due(t + 99)).toBe(false);
    }
    expect(s.due(2299)).toBe(false);
    expect(s.due(2300)).toBe(true);
  });
  test("an endless storm is due at the maximum wait", () => {
    const s = new Settle({ settle: 300, maxWait: 5000 });
    let t = 0;
    for (; t < 5000; t += 100) {
      s.changed(t);
      expect(s.due(t)).toBe(false);
    }
    s.changed(5000);
    expect(s.due(5000)).toBe(true);
    expect(s.dueAt()).toBe(5000);
  });
  test("a change stamped in the past (its ctime) can be due at once", () => {
    const s = new Settle({ settle: 300, maxWait: 5000 });
    s.changed(1000);
    expect(s.due(1400)).toBe(true);
  });
  test("an older stamp never moves the quiet time back", () => {
    const s = new Settle({ settle: 300, maxWait: 5000 });
    s.changed(1000);
    s.changed(900);
    expect(s.dueAt()).toBe(1300);
  });
  test("take() starts over", () => {
    const s = new Settle({ settle: 300, maxWait: 5000 });
    s.changed(0);
    s.take();
    expect(s.pending()).toBe(false);
    expect(s.due(10_000)).toBe(false);
    s.changed(20_000);
    expect(s.dueAt()).toBe(20_300);
  });
  test("settle 0: due as soon as found", () => {
    const s = new Settle({ settle: 0, maxWait: maxWaitFor(0) });
    s.changed(5);
    expect(s.due(5)).toBe(true);
  });
  test("maxWaitFor: ten settle times, at least 5 s", () => {
    expect(maxWaitFor(300)).toBe(5000);
    expect(maxWaitFor(1000)).toBe(10_000);
  });
});

describe("Settle.hold", () => {
  test("a hold keeps a quiet storm pending until it ends", () => {
    const s = new Settle({ settle: 20, maxWait: 5000 });
    s.changed(1000);
    s.hold(1500);
    expect(s.due(1020)).toBe(false);
    expect(s.dueAt()).toBe(1500);
    expect(s.due(1500)).toBe(true);
  });
  test("a hold never outlasts the maximum wait", () => {
    const s = new Settle({ settle: 20, maxWait: 5000 });
    s.changed(0);
    s.hold(99_999);
    expect(s.dueAt()).toBe(5000);
    expect(s.due(5000)).toBe(true);
  });
  test("a hold without pending changes is ignored, and take() clears it", () => {
    const s = new Settle({ settle: 20, maxWait: 5000 });
    s.hold(1000);
    s.changed(0);
    expect(s.due(20)).toBe(true);
    s.hold(800);
    s.take();
    s.changed(2000);
    expect(s.due(2020)).toBe(true);
  });
});
