// `sup config` and `sup check` as a user runs them.
import { expect, test } from "bun:test";
import { defaults } from "../../src/config/schema.ts";
import { cleanEnv, dirWith, sup } from "../config/helpers.ts";

const INI = "[sup]\nprocesses = 4\ncommand = sh -c 'exit 0'\ntouch-reload = a\ntouch-reload = b\n";

test("sup config prints every key as TOML, with the source of non-defaults", async () => {
  const r = await sup(["config", "-c", "sup.ini"], dirWith({ "sup.ini": INI }));
  expect(r.code).toBe(0);
  const lines = r.stdout.trim().split("\n");
  expect(lines[0]).toMatch(/^# config file: .*sup\.ini$/);
  expect(lines).toContain("processes = 4  # set by sup.ini:2");
  expect(lines).toContain('touch-reload = ["a","b"]  # set by sup.ini:4');
  expect(lines).toContain('command = ["sh","-c","exit 0"]  # set by sup.ini:3');
  expect(lines).toContain('ready = "delay:1"');
  expect(lines.length).toBe(1 + Object.keys(defaults()).length);
});

test("sup config output is a TOML file that loads to the same config", async () => {
  const dir = dirWith({ "sup.ini": INI });
  const toml = (await sup(["config", "-c", "sup.ini"], dir)).stdout;
  const again = dirWith({ "sup.toml": toml });
  const [a, b] = await Promise.all([sup(["config", "-c", "sup.ini", "--json"], dir), sup(["config", "--json"], again)]);
  expect(JSON.parse(b.stdout)).toEqual(JSON.parse(a.stdout));
});

test("sup config --json prints the effective config as JSON", async () => {
  const r = await sup(["config", "--json", "-c", "sup.ini"], dirWith({ "sup.ini": INI }), cleanEnv({ SUP_SHELL: "true" }));
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual({ ...defaults(), processes: 4, command: ["sh", "-c", "exit 0"], "touch-reload": ["a", "b"], shell: true });
});

test("sup config --explain: an alias explains the key it sets", async () => {
  const r = await sup(["config", "--explain", "workers"], dirWith({ "sup.ini": "[uwsgi]\nworkers = 3\n" }));
  expect(r.stdout).toBe("# workers is an alias of processes\nprocesses = 3  (set by sup.ini:2)\n");
});

test("sup config --explain of an unknown key → exit 2 with did-you-mean", async () => {
  const r = await sup(["config", "--explain", "touch-reloads"], dirWith({}));
  expect(r.code).toBe(2);
  expect(r.stderr).toBe("sup: --explain touch-reloads: unknown key (did you mean touch-reload?)\n");
});

test("sup check: ok with the file named, exit 0", async () => {
  const r = await sup(["check"], dirWith({ "sup.ini": INI }));
  expect(r.stdout).toMatch(/^config ok \(.*sup\.ini\)\n$/);
  expect(r.code).toBe(0);
});

test("sup check without a file or command says so, exit 0", async () => {
  const r = await sup(["check"], dirWith({}));
  expect(r.stdout).toStartWith("config ok (no config file); no command yet");
  expect(r.code).toBe(0);
});

test("sup check: a command that is not in PATH → exit 2 naming it and where it was set", async () => {
  const r = await sup(["check"], dirWith({ "sup.toml": '\ncommand = ["no-such-program-sup", "x"]\n' }));
  expect(r.stderr).toBe('sup: command not found: "no-such-program-sup" (not an executable file on PATH); check the name, or use --shell for a shell command (command set by sup.toml:2)\n');
  expect(r.code).toBe(2);
});

test("sup check: where the command was set is said on the command's line only, not on a chdir or uid line that comes last", async () => {
  const r = await sup(["check"], dirWith({ "sup.toml": 'chdir = "/no/such/dir-sup"\nuid = "no-such-user-sup"\ncommand = ["no-such-program-sup"]\n' }));
  expect(r.stderr).toContain("chdir /no/such/dir-sup: not a directory; create it or fix --chdir\n");
  expect(r.stderr).toContain("uid no-such-user-sup: no such user (getpwnam); create it or use another\n");
  expect(r.stderr).not.toContain("(command set by");
  const one = await sup(["check"], dirWith({ "sup.toml": 'chdir = "/no/such/dir-sup"\ncommand = ["sh"]\n' }));
  expect(one.stderr).toBe("sup: chdir /no/such/dir-sup: not a directory; create it or fix --chdir\n");
});

test("sup check: a relative command path is looked up from chdir", async () => {
  const dir = dirWith({ "app/run.sh": "#!/bin/sh\n", "sup.toml": 'chdir = "app"\ncommand = "./run.sh"\n' });
  const bad = await sup(["check"], dir);
  expect(bad.stderr).toMatch(/command not found: "\.\/run\.sh" \(not an executable file at \S+\/app\/run\.sh\).*\(command set by sup\.toml:2\)/);
  expect(bad.code).toBe(2);
  const { chmodSync } = await import("node:fs");
  chmodSync(`${dir}/app/run.sh`, 0o755);
  expect((await sup(["check"], dir)).code).toBe(0);
});

test("sup check with shell = true leaves the command to the shell", async () => {
  const r = await sup(["check", "--shell", "--", "no-such-program-sup && x"], dirWith({}));
  expect(r.code).toBe(0);
});

test("sup config shows each program of a supervisord.conf or a Procfile (--json under programs); its TOML is a sup.toml that loads to the same programs", async () => {
  const conf = "[supervisord]\nenvironment=APP=\"x, y\"\n\n[program:api]\ncommand=/bin/sleep 10%(process_num)d\nnumprocs=2\nautostart=false\n\n[fcgi-program:asgi]\nsocket=tcp://127.0.0.1:8000\ncommand=/bin/cat\n";
  for (const [files, args] of [[{ "supervisord.conf": conf }, ["-c", "supervisord.conf"]], [{ Procfile: "release: true\nweb: sleep 100\n" }, ["--procfile", "Procfile"]]] as const) {
    const dir = dirWith(files);
    const json = await sup(["config", ...args, "--json"], dir);
    expect(json.code).toBe(0);
    const programs = JSON.parse(json.stdout).programs;
    expect(Object.keys(programs)).toEqual(args[0] === "-c" ? ["api", "asgi"] : ["release", "web"]);
    const toml = (await sup(["config", ...args], dir)).stdout;
    const again = await sup(["config", "--json"], dirWith({ "sup.toml": toml }));
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).programs).toEqual(programs);
  }
});
