// supervisord configs (test/fixtures/supervisord, modeled on public
// projects' files: SOURCES) read as programs: each [program:x] key mapped or
// noted, supervisor's %(…)s expansions, inline comments and continued values.
import { expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { parseEnvironment, readSupervisord } from "../../src/config/supervisord.ts";
import { ROOT, dirWith } from "./helpers.ts";

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

test("docker-nginx-app.conf: [supervisord]'s pidfile and logfile, quoted commands, environment with %(ENV_X)s", async () => {
  const l = await load("docker-nginx-app.conf", { WORKERS: "4" });
  expect(l.config.pidfile).toBe("/tmp/supervisord.pid");
  expect(l.config.logto).toBe("/dev/null");
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

test("celery-multiline.conf: continued values, %(here)s, autorestart unexpected and false, [group:x] noted; an [include] that matches nothing adds nothing", async () => {
  const l = await load("celery-multiline.conf", { CELERY_CONCURRENCY: "8" });
  const web = program(l, "web");
  expect(web.command[0]).toBe(`${FIX}/venv/bin/gunicorn`);
  expect(web.env).toEqual(["DJANGO_SETTINGS_MODULE=proj.settings.production", "PYTHONUNBUFFERED=1"]);
  expect(web.restart).toBe("on-failure");
  expect(web["stop-signal"]).toBe("INT");
  expect(program(l, "celery").command).toContain("--concurrency=8");
  expect(program(l, "beat").restart).toBe("never");
  const notes = l.notes!.join("\n");
  expect(notes).toContain("[group:proj]: sup controls each program by name");
  expect(l.programs.map((p) => p.name)).toEqual(["web", "celery", "beat"]);
  expect(notes).toContain("priority: start order in sup is depends-on");
});

test("an unknown key in a [program:x] section is an error with file:line; environment values keep their commas in quotes", () => {
  const r = readSupervisord("[program:a]\ncommand=true\nnumprocs=1\nautorestrat=true\n", "/x/s.conf", {});
  expect(r.problems).toEqual([{ line: 4, message: "autorestrat: not a supervisord program option sup knows" }]);
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
      { line: 4, where: "conf.d/b-worker.conf:4", message: "bogus: not a supervisord program option sup knows" },
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
