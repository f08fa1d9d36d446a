// supervisord configs (test/fixtures/supervisord, modeled on public
// projects' files: SOURCES) read as programs: each [program:x] key mapped or
// noted, supervisor's %(…)s expansions, inline comments and continued values.
import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { parseEnvironment, readSupervisord } from "../../src/config/supervisord.ts";
import { ROOT, cleanEnv, dirWith, load as loadArgs, sup } from "./helpers.ts";

const FIX = join(ROOT, "test/fixtures/supervisord");
const load = async (file: string, env: Record<string, string> = {}) =>
  await loadConfig({ verb: "check", flags: [{ name: "config", value: join(FIX, file), flag: "-c" }], command: [], rolling: false, wait: false, now: false, json: false, args: [], help: false }, env, FIX);
const program = (l: Awaited<ReturnType<typeof load>>, name: string) => l.programs.find((p) => p.name === name)!.config;

test("laravel-queue.conf: numprocs, directory, user, stopwaitsecs, autorestart become sup's; logs and process_name are notes", async () => {
  const l = await load("laravel-queue.conf");
  expect(l.programs.map((p) => p.name)).toEqual(["queue-worker"]);
  const c = program(l, "queue-worker");
  expect(c.command).toEqual(["php", "/var/www/app/artisan", "queue:work", "--sleep=3", "--tries=3", "--max-time=3600"]);
  expect(c.processes).toBe(2);
  expect(c.chdir).toBe("/var/www/app");
  expect(c.uid).toBe("www-data");
  expect(c["worker-reload-mercy"]).toBe(3600);
  expect(c.restart).toBe("always");
  expect(c.ready).toBe("delay:1");
  expect(l.notes!.join("\n")).toContain("laravel-queue.conf:3: process_name: sup names each worker by its program and id");
  expect(l.notes!.join("\n")).toContain("stdout_logfile: sup writes the output of every program to its own stdout and stderr, or to --logto FILE");
});

test("docker-nginx-app.conf: [supervisord]'s pidfile; its logfile (here /dev/null) is supervisord's own log, not the programs' output, so not logto; quoted commands, environment with %(ENV_X)s", async () => {
  const l = await load("docker-nginx-app.conf", { WORKERS: "4" });
  expect(l.config.pidfile).toBe("/tmp/supervisord.pid");
  expect(l.config.logto).toBe("");
  expect(l.notes).toContain("docker-nginx-app.conf:4: logfile: supervisord's own log file: sup writes its log and every program's output to its stdout and stderr (logto FILE sends both to a file)");
  expect(program(l, "nginx").command).toEqual(["nginx", "-g", "daemon off;"]);
  expect(program(l, "app").env).toEqual(["APP_ENV=production", "WORKERS=4"]);
  expect(l.notes!.join("\n")).toContain("stopasgroup: sup always signals the worker's whole process group");
  expect(l.notes!.join("\n")).toContain("docker-nginx-app.conf:5: logfile_maxbytes: a supervisord setting sup has no use for");
});

test("tornado-conf-d.conf: `;` after blanks starts a comment, as supervisor reads it", async () => {
  const l = await load("tornado-conf-d.conf");
  expect(l.programs.map((p) => p.name)).toEqual(["example-8888", "jobman"]);
  expect(program(l, "example-8888").chdir).toBe("/var/www/example");
  expect(program(l, "example-8888").restart).toBe("always");
  expect(program(l, "jobman").ready).toBe("delay:10");
});

test("celery-multiline.conf: continued values, %(here)s, autorestart unexpected and false, [group:x] is each member's group; an [include] that matches nothing adds nothing", async () => {
  const l = await load("celery-multiline.conf", { CELERY_CONCURRENCY: "8" });
  const web = program(l, "web");
  expect(web.command[0]).toBe(`${FIX}/venv/bin/gunicorn`);
  expect(web.env).toEqual(["DJANGO_SETTINGS_MODULE=proj.settings.production", "PYTHONUNBUFFERED=1"]);
  expect(web.restart).toBe("always");
  expect(web["stop-signal"]).toBe("INT");
  expect(program(l, "celery").command).toContain("--concurrency=8");
  expect(program(l, "beat").restart).toBe("never");
  const notes = l.notes!.join("\n");
  expect(l.programs.map((p) => p.config.group)).toEqual(["proj", "proj", "proj"]);
  expect(l.programs.map((p) => p.name)).toEqual(["web", "celery", "beat"]);
  expect(notes).toContain("priority: start order in sup is depends-on");
});

