import { expect, test } from "bun:test";
import { MASTER_SIGNALS, SIGNAL_TABLE, eventForSignal } from "../../src/master/signals.ts";
import { readFileSync } from "node:fs";

test("the table covers the nine master signals of DESIGN.md section 3", () => {
  expect([...MASTER_SIGNALS].sort() as string[]).toEqual(["SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGTTIN", "SIGTTOU", "SIGUSR1", "SIGUSR2"].sort());
});

test("HUP reloads, USR2 reloads one at a time", () => {
  expect(eventForSignal("SIGHUP", false)).toEqual({ type: "reload", reason: "signal HUP", rolling: false });
  expect(eventForSignal("SIGUSR2", false)).toEqual({ type: "reload", reason: "signal USR2", rolling: true });
});

test("TERM is graceful, QUIT immediate", () => {
  expect(eventForSignal("SIGTERM", false)).toMatchObject({ type: "stop", now: false });
  expect(eventForSignal("SIGQUIT", false)).toMatchObject({ type: "stop", now: true });
});

test("INT is graceful the first time and immediate the second", () => {
  expect(eventForSignal("SIGINT", false)).toMatchObject({ type: "stop", now: false });
  expect(eventForSignal("SIGINT", true)).toMatchObject({ type: "stop", now: true });
});

test("TTIN/TTOU scale by one; USR1 asks for the status table", () => {
  expect(eventForSignal("SIGTTIN", false)).toMatchObject({ type: "scale", delta: 1 });
  expect(eventForSignal("SIGTTOU", false)).toMatchObject({ type: "scale", delta: -1 });
  expect(eventForSignal("SIGUSR1", false)).toEqual({ type: "status" });
});

test("SIGNALS.md documents every signal in the table", () => {
  const doc = readFileSync(new URL("../../SIGNALS.md", import.meta.url), "utf8");
  for (const sig of Object.keys(SIGNAL_TABLE)) expect(doc).toContain(`| ${sig.slice(3)} `);
});
