// The status table (sup status, USR1) shows what workers say without letting
// them draw on the reader's terminal or forge a row.
import { expect, test } from "bun:test";
import { statusTable, type StatusReport } from "../../src/control/status.ts";

const report = (status: string, lastStderr: string[] = []): StatusReport => ({
  master: { pid: 10, uptime: 1, generation: 1, target: 1, stopping: false, reloading: false },
  workers: [{ id: 1, pid: 11, generation: 1, state: "ready", uptime: 1, restarts: 0, rss: 0, status }],
  crashing: lastStderr.length ? [{ id: 1, failures: 5, lastStderr, waitingForChange: false }] : [],
  programs: [{ name: "", state: "ready", restart: "always", generation: 1, target: 1, ready: 1, done: [] }],
});

test("a worker's STATUS= with \\r and escape sequences is shown with them as \\xNN: no forged row, nothing sent to the terminal", () => {
  const lines = statusTable(report("serving\r2   4711     1    ready\x1b]0;owned\x07\x1b[31mred\x9b"));
  const row = lines.at(-1)!;
  expect(row).toEndWith("serving\\x0d2   4711     1    ready\\x1b]0;owned\\x07\\x1b[31mred\\x9b");
  expect(lines.join("\n")).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
});

test("a crash loop's last stderr lines are shown the same way", () => {
  const lines = statusTable(report("", ["boom \x1b[2J", "plain é"]));
  expect(lines.slice(-2)).toEqual(["    boom \\x1b[2J", "    plain é"]);
});
