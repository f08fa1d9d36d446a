// The same settings written as INI, TOML, JSON and YAML load to the same
// effective config, with the line of every key.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { dirWith, load } from "./helpers.ts";

const FILES = {
  "sup.ini": `; the same settings in every format
[sup]
processes = 3
command = bun worker.ts --name "my app"
touch-reload = a.txt
touch-reload = b.txt
env = A=1
env = B=two words
worker-reload-mercy = 2.5
log-format = json
master

[sup:production]
processes = 8
touch-reload = prod.txt
`,
  "sup.toml": `# the same settings in every format
processes = 3
command = ["bun", "worker.ts", "--name", "my app"]
touch-reload = ["a.txt", "b.txt"]
env = ["A=1", "B=two words"]
worker-reload-mercy = 2.5
log-format = "json"
master = true

[production]
processes = 8
touch-reload = ["prod.txt"]
`,
  "sup.json": `{
  "processes": 3,
  "command": "bun worker.ts --name 'my app'",
  "touch-reload": ["a.txt", "b.txt"],
  "env": ["A=1", "B=two words"],
  "worker-reload-mercy": 2.5,
  "log-format": "json",
  "master": true,
  "$production": {
    "processes": 8,
    "touch-reload": ["prod.txt"]
  }
}
`,
  "sup.yaml": `# the same settings in every format
processes: 3
command: [bun, worker.ts, --name, my app]
touch-reload:
  - a.txt
  - b.txt
env: ["A=1", "B=two words"]
worker-reload-mercy: 2.5
log-format: json
master: true
production:
  processes: 8
  touch-reload: [prod.txt]
`,
};

const BASE = {
  processes: 3,
  command: ["bun", "worker.ts", "--name", "my app"],
  "touch-reload": ["a.txt", "b.txt"],
  env: ["A=1", "B=two words"],
  "worker-reload-mercy": 2.5,
  "log-format": "json",
  master: true,
};
const LINES: Record<string, Record<string, number>> = {
  "sup.ini": { processes: 3, command: 4, "touch-reload": 5, "log-format": 10 },
  "sup.toml": { processes: 2, command: 3, "touch-reload": 4, "log-format": 7 },
  "sup.json": { processes: 2, command: 3, "touch-reload": 4, "log-format": 7 },
  "sup.yaml": { processes: 2, command: 3, "touch-reload": 4, "log-format": 9 },
};
const PROD_LINES: Record<string, number> = { "sup.ini": 14, "sup.toml": 11, "sup.json": 10, "sup.yaml": 12 };

describe.each(Object.keys(FILES))("%s", (name) => {
  const dir = dirWith(FILES);

  test("gives the same effective config as the others", async () => {
    const { config, file } = await load(["-c", name], dir);
    expect(file).toBe(join(dir, name));
    expect(config).toMatchObject(BASE);
    const ini = await load(["-c", "sup.ini"], dir);
    expect(config).toEqual(ini.config);
  });

  test("records file:line for every key it set", async () => {
    const { sources } = await load(["-c", name], dir);
    for (const [key, line] of Object.entries(LINES[name]!)) expect(sources[key]).toEqual({ layer: "file", where: `${name}:${line}` });
    expect(sources["ready-timeout"]).toEqual({ layer: "default", where: "default" });
  });

  test("its production section applies on top, and its list replaces the base list", async () => {
    const { config, sources } = await load(["-c", name, "--env-name", "production"], dir);
    expect(config).toMatchObject({ ...BASE, processes: 8, "touch-reload": ["prod.txt"] });
    expect(sources.processes).toEqual({ layer: "env-section", where: `${name}:${PROD_LINES[name]}` });
    const viaVar = await load(["-c", name], dir, { SUP_ENV: "production" });
    expect(viaVar.config.processes).toBe(8);
  });

  test("NODE_ENV never picks a section", async () => {
    const { config } = await load(["-c", name], dir, { NODE_ENV: "production" });
    expect(config.processes).toBe(3);
  });
});

describe("finding the file", () => {
  test("without -c: sup.toml, sup.ini, sup.json, .suprc in that order", async () => {
    const all = dirWith({ "sup.toml": "processes = 1\n", "sup.ini": "[sup]\nprocesses = 2\n", "sup.json": '{"processes": 3}', ".suprc": "processes = 4\n" });
    expect((await load([], all)).config.processes).toBe(1);
    expect((await load([], dirWith({ "sup.ini": "[sup]\nprocesses = 2\n", "sup.json": '{"processes": 3}' }))).config.processes).toBe(2);
    expect((await load([], dirWith({ "sup.json": '{"processes": 3}', ".suprc": "processes = 4\n" }))).config.processes).toBe(3);
    const rc = await load([], dirWith({ ".suprc": "processes = 4\n" }));
    expect(rc.config.processes).toBe(4);
    expect(rc.sources.processes!.where).toBe(".suprc:1");
  });

  test("no file at all: defaults", async () => {
    const r = await load([], dirWith({}));
    expect(r.file).toBeUndefined();
    expect(r.config.processes).toBe(1);
  });

  test("--ini/--toml/--json FILE:SECTION pick the format and the section", async () => {
    const dir = dirWith({ "app.conf": "[web]\nprocesses = 5\n", "s.toml": "processes = 1\n[web]\nprocesses = 6\n", "s.json": '{"web": {"processes": 7}}' });
    expect((await load(["--ini", "app.conf:web"], dir)).config.processes).toBe(5);
    expect((await load(["--toml", "s.toml:web"], dir)).config.processes).toBe(6);
    expect((await load(["--json", "s.json:web"], dir)).config.processes).toBe(7);
    expect((await load(["-c", "app.conf:web", "--ini", "app.conf:web"], dir)).sources.processes!.where).toBe("app.conf:2");
  });

  test("c12's $env.NAME spelling is an environment section too", async () => {
    const dir = dirWith({ "sup.json": '{"processes": 1, "$env": {"staging": {"processes": 2}}}' });
    expect((await load(["--env-name", "staging"], dir)).config.processes).toBe(2);
  });

  test("a file is read again on every load (a reload sees the new text)", async () => {
    for (const [name, before, after] of [
      ["r.json", '{"processes": 2}', '{"processes": 5}'],
      ["r.toml", "processes = 2\n", "processes = 5\n"],
      ["r.ini", "[sup]\nprocesses = 2\n", "[sup]\nprocesses = 5\n"],
    ] as const) {
      const dir = dirWith({ [name]: before });
      expect((await load(["-c", name], dir)).config.processes).toBe(2);
      writeFileSync(join(dir, name), after);
      expect((await load(["-c", name], dir)).config.processes).toBe(5);
    }
  });
});
