import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { Arbiter } from "../../src/supervisor/arbiter.ts";
import { MASTER_SIGNALS, SIGNAL_TABLE } from "../../src/supervisor/signals.ts";

test("the table covers the eight master signals of DESIGN.md section 3", () => {
  expect([...MASTER_SIGNALS].sort() as string[]).toEqual(["SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGTTIN", "SIGTTOU", "SIGUSR1", "SIGUSR2"].sort());
});

test("each signal names one method of the arbiter", () => {
  expect(SIGNAL_TABLE).toEqual({
    SIGHUP: "gracefulReload",
    SIGUSR2: "rollingReload",
    SIGTERM: "terminate",
    SIGINT: "interrupt",
    SIGQUIT: "quit",
    SIGUSR1: "reopenLogs",
    SIGTTIN: "scaleUp",
    SIGTTOU: "scaleDown",
  });
  for (const action of Object.values(SIGNAL_TABLE)) expect(typeof Arbiter.prototype[action]).toBe("function");
});

test("SIGNALS.md documents every signal in the table", () => {
  const doc = readFileSync(new URL("../../SIGNALS.md", import.meta.url), "utf8");
  for (const sig of Object.keys(SIGNAL_TABLE)) expect(doc).toContain(`| ${sig.slice(3)} `);
});
