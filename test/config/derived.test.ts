import { expect, test } from "bun:test";
import { parseCli } from "../../src/verbs/cli.ts";
import { EVENTS_SETTLE, loadConfig } from "../../src/config/load.ts";
import { autoreloadMode } from "../../src/config/schema.ts";
import { dirWith } from "./helpers.ts";

const dir = dirWith({}); // removed at the end (it was left in the temp dir)
const load = (argv: string[]) => loadConfig(parseCli([...argv, "--", "true"]), {}, dir);

test("the events engine settles for 10 ms unless autoreload-settle is set; the poller for 0.3 s", async () => {
  expect((await load([])).config["autoreload-settle"]).toBe(0.3);
  expect((await load(["--py-autoreload", "1"])).config["autoreload-settle"]).toBe(0.3);
  expect((await load(["--autoreload", "1", "--autoreload-engine", "poll"])).config["autoreload-settle"]).toBe(0.3);
  const ev = await load(["--autoreload", "1"]);
  expect(ev.config["autoreload-settle"]).toBe(EVENTS_SETTLE);
  expect(ev.sources["autoreload-settle"]).toEqual({ layer: "default", where: "default with the events engine" });
  expect((await load(["--py-autoreload", "2", "--autoreload-engine", "events"])).config["autoreload-settle"]).toBe(EVENTS_SETTLE);
  expect((await load(["--autoreload", "1", "--autoreload-settle", "0.5"])).config["autoreload-settle"]).toBe(0.5);
});

test("autoreload picks inotify events, py-autoreload polls as uWSGI does; an explicit engine wins", () => {
  const mode = (autoreload: number, py: number, engine: "auto" | "poll" | "events" = "auto") => autoreloadMode({ autoreload, "py-autoreload": py, "autoreload-engine": engine });
  expect(mode(0, 0)).toBeNull();
  expect(mode(0, 0, "events")).toBeNull();
  expect(mode(1, 0)).toEqual({ interval: 1, engine: "events" });
  expect(mode(0, 3)).toEqual({ interval: 3, engine: "poll" });
  expect(mode(2, 3)).toEqual({ interval: 2, engine: "events" });
  expect(mode(1, 0, "poll")).toEqual({ interval: 1, engine: "poll" });
  expect(mode(0, 3, "events")).toEqual({ interval: 3, engine: "events" });
});