test("an unknown key in a [program:x] section is an error with file:line; environment values keep their commas in quotes", () => {
  const r = readSupervisord("[program:a]\ncommand=true\nnumprocs=1\nautorestrat=true\n", "/x/s.conf", {});
  expect(r.problems).toEqual([{ line: 4, message: "autorestrat: not a supervisord program option (did you mean autorestart?); supervisord ignores it without a word, sup stops here: fix or remove it" }]);
  expect(parseEnvironment(`A="1,2",B=two, C='x,y'`)).toEqual(["A=1,2", "B=two", "C=x,y"]);
});

test("[include] files = as supervisord reads it: globs beside the including file, in name order, nested; an unset %(ENV_X)s is an error, as in supervisord", async () => {
  const dir = dirWith({
    "supervisord.conf": "[supervisord]\nnodaemon=true\n\n[program:web]\ncommand=python3 -m http.server %(ENV_PORT)s\n\n[include]\nfiles = conf.d/*.conf more.ini\n",
    "conf.d/b-worker.conf": "[program:worker]\ncommand=/bin/sleep 1000\nnumprocs=2\nbogus=1\n\n[include]\nfiles=../nested/*.conf\n",
    "conf.d/a-beat.conf": "[program:beat]\ncommand=/bin/sleep 999\n",
    "nested/x.conf": "[program:x]\ncommand=/bin/true\nautorestart=false\n",
  });
  try {
    const r = readSupervisord(readFileSync(join(dir, "supervisord.conf"), "utf8"), join(dir, "supervisord.conf"), {});
    expect(r.programs.map((p) => `${p.name} ${p.where ?? p.line}`)).toEqual(["web 4", "beat conf.d/a-beat.conf:1", "worker conf.d/b-worker.conf:1", "x nested/x.conf:1"]);
    expect(r.problems).toEqual([
      { line: 5, message: "command: %(ENV_PORT)s: PORT is not set in the environment (supervisord refuses this too); set it, or write the value" },
      { line: 4, where: "conf.d/b-worker.conf:4", message: "bogus: not a supervisord program option; supervisord ignores it without a word, sup stops here: fix or remove it" },
    ]);
    const ok = readSupervisord(readFileSync(join(dir, "supervisord.conf"), "utf8"), join(dir, "supervisord.conf"), { PORT: "8001" });
    expect(ok.entries.find((e) => e.program === "web" && e.key === "command")!.value).toBe("python3 -m http.server 8001");
    expect(ok.entries.find((e) => e.program === "worker" && e.key === "processes")).toMatchObject({ value: 2, where: "conf.d/b-worker.conf:3" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("every fixture reads without an error", async () => {
  for (const f of ["laravel-queue.conf", "docker-nginx-app.conf", "tornado-conf-d.conf", "celery-multiline.conf"]) {
    const l = await load(f, { WORKERS: "1", CELERY_CONCURRENCY: "1" });
    expect(l.programs.length).toBeGreaterThan(0);
    expect(readFileSync(join(FIX, "SOURCES"), "utf8")).toContain(f);
  }
});

const read = (text: string, env: Record<string, string> = {}) => readSupervisord(text, "/srv/app/supervisord.conf", env);
const value = (r: ReturnType<typeof read>, program: string | undefined, key: string) => r.entries.findLast((e) => e.program === program && e.key === key)?.value;

test("`#` after a blank starts a comment too (supervisor's inline_comment_prefixes), not only `;`", () => {
  const r = read("[program:web]\ncommand=python3 app.py --port 8000 # the app\ndirectory=/srv/app\t# its code\n");
  expect(value(r, "web", "command")).toBe("python3 app.py --port 8000");
  expect(value(r, "web", "chdir")).toBe("/srv/app");
  // Without a blank before it, # is part of the value, as in supervisord.
  expect(value(read("[program:web]\ncommand=echo a#b\n"), "web", "command")).toBe("echo a#b");
});

test("every program reloads stop-first, as supervisorctl restart (it binds its own port); autorestart = unexpected is restart = always, with a note", () => {
  const r = read("[program:migrate]\ncommand=python3 migrate.py\nautorestart=false\n\n[program:web]\ncommand=python3 web.py\nautorestart=unexpected\n");
  expect(value(r, "migrate", "restart")).toBe("never");
  expect(value(r, "web", "restart")).toBe("always");
  expect(value(r, "web", "reload-strategy")).toBe("stop-first");
  expect(value(r, "migrate", "reload-strategy")).toBe("stop-first");
  expect(r.notes).toContain("supervisord.conf:7: autorestart: unexpected is restart = always in sup: a worker that exits 0 is respawned too, where supervisord would leave it stopped (sup's on-failure is for a one-shot task, whose reload waits for it to finish)");
});

test("[supervisord] environment = reaches every program, under the program's own, and its names are known to %(ENV_X)s", () => {
  const r = read('[supervisord]\nenvironment=APP_ENV="prod",HOME_DIR=/srv\n\n[program:a]\ncommand=/bin/ls %(ENV_HOME_DIR)s\n\n[program:b]\ncommand=/bin/true\nenvironment=APP_ENV="dev",B=1\n');
  expect(r.problems).toEqual([]);
  expect(value(r, undefined, "env")).toEqual(["APP_ENV=prod", "HOME_DIR=/srv"]);
  expect(value(r, "a", "command")).toBe("/bin/ls /srv");
  expect(value(r, "b", "env")).toEqual(["APP_ENV=prod", "HOME_DIR=/srv", "APP_ENV=dev", "B=1"]);
});

test("%(host_node_name)s and %(numprocs)d are expanded; a name supervisord does not know is an error, as in supervisord", () => {
  const r = read("[program:w]\ncommand=/bin/echo %(host_node_name)s %(numprocs)d\nnumprocs=3\nprocess_name=%(program_name)s_%(process_num)02d\n\n[program:x]\ncommand=/bin/echo %(prog_name)s\n");
  expect(value(r, "w", "command")).toBe(`/bin/echo ${hostname()} 3`);
  expect(r.problems).toEqual([{ line: 7, message: expect.stringContaining("command: %(prog_name)s: supervisord has no such name here (it refuses the file too)") }]);
});

test("a file indented throughout reads as ConfigParser reads it: only a line indented deeper than its key continues it; a section given twice is one", () => {
  const r = read("  [program:web]\n  command=/bin/sleep\n    100\n  numprocs=2\n\n[program:web]\nstopsignal=INT\n");
  expect(r.programs.map((p) => p.name)).toEqual(["web"]);
  expect(value(r, "web", "command")).toBe("/bin/sleep\n100");
  expect(value(r, "web", "processes")).toBe(2);
  expect(value(r, "web", "stop-signal")).toBe("INT");
});

test("%(process_num) in a command or environment is each worker's own number, from numprocs_start, as supervisord gives each process", async () => {
  const r = read('[program:api]\ncommand=/bin/echo --port=80%(process_num)02d --sock /run/api%(process_num)d.sock "it\'s"\nenvironment=INSTANCE="%(process_num)s",MODE=x\nnumprocs=2\nnumprocs_start=1\nprocess_name=api_%(process_num)s\n');
  expect(r.problems).toEqual([]);
  expect(value(r, "api", "shell")).toBe(true);
  expect(value(r, "api", "env")).toEqual(["MODE=x"]);
  const line = (value(r, "api", "command") as string[])[0]!;
  // The shell line, run as each worker runs it: SUP_WORKER_ID 1 and 2 are process_num 1 and 2.
  for (const id of [1, 2]) {
    const p = Bun.spawnSync(["/bin/sh", "-c", line.replace(/exec \S+/, `exec /bin/sh -c 'printf "%s|" "$INSTANCE" "$@"' x`)], { env: { SUP_WORKER_ID: String(id), PATH: "/usr/bin:/bin" } });
    expect(p.stdout.toString()).toBe(`${id}|--port=80${String(id).padStart(2, "0")}|--sock|/run/api${id}.sock|it's|`);
  }
});

test("autostart = false is sup's autostart (the program waits, stopped, for sup start NAME); an unset %(ENV_X)s in it is an error, as in supervisord", () => {
  const r = read("[program:import]\ncommand=/bin/true\nautostart=false\n\n[program:io]\ncommand=/bin/true\nautostart=%(ENV_ENABLE_IO)s\n");
  expect(value(r, "import", "autostart")).toBe(false);
  expect(r.problems.map((p) => p.message)).toEqual(["autostart: %(ENV_ENABLE_IO)s: ENABLE_IO is not set in the environment (supervisord refuses this too); set it, or write the value"]);
  expect(value(read("[program:io]\ncommand=/bin/true\nautostart=%(ENV_ENABLE_IO)s\n", { ENABLE_IO: "true" }), "io", "autostart")).toBe(true);
});

test("[fcgi-program:x] is a program whose socket sup holds (listen), handed to each worker as fd 0 as supervisord does; socket_owner, socket_mode, socket_backlog are listen's", () => {
  const r = read("[fcgi-program:asgi]\nsocket=tcp://localhost:8000\ncommand=daphne -u /run/daphne%(process_num)d.sock --fd 0 site.asgi:application\nnumprocs=2\n\n[fcgi-program:php]\nsocket=unix:///run/%(program_name)s.sock\nsocket_owner=www-data:www-data\nsocket_mode=0660\nsocket_backlog=64\ncommand=/usr/bin/php-cgi\n\n[fcgi-program:all]\nsocket=tcp://*:9000\ncommand=/usr/bin/app\n");
  expect(r.problems).toEqual([]);
  expect(r.programs.map((p) => p.name)).toEqual(["asgi", "php", "all"]);
  expect(value(r, "asgi", "listen")).toEqual(["localhost:8000"]);
  expect(value(r, "php", "listen")).toEqual(["unix:/run/php.sock"]);
  expect([value(r, "php", "listen-owner"), value(r, "php", "listen-mode"), value(r, "php", "listen-backlog")]).toEqual(["www-data:www-data", "0660", 64]);
  expect(value(r, "all", "listen")).toEqual([":9000"]);
  // sup holds the socket: a reload starts the new workers beside the old (no stop-first); fd 3 becomes fd 0.
  expect(value(r, "asgi", "reload-strategy")).toBeUndefined();
  expect(value(r, "php", "command")).toEqual(["exec '/usr/bin/php-cgi' <&3"]);
  expect(value(r, "asgi", "command")).toEqual([`exec 'daphne' '-u' '/run/daphne'"$((SUP_WORKER_ID - 1))"'.sock' '--fd' '0' 'site.asgi:application' <&3`]);
});

test("a supervisord config with no program (its [include] matched nothing) is refused with what matched nothing, not run as a config without programs", () => {
  const r = read("[supervisord]\nnodaemon=true\n\n[include]\nfiles = /nonexistent-sup-dir/conf.d/*.conf\n");
  expect(r.notes).toContain("supervisord.conf:5: [include] /nonexistent-sup-dir/conf.d/*.conf: no file matches (supervisord warns of it too)");
  expect(r.problems).toEqual([{ line: 1, message: "no [program:x] or [fcgi-program:x] section, here or in an included file (supervisord.conf:5: [include] /nonexistent-sup-dir/conf.d/*.conf matched nothing): nothing for sup to run; add one, or point -c at the file that has them" }]);
});

/** What every fixture's %(ENV_X)s needs (supervisord refuses an unset one too). */
const FIXTURE_ENV = { WORKERS: "2", CELERY_CONCURRENCY: "2", DISPLAY_WIDTH: "1280", DISPLAY_HEIGHT: "720", SCREEN_WIDTH: "1280", SCREEN_HEIGHT: "720", SCREEN_DEPTH: "24", GUNICORN_WORKERS: "2", ENABLE_SOCKETIO: "false" };
/** A refusal that depends on this machine, not on the file: a program's command, directory or user is not here. */
const MACHINE = /command not found|chdir .*: not a directory|no such user|uid |pidfile .* does not exist|\d+ problems:$/;
/** The fixtures sup refuses for what they say, each with the message that names why. */
const REFUSED: Record<string, string> = {
  "eventlistener-only.conf": "eventlistener-only.conf:1: no [program:x] or [fcgi-program:x] section, here or in an included file: nothing for sup to run",
  "sample-commented-include.conf": "sample-commented-include.conf:1: no [program:x] or [fcgi-program:x] section, here or in an included file (sample-commented-include.conf:46: [include] /etc/supervisor/conf.d/*.conf matched nothing)",
};

test("every supervisord fixture passes sup check, or is refused (exit 2) only for what this machine lacks (a command, a directory, a user) or for a named reason; each is in SOURCES", async () => {
  const files = readdirSync(FIX).filter((f) => f.endsWith(".conf")).sort();
  expect(files.length).toBeGreaterThanOrEqual(24);
  const sources = readFileSync(join(FIX, "SOURCES"), "utf8");
  for (const f of files) {
    expect(sources).toContain(f);
    const r = await sup(["check", "-c", f], FIX, cleanEnv(FIXTURE_ENV));
    const refused = REFUSED[f];
    if (refused && !(f === "sample-commented-include.conf" && existsSync("/etc/supervisor/conf.d"))) {
      expect({ f, code: r.code, stderr: r.stderr }).toEqual({ f, code: 2, stderr: expect.stringContaining(refused) });
      continue;
    }
    expect({ f, code: r.code }).toEqual({ f, code: r.code === 0 ? 0 : 2 });
    if (r.code === 0) expect(r.stdout).toContain("config ok");
    // Every problem line is one of this machine's, never one of reading the file.
    const lines = r.stderr.replace(/^sup: /, "").split("\n").filter((l) => l.trim() !== "");
    expect({ f, other: lines.filter((l) => !MACHINE.test(l)) }).toEqual({ f, other: [] });
    // What sup made of it reads without a problem (sup config checks no command or directory).
    const c = await sup(["config", "-c", f, "--json"], FIX, cleanEnv(FIXTURE_ENV));
    expect({ f, code: c.code, stderr: c.stderr }).toEqual({ f, code: 0, stderr: "" });
    expect(Object.keys(JSON.parse(c.stdout).programs).length).toBeGreaterThan(0);
  }
}, 180_000);

test("a program's own environment = is known to its command's %(ENV_X)s, as supervisord extends its expansions with it", () => {
  const r = read('[program:app]\nenvironment=APP_HOME="/srv/app",MODE=prod\ncommand=%(ENV_APP_HOME)s/bin/run --mode %(ENV_MODE)s\n');
  expect(r.problems).toEqual([]);
  expect(value(r, "app", "command")).toBe("/srv/app/bin/run --mode prod");
});

test("a conf.d file is supervisord's by any key supervisord reads in a [program:x] but command (stdout_logfile_maxbytes alone was read as sup's INI and refused)", async () => {
  const dir = dirWith({ "worker.conf": "[program:worker]\ncommand=/bin/sleep 100\nstdout_logfile_maxbytes=0\nstderr_logfile_maxbytes=0\n" });
  const r = await sup(["check", "-c", "worker.conf"], dir);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  expect(r.stdout).toContain("read as a supervisord config");
});

test("[supervisord] user = is every program's user (supervisord drops to it before it starts any), under a program's own user =", async () => {
  const dir = dirWith({ "supervisord.conf": "[supervisord]\nuser=nobody\n\n[program:a]\ncommand=/bin/true\n\n[program:b]\ncommand=/bin/true\nuser=root\n" });
  const l = await loadArgs(["check", "-c", "supervisord.conf"], dir);
  expect(l.programs.map((p) => [p.name, p.config.uid])).toEqual([["a", "nobody"], ["b", "root"]]);
});

test("a file [include]d again (itself, or twice by two globs) is read once, as supervisord reads it, with a note; a number that is not one is named as written", async () => {
  const dir = dirWith({ "supervisord.conf": "[include]\nfiles=supervisord.conf conf.d/*.conf conf.d/web.conf\n\n[program:x]\ncommand=/bin/true\nautorestart=true\n", "conf.d/web.conf": "[program:web]\ncommand=/bin/true\nnumprocs=abc\n" });
  const r = readSupervisord(readFileSync(join(dir, "supervisord.conf"), "utf8"), join(dir, "supervisord.conf"), {});
  expect(r.programs.map((p) => p.name)).toEqual(["web", "x"]);
  expect(r.problems).toEqual([]);
  expect(r.notes).toContain("supervisord.conf:2: [include] supervisord.conf: already read, not read again");
  expect(r.notes).toContain("supervisord.conf:2: [include] conf.d/web.conf: already read, not read again");
  const c = await sup(["check", "-c", "supervisord.conf"], dir);
  expect(c.code).toBe(2);
  expect(c.stderr).toContain('conf.d/web.conf:3: processes must be a whole number, got "abc"');
});

test("[group:x]: programs = names programs of any file read (here before them); a member that is no program, or already in another group, is an error with file:line; its priority is a note", () => {
  const ok = readSupervisord("[group:web]\nprograms=a, b\npriority=10\n\n[program:a]\ncommand=true\n\n[program:b]\ncommand=true\n\n[program:c]\ncommand=true\n", "/x/s.conf", {});
  expect(ok.problems).toEqual([]);
  expect(ok.entries.filter((e) => e.key === "group")).toEqual([
    { key: "group", value: "web", line: 2, program: "a" },
    { key: "group", value: "web", line: 2, program: "b" },
  ]);
  expect(ok.notes).toContain("s.conf:3: [group:web] priority: supervisord's start order: sup starts programs in depends-on order");
  const bad = readSupervisord("[group:web]\nprograms=a,nope\n\n[group:other]\nprograms=a\n\n[group:empty]\n\n[program:a]\ncommand=true\n", "/x/s.conf", {});
  expect(bad.problems).toEqual([
    { line: 7, message: "[group:empty]: no programs = line; list its programs (programs = web,worker)" },
    { line: 2, message: "[group:web] programs: nope is no [program:nope] here or in an included file" },
    { line: 5, message: "[group:other] programs: a is already in [group:web]; sup gives a program one group" },
  ]);
});
