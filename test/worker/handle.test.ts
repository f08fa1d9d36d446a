import { expect, test } from "bun:test";
import { groupAlive, parseSignal } from "../../src/worker/handle.ts";

test("parseSignal takes names with or without SIG, any case, and numbers", () => {
  expect(parseSignal("TERM")).toBe("SIGTERM");
  expect(parseSignal("sigint")).toBe("SIGINT");
  expect(parseSignal("15")).toBe("SIGTERM");
  expect(parseSignal("FOO")).toBeUndefined();
  expect(parseSignal("999")).toBeUndefined();
});

test("groupAlive sees a live process group, and not one that is gone", async () => {
  const p = Bun.spawn(["sleep", "30"], { detached: true, stdio: ["ignore", "ignore", "ignore"] });
  try {
    expect(groupAlive(p.pid)).toBe(true);
  } finally {
    process.kill(-p.pid, "SIGKILL");
  }
  await p.exited;
  expect(groupAlive(p.pid)).toBe(false);
});
