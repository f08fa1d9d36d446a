import { expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCli } from "../../src/cli.ts";
import { EVENTS_SETTLE, loadConfig } from "../../src/config/load.ts";

const dir = mkdtempSync(join(tmpdir(), "sup-derived-"));
const load = (argv: string[]) => loadConfig(parseCli([...argv, "--", "true"]), {}, dir);

test("the events engine settles for 50 ms unless autoreload-settle is set", async () => {
  expect((await load([])).config["autoreload-settle"]).toBe(0.3);
  const ev = await load(["--autoreload-engine", "events"]);
  expect(ev.config["autoreload-settle"]).toBe(EVENTS_SETTLE);
  expect(ev.sources["autoreload-settle"]).toEqual({ layer: "default", where: "default with autoreload-engine = events" });
  expect((await load(["--autoreload-engine", "events", "--autoreload-settle", "0.5"])).config["autoreload-settle"]).toBe(0.5);
});
