// What a [uwsgi] section becomes (src/config/uwsgi-translate.ts, the table,
// the app command): loaded through the real config layers, as `sup --ini`
// and `sup check --ini` load it.
import { describe, expect, test } from "bun:test";
import { cleanEnv, dirWith, load, sup } from "./helpers.ts";

const uwsgi = (body: string) => dirWith({ "uwsgi.ini": `[uwsgi]\n${body}` });
const loadIni = (dir: string, env = cleanEnv()) => load(["--ini", "uwsgi.ini"], dir, env);

describe("options", () => {
  test("listen is uWSGI's backlog, not an address (it used to pass sup check, then fail)", async () => {
    const { config } = await loadIni(uwsgi("http-socket = 127.0.0.1:8000\nlisten = 1024\n"));
    expect(config.listen).toEqual(["127.0.0.1:8000"]);
    expect(config["listen-backlog"]).toBe(1024);
  });

  test("every spelling of autoreload, and the rest of the reload triggers", async () => {
    for (const k of ["py-autoreload", "py-auto-reload", "python-autoreload", "python-auto-reload"]) {
      expect((await loadIni(uwsgi(`${k} = 2\n`))).config["py-autoreload"]).toBe(2);
    }
    const { config } = await loadIni(uwsgi("touch-reload = a\ntouch-reload = b\ntouch-chain-reload = c\nreload-mercy = 9\n"));
    expect(config["touch-reload"]).toEqual(["a", "b"]);
    expect(config["touch-chain-reload"]).toEqual(["c"]);
    expect(config["worker-reload-mercy"]).toBe(9);
  });

  test("numbers and flags read as uWSGI reads them: atoi, and anything but false/off/no/0 is true", async () => {
    const { config, sources } = await loadIni(uwsgi("processes = 4 ; four\nhttp-socket = :8000\n"));
    expect(config.processes).toBe(4);
    expect(sources.processes!.where).toBe("uwsgi.ini:2");
    const off = await loadIni(uwsgi("module = app:app\nprocesses = 2\nlazy-apps = off\n"));
    expect(off.config.processes).toBe(1); // not lazy: one gunicorn forks the 2
    const on = await loadIni(uwsgi("module = app:app\nprocesses = 2\nlazy-apps = yes please\n"));
    expect(on.config.processes).toBe(2);
  });

  test("socket with protocol = http is an HTTP listener; chmod-socket and chown-socket go with unix sockets", async () => {
    const { config } = await loadIni(uwsgi("socket = /tmp/app.sock\nprotocol = http\nchmod-socket =\nchown-socket = www-data:www-data\n"));
    expect(config.listen).toEqual(["unix:/tmp/app.sock"]);
    expect(config["listen-mode"]).toBe("666");
    expect(config["listen-owner"]).toBe("www-data:www-data");
  });

  test("protocol = uwsgi (uWSGI's default) beside no socket stops nothing; the socket lines stop sup themselves", async () => {
    const emperor = await sup(["check", "--ini", "uwsgi.ini"], uwsgi("protocol = uwsgi\nemperor = ./vassals/*.ini\nvacuum = true\n"));
    expect(emperor.code).toBe(0);
    expect(emperor.stdout).toContain("uwsgi.ini:2: protocol = uwsgi: protocol uwsgi: the protocol of the socket lines");
    const socket = await sup(["check", "--ini", "uwsgi.ini"], uwsgi("protocol = uwsgi\nsocket = :3031\n"));
    expect(socket.code).toBe(2);
    expect(socket.stderr).toMatch(/errors \(sup will not start until they are fixed\):\n {2}uwsgi\.ini:3: socket = :3031/);
  });

  test("logger = file:PATH is uWSGI's log file: logto (the logfile plugin's maxsize, log-maxsize); stdio is sup's own; a named logger is not yet", async () => {
    expect((await loadIni(uwsgi("http-socket = :8000\nlogger = file:/var/log/app/uwsgi.log\n"))).config.logto).toBe("/var/log/app/uwsgi.log");
    const sized = await loadIni(uwsgi("http-socket = :8000\nlogger = file:logfile=/var/log/app/uwsgi.log,maxsize=2097152\n"));
    expect([sized.config.logto, sized.config["log-maxsize"]]).toEqual(["/var/log/app/uwsgi.log", 2]);
    const r = await sup(["check", "--ini", "uwsgi.ini"], uwsgi("http-socket = :8000\nlogger = stdio\nlogger = errors file:/tmp/errors.log\nlogger = syslog:app\n"));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("uwsgi.ini:3: logger = stdio: sup writes its log to stderr already");
    expect(r.stdout).toContain("uwsgi.ini:4: logger = errors file:/tmp/errors.log: not in sup yet (issue 22): a logger named for log-route");
    expect(r.stdout).toContain("uwsgi.ini:5: logger = syslog:app: not in sup yet (issue 22): sup writes its log to stderr or to one logto file");
  });

  test("sup's own keys may sit in [uwsgi] (uWSGI ignores them); [sup] wins over [uwsgi]", async () => {
    expect((await loadIni(uwsgi("ready = delay:2\nreload-grace = 1\n"))).config.ready).toBe("delay:2");
    const both = dirWith({ "uwsgi.ini": "[uwsgi]\nprocesses = 2\n[sup]\nprocesses = 5\n" });
    expect((await loadIni(both)).config.processes).toBe(5);
  });

  test("for-readline = .env with env = %(_): each line a variable; the blank and comment lines (no \"=\") are no-ops, not errors", async () => {
    // docs/uwsgi.md's recipe. uWSGI unsets a variable named "# db" and one named "": nothing.
    const dir = dirWith({ "uwsgi.ini": "[uwsgi]\nhttp-socket = :8000\nfor-readline = .env\n  env = %(_)\nendfor =\n", ".env": "# db\nDB_HOST=db\n\nexport DEBUG=0\n" });
    const { config } = await loadIni(dir);
    expect(config.env).toEqual(["DB_HOST=db", "export DEBUG=0"]);
    const r = await sup(["check", "--ini", "uwsgi.ini"], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('uwsgi.ini:4: env = # db: uWSGI unsets the variable so named (there is no "="), and no environment has one');
    // A name alone is still one sup cannot unset.
    expect((await sup(["check", "--ini", "uwsgi.ini"], uwsgi("http-socket = :8000\nenv = production\n"))).stderr).toContain('uwsgi.ini:3: env = production: "production": uWSGI unsets a variable given without "="');
  });

  test("UWSGI_<OPTION> variables are read before the file", async () => {
    const { config } = await loadIni(uwsgi("http-socket = :8000\n"), cleanEnv({ UWSGI_PROCESSES: "3" }));
    expect(config.processes).toBe(3);
  });
});

describe("the app command", () => {
  test("module and processes: one gunicorn forking the workers, preloaded, ready on notify", async () => {
    const { config, sources, uwsgi: u } = await loadIni(uwsgi("module = proj.wsgi:application\nprocesses = 4\nthreads = 2\nbuffer-size = 32768\npythonpath = lib\n"));
    expect(config.command).toEqual(["/usr/bin/gunicorn", "--preload", "--workers", "4", "--threads", "2", "--limit-request-field_size", "32768", "--pythonpath", "lib", "proj.wsgi:application"]);
    expect(config.processes).toBe(1);
    expect(config.ready).toBe("notify");
    expect(sources.command!.where).toBe("uwsgi.ini:2 (the app command sup built)");
    expect(u!.command).toContain("one sup worker whose gunicorn forks 4 workers");
  });

  test("lazy-apps: one gunicorn per sup worker; wsgi-file and callable: the file's directory on the path", async () => {
    const { config } = await loadIni(uwsgi("wsgi-file = site/app.py\ncallable = app\nprocesses = 3\nlazy-apps = true\n"));
    expect(config.command).toEqual(["/usr/bin/gunicorn", "--preload", "--pythonpath", "site", "app:app"]);
    expect(config.processes).toBe(3);
  });

  test("module = proj.wsgi is Django's module proj/wsgi.py, as uWSGI imports it (not a file named proj.wsgi)", async () => {
    // gunicorn proj:application would import the package proj and find no application in it.
    const { config } = await loadIni(uwsgi("module = proj.wsgi\nprocesses = 2\n"));
    expect(config.command).toEqual(["/usr/bin/gunicorn", "--preload", "--workers", "2", "proj.wsgi:application"]);
    expect((await loadIni(uwsgi("module =  webapi.wsgi\ncallable = app\n"))).config.command).toEqual(["/usr/bin/gunicorn", "--preload", "webapi.wsgi:app"]);
  });

  test("mount = /=pkg.app:app, the one app at the root URL, is the app (it was a decision with no command); a prefix mount stays one", async () => {
    const { config } = await loadIni(uwsgi("http-socket = :8000\nmount = /=site.fullapp:app\nmanage-script-name = true\nprocesses = 2\n"));
    expect(config.command).toEqual(["/usr/bin/gunicorn", "--preload", "--workers", "2", "site.fullapp:app"]);
    expect((await loadIni(uwsgi("http-socket = :8000\nmount = /=web/app.py\n"))).config.command).toEqual(["/usr/bin/gunicorn", "--preload", "--pythonpath", "web", "app:application"]);
    const r = await sup(["check", "--ini", "uwsgi.ini"], uwsgi("http-socket = :8000\nmodule = main:app\nmount = /admin=admin:app\n"));
    expect(r.stdout).toContain("uwsgi.ini:4: mount = /admin=admin:app: several apps under URL prefixes");
  });

  test("pythonpath and a wsgi-file in another directory: one --pythonpath with both (gunicorn keeps only the last of several)", async () => {
    const { config } = await loadIni(uwsgi("http-socket = :8000\nwsgi-file = /srv/app/src/server.py\ncallable = app\npythonpath = /srv/app\npythonpath = /srv/lib\n"));
    expect(config.command).toEqual(["/usr/bin/gunicorn", "--preload", "--pythonpath", "/srv/app,/srv/lib,/srv/app/src", "server:app"]);
  });

  test("a pythonpath glob is expanded as uWSGI's pythonpath handler does (no match: as written), by sup migrate too: gunicorn does not glob", async () => {
    const dir = dirWith({ "uwsgi.ini": "[uwsgi]\nhttp-socket = :8000\nmodule = app:app\npythonpath = lib/python3*/site-packages\npythonpath = /no-such-dir-sup*/x\n", "lib/python3.11/site-packages/a.py": "", "lib/python3.12/site-packages/b.py": "" });
    expect((await loadIni(dir)).config.command).toEqual(["/usr/bin/gunicorn", "--preload", "--pythonpath", "lib/python3.11/site-packages,lib/python3.12/site-packages,/no-such-dir-sup*/x", "app:app"]);
    expect((await sup(["migrate", "uwsgi", "uwsgi.ini"], dir)).stdout).toContain('"--pythonpath", "lib/python3.11/site-packages,lib/python3.12/site-packages,/no-such-dir-sup*/x"');
  });

  test("paste = config:%p: gunicorn --paste with the file itself", async () => {
    const dir = uwsgi("paste = config:%p\n");
    const { config } = await loadIni(dir);
    expect(config.command).toEqual(["/usr/bin/gunicorn", "--preload", "--paste", `${dir}/uwsgi.ini`]);
  });

  test("a command in the file, or after --, wins: the app keys are left alone", async () => {
    expect((await loadIni(uwsgi("module = app:app\ncommand = python3 serve.py\n"))).config.command).toEqual(["python3", "serve.py"]);
    const dir = uwsgi("module = app:app\n");
    expect((await load(["--ini", "uwsgi.ini", "--", "python3", "other.py"], dir)).config.command).toEqual(["python3", "other.py"]);
  });
});

describe("sup check --ini", () => {
  test("a placeholder key is a no-op, a typo an error with did you mean; all in one report", async () => {
    const r = await sup(["check", "--ini", "uwsgi.ini"], uwsgi("base = /srv\nchdir = %(base)\nprocess = 2\nharakiri-verbose = true\nvacuum = true\nmax-fd = 2\n"));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("uwsgi.ini:2: base = /srv: a placeholder (used as %(base))");
    expect(r.stderr).toContain("uwsgi.ini:4: process = 2: not a uWSGI option (did you mean processes?)");
    expect(r.stderr).toContain("uwsgi.ini:5: harakiri-verbose = true: details of uWSGI's per-request timeout");
    expect(r.stderr).toContain("uwsgi.ini:6: vacuum = true: sup always removes its pidfile");
  });
});

describe("sup migrate uwsgi", () => {
  test("--format ini writes a [sup] section that loads as it is, the command one line as a shell splits it", async () => {
    const dir = uwsgi("module = app:app\nprocesses = 2\nhttp-socket = 127.0.0.1:8000\nenv = A=two words\ntouch-reload = a.txt\ntouch-reload = b.txt\nharakiri = 30\n");
    const r = await sup(["migrate", "uwsgi", "uwsgi.ini", "--format", "ini"], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("\n[sup]\n");
    expect(r.stdout).toContain("command = gunicorn --preload --workers 2 --timeout 30 app:app\n");
    expect(r.stdout).toContain("; uwsgi.ini:2: the app command sup builds from module = app:app, harakiri = 30\n");
    const migrated = dirWith({ "sup.ini": r.stdout });
    const { config } = await load(["--ini", "sup.ini"], migrated);
    expect(config.command).toEqual(["gunicorn", "--preload", "--workers", "2", "--timeout", "30", "app:app"]);
    expect(config.env).toEqual(["A=two words"]);
    expect(config["touch-reload"]).toEqual(["a.txt", "b.txt"]);
    expect(config.listen).toEqual(["127.0.0.1:8000"]);
  });

  test("usage errors: what from, which file, which format", async () => {
    const dir = uwsgi("processes = 2\n");
    expect((await sup(["migrate", "supervisord", "uwsgi.ini"], dir)).stderr).toContain("sup migrates from uwsgi only");
    expect((await sup(["migrate", "uwsgi"], dir)).stderr).toContain("which file?");
    expect((await sup(["migrate", "uwsgi", "uwsgi.ini", "--format", "yaml"], dir)).code).toBe(2);
    expect((await sup(["migrate", "uwsgi", "nope.ini"], dir)).stderr).toContain("nope.ini: does not exist");
  });
});

describe("keys that are no uWSGI 2.0 option", () => {
  test("a short unused custom key is no typo; an option of uWSGI 2.1 is known; a near miss is", async () => {
    const r = await sup(["check", "--ini", "uwsgi.ini"], uwsgi("base = /srv\nhttp-socket = :8000\ncheaper-idle = 60\nno-orphan = true\n"));
    expect(r.stderr).toContain("uwsgi.ini:2: base = /srv: not a uWSGI option: uWSGI ignores it, and nothing uses it as a placeholder");
    expect(r.stderr).toContain("uwsgi.ini:4: cheaper-idle = 60: not in sup yet: sup runs a fixed worker count");
    expect(r.stderr).toContain("(an option of uWSGI 2.1: uWSGI 2.0 ignores it)");
    expect(r.stderr).toContain("uwsgi.ini:5: no-orphan = true: not a uWSGI option (did you mean no-orphans?)");
    expect(r.code).toBe(2);
  });

  test("supervisord's keys and a custom `app` are no typos of the aliases st and pp", async () => {
    const r = await sup(["check", "--ini", "uwsgi.ini"], uwsgi("http-socket = :8000\nstopsignal = QUIT\nstdout_logfile = /dev/stdout\napp = bos\n"));
    expect(r.stdout).toContain("uwsgi.ini:3: stopsignal = QUIT: not a uWSGI option: uWSGI ignores it");
    expect(r.stdout).toContain("uwsgi.ini:4: stdout_logfile = /dev/stdout: not a uWSGI option: uWSGI ignores it");
    expect(r.stdout).toContain("uwsgi.ini:5: app = bos: not a uWSGI option: uWSGI ignores it");
    expect(r.code).toBe(0);
  });

  test("a key of words is a key uWSGI ignores, with what was meant (it was 'bad key name')", async () => {
    const r = await sup(["check", "--ini", "uwsgi.ini"], uwsgi('http-socket = :8000\nenv LANG = "C.UTF-8"\npost buffering = 8192\nmy key = 1\n'));
    expect(r.stderr).toContain('uwsgi.ini:3: env LANG = "C.UTF-8": not a uWSGI option (did you mean env = LANG="C.UTF-8"?)');
    expect(r.stderr).toContain("uwsgi.ini:4: post buffering = 8192: not a uWSGI option (did you mean post-buffering?)");
    expect(r.stdout + r.stderr).toContain("uwsgi.ini:5: my key = 1: not a uWSGI option: uWSGI ignores it");
    expect(r.stderr).not.toContain("bad key name");
  });

  test("a path or an app still saying %(name) (a template's placeholder nothing sets) is an error; an env value may be Python's %(name)s", async () => {
    const r = await sup(["check", "--ini", "uwsgi.ini"], uwsgi("project_name = shop\nhttp-socket = :8000\nchdir = %(project_root)\nmodule = %(project_name).wsgi\nenv = LOG_FORMAT=%(levelname)s %(message)s\n"));
    expect(r.stderr).toContain("uwsgi.ini:4: chdir = %(project_root): the value still says %(project_root) after uWSGI's placeholders, so uWSGI would read that text");
    expect(r.stderr).toContain("uwsgi.ini:5: module = shop.wsgi: the app to load");
    expect(r.stderr).not.toMatch(/uwsgi\.ini:[56]: .*still says/);
  });

  test("an unset $(VAR) in a line sup drops anyway is no error", async () => {
    const r = await sup(["check", "--ini", "uwsgi.ini"], uwsgi("http-socket = :8000\nstatic-map = /$(SUP_TEST_UNSET)media=/srv/media\n"));
    expect(r.stdout).toContain("uwsgi.ini:3: static-map");
    expect(r.stderr).not.toContain("SUP_TEST_UNSET is not set");
  });
});
