// A worker's group as /metrics and sup top count it: the leader and its
// descendants still in its group, each once; one that left the group
// (setsid) is not counted; a group that is gone has no entry.
import { afterEach, expect, test } from "bun:test";
import { Usage, groupUsage } from "../../src/processes/usage.ts";

const started: number[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {}
  }
});

/** A group leader running `script`, in its own process group (as sup's workers are). */
function group(script: string): number {
  const p = Bun.spawn(["sh", "-c", script], { detached: true, stdio: ["ignore", "ignore", "ignore"] });
  started.push(p.pid);
  return p.pid;
}

async function until<T>(f: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("timed out");
    await Bun.sleep(20);
  }
}

test("counts the leader and its descendants in the group, not one that left it by setsid", async () => {
  const a = group("sleep 30 & (sleep 30 & wait) & setsid sleep 30 & wait");
  // sh, sleep, the subshell and its sleep are in the group; the setsid sleep is not.
  const u = await until(() => {
    const x = groupUsage([a]).get(a);
    return x && x.processes === 4 ? x : undefined;
  });
  expect(u.rss).toBeGreaterThan(1 << 20);
  expect(u.cpu).toBeGreaterThanOrEqual(0);
  await Bun.sleep(200);
  expect(groupUsage([a]).get(a)!.processes).toBe(4);
  process.kill(-a, "SIGKILL");
  await until(() => (groupUsage([a]).has(a) ? undefined : true));
});

test("the cache reads again after its time, or when the groups change", async () => {
  let now = 0;
  const cache = new Usage(1000, () => now);
  const a = group("sleep 30");
  const first = cache.of([a]);
  expect(cache.of([a])).toBe(first);
  now = 999;
  expect(cache.of([a])).toBe(first);
  now = 1000;
  expect(cache.of([a])).not.toBe(first);
  const b = group("sleep 30");
  const both = cache.of([a, b]);
  expect([...both.keys()].sort()).toEqual([a, b].sort());
});
