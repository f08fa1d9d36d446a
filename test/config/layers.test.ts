// Precedence through the five layers: defaults < file < environment section
// < SUP_* variables < flags, each value traceable to the layer that set it.
import { expect, test } from "bun:test";
import { cleanEnv, dirWith, load, sup } from "./helpers.ts";

const INI = `[sup]
processes = 2
worker-reload-mercy = 2
backoff-max = 2
check-interval = 2
touch-reload = file-a
touch-reload = file-b

[sup:production]
processes = 3
worker-reload-mercy = 3
backoff-max = 3
touch-reload = section
`;
const VARS = { SUP_ENV: "production", SUP_PROCESSES: "4", SUP_WORKER_RELOAD_MERCY: "4" };
const FLAGS = ["-c", "sup.ini", "--processes", "5"];

test("each layer overrides the ones below it, and remembers where", async () => {
  const dir = dirWith({ "sup.ini": INI });
  const { config, sources } = await load(FLAGS, dir, cleanEnv(VARS));
  expect(config).toMatchObject({ processes: 5, "worker-reload-mercy": 4, "backoff-max": 3, "check-interval": 2, "ready-timeout": 30 });
  expect(sources.processes).toEqual({ layer: "flag", where: "--processes" });
  expect(sources["worker-reload-mercy"]).toEqual({ layer: "env", where: "SUP_WORKER_RELOAD_MERCY" });
  expect(sources["backoff-max"]).toEqual({ layer: "env-section", where: "sup.ini:12" });
  expect(sources["check-interval"]).toEqual({ layer: "file", where: "sup.ini:5" });
  expect(sources["ready-timeout"]).toEqual({ layer: "default", where: "default" });
});

test("sup config --explain names the layer of each value", async () => {
  const dir = dirWith({ "sup.ini": INI });
  const explain = async (key: string) => {
    const r = await sup(["config", ...FLAGS, "--explain", key], dir, cleanEnv(VARS));
    expect(r.code).toBe(0);
    return r.stdout.trim();
  };
  const [flag, variable, section, file, dflt] = await Promise.all(
    ["processes", "worker-reload-mercy", "backoff-max", "check-interval", "ready-timeout"].map(explain),
  );
  expect(flag).toBe("processes = 5  (flag --processes)");
  expect(variable).toBe("worker-reload-mercy = 4  (SUP_WORKER_RELOAD_MERCY)");
  expect(section).toBe('backoff-max = 3  (set by sup.ini:12, environment "production")');
  expect(file).toBe("check-interval = 2  (set by sup.ini:5)");
  expect(dflt).toBe("ready-timeout = 30  (default)");
});

test("lists replace, never concatenate, at every layer", async () => {
  const dir = dirWith({ "sup.ini": INI });
  expect((await load(["-c", "sup.ini"], dir)).config["touch-reload"]).toEqual(["file-a", "file-b"]);
  expect((await load(["-c", "sup.ini", "--env-name", "production"], dir)).config["touch-reload"]).toEqual(["section"]);
  const vars = cleanEnv({ SUP_ENV: "production", SUP_TOUCH_RELOAD: "var-a,var-b" });
  expect((await load(["-c", "sup.ini"], dir, vars)).config["touch-reload"]).toEqual(["var-a", "var-b"]);
  const flags = await load(["-c", "sup.ini", "--touch-reload", "flag-a", "--touch-reload", "flag-b"], dir, vars);
  expect(flags.config["touch-reload"]).toEqual(["flag-a", "flag-b"]);
  expect(flags.sources["touch-reload"]).toEqual({ layer: "flag", where: "--touch-reload" });
});

test("the command after -- beats the file's command; SUP_COMMAND is split like a file's", async () => {
  const dir = dirWith({ "sup.toml": 'command = "bun a.ts"\n' });
  expect((await load([], dir)).config.command).toEqual(["bun", "a.ts"]);
  expect((await load([], dir, cleanEnv({ SUP_COMMAND: `python "my app.py"` }))).config.command).toEqual(["python", "my app.py"]);
  const r = await load(["--", "node", "b.js"], dir, cleanEnv({ SUP_COMMAND: "python x.py" }));
  expect(r.config.command).toEqual(["node", "b.js"]);
  expect(r.sources.command).toEqual({ layer: "flag", where: "command line" });
});

test("workers (uWSGI alias) sets processes", async () => {
  const r = await load([], dirWith({ "sup.ini": "[uwsgi]\nworkers = 6\n" }));
  expect(r.config.processes).toBe(6);
  expect(r.sources.processes!.where).toBe("sup.ini:2");
});

test("SUP_CONFIG names the file when no flag does; a flag wins over it", async () => {
  const dir = dirWith({ "a.ini": "[sup]\nprocesses = 2\n", "b.toml": "processes = 3\n" });
  const viaVar = await load([], dir, cleanEnv({ SUP_CONFIG: "a.ini" }));
  expect(viaVar.config.processes).toBe(2);
  expect(viaVar.sources.processes!.where).toBe("a.ini:2");
  expect((await load(["-c", "b.toml"], dir, cleanEnv({ SUP_CONFIG: "a.ini" }))).config.processes).toBe(3);
  expect((await load([], dir, cleanEnv({ SUP_TOML: "b.toml" }))).config.processes).toBe(3);
  await expect(load([], dir, cleanEnv({ SUP_CONFIG: "c.ini" }))).rejects.toThrow("SUP_CONFIG c.ini: config file c.ini does not exist");
});

test("an environment name without any config file is an error, not ignored", async () => {
  const dir = dirWith({});
  await expect(load(["--env-name", "prod"], dir)).rejects.toThrow('environment "prod" (--env-name) needs a config file');
  await expect(load([], dir, cleanEnv({ SUP_ENV: "prod" }))).rejects.toThrow('environment "prod" (SUP_ENV) needs a config file');
  const withFile = dirWith({ "sup.ini": "[sup]\n[sup:prod]\nprocesses = 9\n" });
  expect((await load([], withFile, cleanEnv({ SUP_ENV_NAME: "prod" }))).config.processes).toBe(9);
});
