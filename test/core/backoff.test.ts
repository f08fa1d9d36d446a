import { expect, test } from "bun:test";
import { BACKOFF_RESET_AFTER, backoffDelay, nextFailures } from "../../src/core/backoff.ts";

test("delays double from 0.1 s up to the cap", () => {
  expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelay(n, 10))).toEqual([0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10]);
  expect(backoffDelay(50, 10)).toBe(10);
  expect(backoffDelay(3, 0.25)).toBe(0.25);
});

test("a command that exits at once is spawned at most ~10 times in its first 10 s", () => {
  let t = 0;
  let spawns = 1;
  for (let n = 1; ; n++) {
    t += backoffDelay(n, 10);
    if (t > 10) break;
    spawns++;
  }
  expect(spawns).toBeLessThanOrEqual(10);
  expect(spawns).toBeGreaterThanOrEqual(5);
});

test("the count grows while the worker dies young and resets after it stayed up", () => {
  expect(nextFailures(0, 0.01)).toBe(1);
  expect(nextFailures(4, 2)).toBe(5);
  expect(nextFailures(7, BACKOFF_RESET_AFTER)).toBe(1);
});

test("no delay before the first spawn", () => {
  expect(backoffDelay(0, 10)).toBe(0);
});
