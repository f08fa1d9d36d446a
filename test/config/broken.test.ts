// A corpus of broken configs, each run through the real CLI (`sup check`):
// exit 2, and a message that names the file and, where there is one, the line.
import { expect, test } from "bun:test";
import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { cleanEnv, dirWith, sup } from "./helpers.ts";

interface Case {
  name: string;
  files: Record<string, string>;
  args?: string[]; // default: check -c <first file>
  env?: Record<string, string>;
  message: string | RegExp;
}

const ini = (body: string) => ({ "sup.ini": `[sup]\n${body}` });
const uwsgi = (body: string) => ({ "uwsgi.ini": `[uwsgi]\n${body}` });

const CASES: Case[] = [
  // INI: our dialect
  { name: "ini unknown key", files: ini("processes = 2\ntouch-reloads = a\n"), message: 'sup.ini:3: unknown key "touch-reloads" (did you mean touch-reload?)' },
  { name: "ini processes = four", files: ini("processes = four\n"), message: 'sup.ini:2: processes must be a whole number, got "four"' },
  { name: 'ini processes = "four" (quotes are kept, as in uWSGI)', files: ini('processes = "four"\n'), message: "sup.ini:2: processes must be a whole number" },
  { name: "ini processes = 0", files: ini("processes = 0\n"), message: "sup.ini:2: processes must be at least 1" },
  { name: "ini processes = 2.5", files: ini("processes = 2.5\n"), message: "sup.ini:2: processes must be a whole number" },
  { name: "ini negative mercy", files: ini("\nworker-reload-mercy = -1\n"), message: "sup.ini:3: worker-reload-mercy must be at least 0" },
  { name: "ini bad enum", files: ini("log-format = xml\n"), message: "sup.ini:2: log-format must be one of text, json" },
  { name: "ini bad boolean", files: ini("shell = maybe\n"), message: "sup.ini:2: shell must be true or false" },
  { name: "ini unclosed section header", files: { "sup.ini": "[sup\nprocesses = 2\n" }, message: "sup.ini:1: section header [sup has no closing ]" },
  { name: "ini line that is not key = value", files: ini("processes = 2\nrun my app\n"), message: 'sup.ini:3: expected "key = value"' },
  { name: "ini empty key", files: ini("= 4\n"), message: "sup.ini:2: bad key name" },
  { name: "ini missing placeholder", files: ini("processes = 2\nchdir = %(base)/app\n"), message: "sup.ini:3: placeholder %(base) is not set in [sup]" },
  { name: "ini placeholder cycle", files: ini("a = %(b)\nb = %(a)\nchdir = %(a)\n"), message: "sup.ini:3: placeholder %(a) refers to itself" },
  { name: "ini unset environment variable", files: ini("env = HOME=$(SUP_TEST_UNSET)\n"), message: "sup.ini:2: environment variable SUP_TEST_UNSET is not set" },
  { name: "ini key outside a section", files: { "sup.ini": "processes = 2\n[sup]\n" }, message: 'sup.ini:1: key "processes" is outside any section' },
  { name: "ini no [sup] or [uwsgi] section", files: { "sup.ini": "[app]\nprocesses = 2\n" }, message: "sup.ini: no [sup] or [uwsgi] section" },
  { name: "ini FILE:SECTION that is missing", files: ini("processes = 2\n"), args: ["check", "--ini", "sup.ini:web"], message: "sup.ini: no [web] section" },
  { name: "ini environment name without a section", files: ini("processes = 2\n"), args: ["check", "--env-name", "staging"], message: "sup.ini: no [sup:staging] section" },
  { name: "ini SUP_ENV without a section", files: ini("processes = 2\n"), args: ["check"], env: { SUP_ENV: "staging" }, message: "sup.ini: no [sup:staging] section" },
  { name: "ini unknown key in the environment section", files: ini("processes = 2\n[sup:prod]\nprocess = 3\n"), args: ["check", "--env-name", "prod"], message: 'sup.ini:4: unknown key "process" (did you mean processes?)' },
  { name: "ini command with an unterminated quote", files: ini('command = python "app.py\n'), message: 'sup.ini:2: command: unterminated " quote' },
  { name: "ini command-line option as a key", files: ini("config = other.ini\n"), message: 'sup.ini:2: "config" is a command-line option, not a config key' },
  // INI: a [uwsgi] section, read as uWSGI reads it (every problem in one report)
  { name: "uwsgi unclosed section header", files: uwsgi("processes = 2\n[base\nx = 1\n"), message: "uwsgi.ini:3: section header [base has no closing ]" },
  { name: "uwsgi line that is not key = value (a merge conflict)", files: uwsgi("processes = 2\n<<<<<<< HEAD\n"), message: 'uwsgi.ini:3: <<<<<<< HEAD: expected "key = value", got "<<<<<<< HEAD"' },
  { name: "uwsgi include that does not exist", files: uwsgi("ini = %dbase.ini\n"), message: /uwsgi\.ini:2: \S*base\.ini does not exist/ },
  { name: "uwsgi typo uWSGI ignores silently", files: uwsgi("processes = 2\nguid = www-data\n"), message: "uwsgi.ini:3: guid = www-data: not a uWSGI option (did you mean gid?)" },
  { name: "uwsgi processes = 0", files: uwsgi("\nprocesses = 0\n"), message: "uwsgi.ini:3: processes must be at least 1" },
  { name: "uwsgi uwsgi protocol socket names the nginx line to change", files: uwsgi("socket = 127.0.0.1:3031\n"), message: "uwsgi.ini:2: socket = 127.0.0.1:3031: uWSGI's binary protocol, which only uWSGI speaks: change nginx's `uwsgi_pass ADDR;`" },
  { name: "uwsgi comment kept in a value", files: uwsgi("chdir = /srv/app ; the app\n"), message: 'uwsgi.ini:2: chdir = /srv/app ; the app: the value is "/srv/app ; the app": uWSGI keeps text after' },
  { name: "uwsgi unset environment variable", files: uwsgi("http-socket = :$(SUP_TEST_UNSET)\n"), message: "uwsgi.ini:2: http-socket = :$(SUP_TEST_UNSET): environment variable SUP_TEST_UNSET is not set" },
  { name: "uwsgi byte order mark before [uwsgi]", files: { "uwsgi.ini": "\uFEFF[uwsgi]\nprocesses = 2\n" }, message: "uwsgi.ini:1: the file starts with a byte order mark" },
  { name: "uwsgi strict = true refuses a key that is no option", files: uwsgi("strict = true\nproject = x\n"), message: "uwsgi.ini:3: project = x: not a uWSGI option: with strict = true uWSGI refuses it" },
  { name: "uwsgi several problems, all in one run", files: uwsgi("guid = x\nprocess = 2\n[bad\n"), message: /uwsgi\.ini:4: section header \[bad[^]*uwsgi\.ini:2: guid[^]*uwsgi\.ini:3: process/ },
  // TOML through c12
  { name: "toml unfinished array", files: { "sup.toml": 'processes = 2\ntouch-reload = ["a",\n' }, message: /sup\.toml:\d+: TOML syntax error/ },
  { name: "toml missing value", files: { "sup.toml": "processes = 2\nchdir =\n" }, message: "sup.toml:2: TOML syntax error" },
  { name: "toml duplicate key", files: { "sup.toml": "processes = 2\nprocesses = 3\n" }, message: "sup.toml:2: TOML syntax error" },
  { name: 'toml processes = "four"', files: { "sup.toml": 'processes = "four"\n' }, message: 'sup.toml:1: processes must be a whole number, got "four"' },
  { name: "toml processes = 0", files: { "sup.toml": "\nprocesses = 0\n" }, message: "sup.toml:2: processes must be at least 1" },
  { name: "toml unknown key", files: { "sup.toml": "procesess = 2\n" }, message: 'sup.toml:1: unknown key "procesess" (did you mean processes?)' },
  { name: "toml list given a number", files: { "sup.toml": "touch-reload = 5\n" }, message: "sup.toml:1: touch-reload must be a list of strings" },
  { name: "toml wrong type in the environment section", files: { "sup.toml": 'processes = 1\n[production]\nprocesses = "x"\n' }, args: ["check", "--env-name", "production"], message: "sup.toml:3: processes must be a whole number" },
  { name: "toml environment without a table", files: { "sup.toml": "processes = 1\n" }, args: ["check", "--env-name", "production"], message: 'sup.toml: no "production" table' },
  // JSON
  { name: "json trailing comma", files: { "sup.json": '{\n  "processes": 2,\n}\n' }, message: "sup.json:3: JSON syntax error" },
  { name: "json missing colon", files: { "sup.json": '{\n  "processes" 2\n}\n' }, message: 'sup.json:2: JSON syntax error: expected ":" after "processes"' },
  { name: "json unterminated string", files: { "sup.json": '{\n  "chdir": "/srv\n}\n' }, message: "sup.json:2: JSON syntax error" },
  { name: "json not an object", files: { "sup.json": "[1, 2]\n" }, message: "sup.json:1: expected a table" },
  { name: "json unknown key", files: { "sup.json": '{\n  "processes": 2,\n  "touch_reload": ["a"]\n}\n' }, message: 'sup.json:3: unknown key "touch_reload" (did you mean touch-reload?)' },
  { name: "json every problem in one run", files: { "sup.json": '{\n  "procesess": 2,\n  "ready-timeout": "soon",\n  "touch_reload": ["a"]\n}\n' }, message: /3 problems in sup\.json:\n {2}sup\.json:2: unknown key "procesess"[^]*sup\.json:4: unknown key "touch_reload"[^]*sup\.json:3: ready-timeout must be a number/ },
  { name: 'json processes = "four"', files: { "sup.json": '{"processes": "four"}' }, message: "sup.json:1: processes must be a whole number" },
  { name: "json processes = 0", files: { "sup.json": '{\n"processes": 0}' }, message: "sup.json:2: processes must be at least 1" },
  { name: "json bad boolean", files: { "sup.json": '{\n\n"log-prefix": "sometimes"}' }, message: "sup.json:3: log-prefix must be true or false" },
  { name: "json option given a table", files: { "sup.json": '{\n  "processes": {"n": 2}\n}' }, message: "sup.json:2: processes must be a whole number" },
  // YAML through c12 (named with -c)
  { name: "yaml bad indentation", files: { "sup.yaml": "processes: 2\n  chdir: : [\n" }, message: "sup.yaml:2: YAML syntax error" },
  { name: "yaml unknown key", files: { "sup.yaml": "processes: 2\nautoreload-wach: [src]\n" }, message: 'sup.yaml:2: unknown key "autoreload-wach" (did you mean autoreload-watch?)' },
  // Files
  { name: "missing file", files: {}, args: ["check", "-c", "nope.ini"], message: "-c nope.ini: config file nope.ini does not exist" },
  { name: "unknown format", files: { "app.txt": "processes = 1\n" }, message: "cannot tell the format of app.txt" },
];

for (const c of CASES) {
  test(`broken config: ${c.name} → exit 2, names file and line`, async () => {
    const dir = dirWith(c.files);
    const first = Object.keys(c.files)[0];
    const r = await sup(c.args ?? ["check", "-c", first!], dir, cleanEnv(c.env));
    expect(r.stdout).toBe("");
    if (typeof c.message === "string") expect(r.stderr).toContain(c.message);
    else expect(r.stderr).toMatch(c.message);
    expect(r.stderr.startsWith("sup: ")).toBe(true);
    expect(r.code).toBe(2);
  });
}

test("broken config: unreadable file (a directory) → exit 2", async () => {
  const dir = dirWith({});
  mkdirSync(join(dir, "sup.ini"));
  const r = await sup(["check", "-c", "sup.ini"], dir);
  expect(r.stderr).toContain("sup.ini: config file is a directory");
  expect(r.code).toBe(2);
});

// Root reads a mode-000 file anyway: as root, the case runs as nobody (65534).
test("broken config: unreadable file (mode 000) → exit 2", async () => {
  const dir = dirWith({ "sup.ini": "[sup]\n" });
  chmodSync(dir, 0o755); // nobody must reach the file to be refused it
  chmodSync(join(dir, "sup.ini"), 0);
  const asNobody = process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
  const r = await sup(["check", "-c", "sup.ini"], dir, cleanEnv(), asNobody);
  expect(r.stderr).toContain("sup.ini: config file cannot be read (EACCES: permission denied)");
  expect(r.code).toBe(2);
});

test("the corpus has at least 30 broken configs", () => {
  expect(CASES.length + 1).toBeGreaterThanOrEqual(30);
});
