import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, renameSync, rmSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { watchTouchFiles, type TouchEvent } from "../../src/watch/touch.ts";

const INTERVAL = 0.02; // s
let dir: string;
let events: TouchEvent[];
let logs: string[];
let stop: () => void = () => {};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const start = (files: string[], chainFiles: string[] = []) => {
  ({ stop } = watchTouchFiles({ files, chainFiles, interval: INTERVAL, cwd: dir }, (e) => events.push(e), (m) => logs.push(m)));
};
async function waitFor(n: number, ms = 2000) {
  for (const end = Date.now() + ms; Date.now() < end && events.length < n; ) await sleep(5);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sup-touch-"));
  events = [];
  logs = [];
});
afterEach(() => {
  stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("watchTouchFiles", () => {
  test("an untouched file never reloads (the first check only records)", async () => {
    writeFileSync(join(dir, "app.ini"), "x");
    start(["app.ini"]);
    await sleep(INTERVAL * 1000 * 10);
    expect(events).toEqual([]);
    expect(logs).toEqual([]);
  });
  test("a new mtime reloads once, even within the same second", async () => {
    const f = join(dir, "app.ini");
    writeFileSync(f, "x");
    utimesSync(f, 1_700_000_000.25, 1_700_000_000.25);
    start(["app.ini"]);
    await sleep(INTERVAL * 1000 * 3);
    utimesSync(f, 1_700_000_000.5, 1_700_000_000.5);
    await waitFor(1);
    await sleep(INTERVAL * 1000 * 5);
    expect(events).toEqual([{ file: "app.ini", rolling: false, why: "modified" }]);
  });
  test("a missing file is logged once and reloads when created, then when deleted", async () => {
    start([], ["later.ini"]);
    expect(logs).toEqual(["touch-chain-reload later.ini: not there yet, will reload when it is created"]);
    await sleep(INTERVAL * 1000 * 3);
    expect(events).toEqual([]);
    writeFileSync(join(dir, "later.ini"), "");
    await waitFor(1);
    expect(events).toEqual([{ file: "later.ini", rolling: true, why: "created" }]);
    unlinkSync(join(dir, "later.ini"));
    await waitFor(2);
    expect(events[1]).toEqual({ file: "later.ini", rolling: true, why: "deleted" });
    expect(logs.length).toBe(1);
  });
  test("a file replaced by rename reloads", async () => {
    const f = join(dir, "app.ini");
    writeFileSync(f, "old");
    start(["app.ini"]);
    await sleep(INTERVAL * 1000 * 3);
    writeFileSync(join(dir, "tmp"), "new");
    renameSync(join(dir, "tmp"), f);
    await waitFor(1);
    expect(events).toEqual([{ file: "app.ini", rolling: false, why: "modified" }]);
  });
});
