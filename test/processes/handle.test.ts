import { expect, test } from "bun:test";
import { WorkerHandle, parseSignal, signalGroup } from "../../src/processes/handle.ts";

test("parseSignal takes names with or without SIG, any case, and numbers", () => {
  expect(parseSignal("TERM")).toBe("SIGTERM");
  expect(parseSignal("sigint")).toBe("SIGINT");
  expect(parseSignal("15")).toBe("SIGTERM");
  expect(parseSignal("FOO")).toBeUndefined();
  expect(parseSignal("999")).toBeUndefined();
});

test("signalGroup reaches a live process group and says when it is gone", async () => {
  const p = Bun.spawn(["sleep", "30"], { detached: true, stdio: ["ignore", "ignore", "ignore"] });
  try {
    expect(signalGroup(p.pid, 0)).toBe(true);
  } finally {
    process.kill(-p.pid, "SIGKILL");
  }
  await p.exited;
  expect(signalGroup(p.pid, 0)).toBe(false);
});

// Pids above the kernel's pid_max (2^22): a stray kill() can reach nobody.
test("term sends the stop signal once and escalates to SIGKILL only after the mercy", () => {
  const w = new WorkerHandle(1, 1, 5_000_001, 0);
  w.term("SIGTERM", 1000, 2, "test");
  expect(w.state).toBe("stopping");
  expect(w.killAt).toBe(3000);
  expect(w.escalate(2999)).toBe(false);
  expect(w.escalate(3000)).toBe(true);
  expect(w.escalate(4000)).toBe(false); // once
});

test("the stderr kept for reports: a short one whole, each line cut at 500 bytes", () => {
  const w = new WorkerHandle(1, 1, 5_000_002, 0);
  for (let i = 0; i < 12; i++) w.noteStderr(`line ${i}`);
  w.noteStderr("x".repeat(2000));
  expect(w.stderrTail).toHaveLength(13);
  expect(w.stderrTail[0]).toBe("line 0");
  expect(w.stderrTail.at(-1)).toBe(`${"x".repeat(500)}…`);
});

test("stderr for a report keeps the first lines and the last, about 40 lines and 4 KB", () => {
  const w = new WorkerHandle(1, 1, 5_000_001, 0);
  w.noteStderr("Traceback (most recent call last):");
  for (let i = 1; i < 100; i++) w.noteStderr(`line ${i}`);
  const t = w.stderrTail;
  expect(t[0]).toBe("Traceback (most recent call last):");
  expect(t).toContain("… 60 lines left out …");
  expect(t.at(-1)).toBe("line 99");
  expect(t).toHaveLength(10 + 1 + 30);
  const long = new WorkerHandle(1, 1, 5_000_002, 0);
  for (let i = 0; i < 40; i++) long.noteStderr("x".repeat(400) + i);
  const kept = long.stderrTail;
  expect(kept.join("").length).toBeLessThanOrEqual(4096 + 40);
  expect(kept.at(-1)).toEndWith("39"); // the last line, always
});
