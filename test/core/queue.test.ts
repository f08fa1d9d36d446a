import { expect, test } from "bun:test";
import { Queue } from "../../src/core/queue.ts";

test("take() returns items in push order", async () => {
  const q = new Queue<number>();
  q.push(1);
  q.push(2);
  expect(await q.take()).toBe(1);
  expect(await q.take()).toBe(2);
  expect(q.size).toBe(0);
});

test("take() waits for a push when empty", async () => {
  const q = new Queue<string>();
  const got = q.take();
  let settled = false;
  void got.then(() => (settled = true));
  await Bun.sleep(5);
  expect(settled).toBe(false);
  q.push("x");
  expect(await got).toBe("x");
});

test("items pushed while nobody waits are kept", async () => {
  const q = new Queue<number>();
  for (let i = 0; i < 100; i++) q.push(i);
  const out: number[] = [];
  for (let i = 0; i < 100; i++) out.push(await q.take());
  expect(out).toEqual([...Array(100).keys()]);
});
