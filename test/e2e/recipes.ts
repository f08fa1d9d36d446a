// The recipes the docs show, as data: each is the exact `sup ...` line a
// reader copies, the app it runs (a fixture under test/fixtures/apps, or
// examples/), what it needs installed, and how to edit and break that app.
// recipes-*.test.ts run every line against the real program; docs.test.ts
// checks that README.md and docs/ show no other.
import { cpSync, existsSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Master, ROOT, tempDir, freePort, waitUntil } from "./harness.ts";

/** Debian's python, which sees Debian's Django, Flask, gunicorn and uvicorn (a pyenv shim on PATH does not). */
export const PYTHON = "/usr/bin/python3";
export const GUNICORN = "/usr/bin/gunicorn";

/** Something a recipe needs that npm does not bring, and how to get it. */
export interface Need {
  what: string;
  present: () => boolean;
  install: string;
}

const known = new Map<string, boolean>();
const once = (key: string, check: () => boolean) => () => known.get(key) ?? (known.set(key, check()), known.get(key)!);
const pyModule = (module: string, pkg: string): Need => ({
  what: `${PYTHON} with the ${module} module`,
  present: once(`py:${module}`, () => existsSync(PYTHON) && Bun.spawnSync([PYTHON, "-c", `import ${module}`], { stderr: "ignore" }).exitCode === 0),
  install: `apt-get install ${pkg}`,
});
const program = (path: string, install: string): Need => ({ what: path, present: once(`file:${path}`, () => existsSync(path)), install });
export const NODE = Bun.which("node") ?? "node";
const needs = {
  django: pyModule("django", "python3-django"),
  flask: pyModule("flask", "python3-flask"),
  uvicorn: pyModule("uvicorn", "python3-uvicorn"),
  gunicorn: program(GUNICORN, "apt-get install gunicorn"),
  python: program(PYTHON, "apt-get install python3"),
  node: program(NODE, "install Node.js (apt-get install nodejs)"),
  express: program(join(ROOT, "node_modules/express/package.json"), "npm install (express is a devDependency)"),
};

/** Fails (never skips) when the recipe's real program is missing, saying what to install. */
export function requireNeeds(r: Recipe) {
  const missing = r.needs.filter((n) => !n.present());
  if (missing.length) throw new Error(`${r.name} needs ${missing.map((n) => `${n.what} (${n.install})`).join(", ")}`);
}

/** A change to the app that a reload must pick up (edit) or refuse (break). */
export interface Change {
  what: string;
  file: string;
  apply: (text: string) => string;
}

export interface Recipe {
  name: string;
  /** The test file that runs this line; the doc that shows the line names it. */
  test: string;
  /** The line as the docs print it. */
  line: string;
  /** Copied into a fresh directory, the workers' working directory. */
  app: string;
  needs: Need[];
  edit: Change & { served: RegExp };
  breaks: Change[];
  /** Why a reload of this app can fail requests, whatever sup does (its HUP/USR2 test is then test.todo). */
  dropsRequests?: string;
  /** A reload with downtime by design (stop-first): no HUP/USR2 test under load. */
  downtime?: true;
  /** How the edit reaches the workers: `sup reload --wait` unless the line has its own trigger. */
  trigger?: { touch: string } | "autoreload";
}

const pyMarker = (file: string): Change & { served: RegExp } => ({ what: "a new MARKER", file, apply: () => 'MARKER = "v2-edited"\n', served: /marker=v2-edited/ });
const jsMarker = (file: string): Change & { served: RegExp } => ({ what: "a new MARKER", file, apply: () => 'export const MARKER = "v2-edited";\n', served: /marker=v2-edited/ });
const append = (what: string, file: string, text: string): Change => ({ what, file, apply: (old) => old + text });
const failingImport = (file: string, line: string) => append(`an import that fails in ${file}`, file, line);
const syntaxError = (file: string, text = "\nthis is not ( valid\n") => append(`a syntax error in ${file}`, file, text);

const PY_TEST = "test/e2e/recipes-python.test.ts";
// uvicorn 0.17 server.py shutdown(): every connection with no request in
// progress is closed (h11_impl shutdown: transport.close()), also one just
// accepted whose request is on its way: that request gets a reset.
const UVICORN_SHUTDOWN = "at SIGTERM uvicorn closes the connections it accepted but has not read a request from yet";
const JS_TEST = "test/e2e/recipes-js.test.ts";
const EXAMPLES_TEST = "test/e2e/recipes-examples.test.ts";

const django = {
  app: "test/fixtures/apps/django",
  test: PY_TEST,
  needs: [needs.gunicorn, needs.django],
  edit: pyMarker("proj/marker.py"),
  breaks: [syntaxError("proj/settings.py"), failingImport("proj/views.py", "import no_such_module\n")],
};

export const RECIPES: Recipe[] = [
  // Python apps under gunicorn: --preload imports the app before gunicorn says READY=1.
  { name: "Django under gunicorn", line: "sup -p 4 --listen 127.0.0.1:8000 --ready notify -- gunicorn --preload proj.wsgi", ...django },
  {
    name: "Django under gunicorn, autoreload",
    line: "sup -p 4 --listen 127.0.0.1:8000 --ready notify --py-autoreload 1 -- gunicorn --preload proj.wsgi",
    ...django,
    breaks: [],
    trigger: "autoreload",
  },
  {
    name: "Flask under gunicorn",
    line: "sup -p 4 --listen 127.0.0.1:8000 --ready notify -- gunicorn --preload app:app",
    app: "test/fixtures/apps/flask",
    test: PY_TEST,
    needs: [needs.gunicorn, needs.flask],
    edit: pyMarker("marker.py"),
    breaks: [failingImport("marker.py", "import no_such_module\n"), syntaxError("app.py")],
  },
  {
    name: "ASGI app under uvicorn",
    line: "sup -p 4 --listen 127.0.0.1:8000 --ready notify -- python3 -m uvicorn --fd 3 app:app",
    app: "test/fixtures/apps/asgi",
    test: PY_TEST,
    needs: [needs.python, needs.uvicorn],
    edit: pyMarker("marker.py"),
    breaks: [failingImport("marker.py", "import no_such_module\n")],
    dropsRequests: UVICORN_SHUTDOWN,
  },
  {
    name: "ASGI app under gunicorn with uvicorn's worker",
    line: "sup -p 4 --listen 127.0.0.1:8000 --ready notify -- gunicorn --preload -k uvicorn.workers.UvicornWorker app:app",
    app: "test/fixtures/apps/asgi",
    test: PY_TEST,
    needs: [needs.gunicorn, needs.uvicorn],
    edit: pyMarker("marker.py"),
    breaks: [failingImport("marker.py", "import no_such_module\n")],
    dropsRequests: UVICORN_SHUTDOWN,
  },
  // Node and Bun.
  {
    name: "Express",
    line: "sup -p 4 --listen 127.0.0.1:8000 --ready notify -- node server.mjs",
    app: "test/fixtures/apps/express",
    test: JS_TEST,
    needs: [needs.node, needs.express],
    edit: jsMarker("marker.mjs"),
    breaks: [failingImport("marker.mjs", 'import "no-such-package";\n'), syntaxError("server.mjs")],
  },
  {
    name: "plain Node http",
    line: "sup -p 4 --listen 127.0.0.1:8000 --ready notify -- node server.mjs",
    app: "test/fixtures/apps/node",
    test: JS_TEST,
    needs: [needs.node],
    edit: jsMarker("marker.mjs"),
    breaks: [failingImport("marker.mjs", 'import "./no-such-file.mjs";\n')],
  },
  {
    name: "Bun",
    line: "sup -p 4 --listen 127.0.0.1:8000 --ready notify -- bun server.ts",
    app: "test/fixtures/apps/bun",
    test: JS_TEST,
    needs: [],
    edit: jsMarker("marker.ts"),
    breaks: [failingImport("marker.ts", 'import "./no-such-file.ts";\n'), syntaxError("server.ts")],
  },
  // A dev server that binds its own port: the old one stops before the new one starts.
  {
    name: "Django runserver, stop-first",
    line: "sup --reload-strategy stop-first --ready tcp:127.0.0.1:8000 -- python3 manage.py runserver --noreload 127.0.0.1:8000",
    ...django,
    test: "test/e2e/recipes-devserver.test.ts",
    needs: [needs.python, needs.django],
    breaks: [],
    downtime: true,
  },
  // The hello examples (README's quick start), run from a copy of examples/.
  ...(
    [
      ["python3", "examples/hello.py", "notify", [needs.python]],
      ["node", "examples/hello-node.mjs", "notify", [needs.node]],
      ["bun", "examples/hello-bun.ts", "notify", []],
    ] as const
  ).map(([runtime, file, ready, need]): Recipe => ({
    name: `${file} on ${runtime}`,
    line: `sup -p 4 --listen 127.0.0.1:8000 --ready ${ready} -- ${runtime} ${file}`,
    app: "examples",
    test: EXAMPLES_TEST,
    needs: [...need],
    edit: { what: "a new greeting", file, apply: (t) => t.replace("hello from worker", "edited from worker"), served: /^edited from worker/ },
    breaks: [syntaxError(file)],
  })),
  {
    name: "examples/hello.py with touch-reload",
    line: "sup -p 4 --listen 127.0.0.1:8000 --ready notify --touch-reload app.ini --pidfile app.pid -- python3 examples/hello.py",
    app: "examples",
    test: EXAMPLES_TEST,
    needs: [needs.python],
    edit: { what: "a new greeting", file: "examples/hello.py", apply: (t) => t.replace("hello from worker", "edited from worker"), served: /^edited from worker/ },
    breaks: [],
    trigger: { touch: "app.ini" },
  },
];

export const recipe = (name: string) => RECIPES.find((r) => r.name === name) ?? (() => { throw new Error(`no recipe ${name}`); })();

/** The words of a recipe line (the docs' lines use no quoting). */
export const words = (line: string) => line.trim().split(/\s+/);

/**
 * TMPDIR for one master, so its runtime dir is $TMPDIR/sup-PID in a fresh
 * directory: in /tmp, a sup-PID left by a SIGKILLed master (every test
 * cleanup) makes a later master that gets the same pid refuse to start.
 */
export const privateTmp = () => ({ TMPDIR: tempDir() });

/** A running recipe: its master, directory, port and pidfile. */
export interface Running {
  m: Master;
  dir: string;
  port: number;
  pidfile: string;
  workers: number;
  change: (c: Change) => void;
}

/**
 * Runs a recipe line as the docs print it, with 2 workers instead of 4 (two
 * shared cores), a free port, a pidfile, the tests' mercy, and the programs
 * spelled as explicit paths (Debian's python and gunicorn, this bun).
 */
export async function start(r: Recipe, extra: string[] = []): Promise<Running> {
  requireNeeds(r);
  const dir = tempDir();
  const from = join(ROOT, r.app);
  cpSync(from, r.app === "examples" ? join(dir, "examples") : dir, { recursive: true, dereference: true });
  if (existsSync(join(from, "server.mjs"))) symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  const port = await freePort();
  const w = words(r.line).slice(1);
  const dash = w.indexOf("--");
  const flags = w.slice(0, dash);
  const command = w.slice(dash + 1);
  const set = (name: string, value: string) => (flags.includes(name) ? (flags[flags.indexOf(name) + 1] = value) : flags.push(name, value));
  // The docs' address is 127.0.0.1:8000, in --listen or in the command of an app that binds its own port.
  for (const list of [flags, command]) list.forEach((word, i) => (list[i] = word.replaceAll("127.0.0.1:8000", `127.0.0.1:${port}`)));
  const workers = flags.includes("-p") ? 2 : 1;
  if (workers > 1) set("-p", String(workers));
  // The pidfile outside the app's tree (autoreload watches the tree), unless the line names one.
  if (!flags.includes("--pidfile")) flags.push("--pidfile", join(tempDir(), "sup.pid"));
  const pidfile = resolve(dir, flags[flags.indexOf("--pidfile") + 1]!);
  const programs: Record<string, string> = { gunicorn: GUNICORN, python3: PYTHON, node: NODE, bun: process.execPath };
  command[0] = programs[command[0]!] ?? command[0]!;
  const m = new Master([...flags, "--worker-reload-mercy", "10", "--ready-timeout", "20", ...extra, "--", ...command], { cwd: dir, env: privateTmp() });
  await waitUntil(() => m.count(/gen 1 ready/g) >= workers, 25_000, () => `${workers} ready workers of "${r.line}":\n${m.out}`);
  const change = (c: Change) => writeFileSync(join(dir, c.file), c.apply(readFileSync(join(dir, c.file), "utf8")));
  return { m, dir, port, pidfile, workers, change };
}

/** Who answered one request on a fresh connection. */
export interface Answer {
  text: string;
  pid: number;
  gen: number;
}

export async function hit(port: number): Promise<Answer> {
  // 15 s: a request waits in the backlog while workers start, which takes seconds on a loaded machine.
  const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: "close" }, signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  const pid = /pid[= ](\d+)/.exec(text)?.[1];
  const gen = /gen(?:eration)?[= ](\d+)/.exec(text)?.[1];
  if (res.status !== 200 || !pid || !gen) throw new Error(`bad answer ${res.status}: ${text.slice(0, 300)}`);
  return { text, pid: Number(pid), gen: Number(gen) };
}

/** Clients that request until stopped (fresh connection each time); every failure is kept. */
export function hammer(port: number, clients = 2) {
  let running = true;
  const failures: string[] = [];
  const answers: Answer[] = [];
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      try {
        answers.push(await hit(port));
      } catch (e) {
        failures.push(String(e));
      }
    }
  });
  return {
    failures,
    answers,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Django's runserver on $PORT (--port-base), one worker, from a fresh copy of the fixture project. */
export async function runserver(flags: string[] = []) {
  requireNeeds(recipe("Django under gunicorn")); // the same Django
  const dir = tempDir();
  cpSync(join(ROOT, "test/fixtures/apps/django"), dir, { recursive: true });
  const port = await freePort();
  const pidfile = join(tempDir(), "sup.pid");
  const m = new Master(
    ["--port-base", String(port), "--pidfile", pidfile, "--worker-reload-mercy", "10", ...flags, "--shell", "--", `exec ${PYTHON} manage.py runserver --noreload 127.0.0.1:$PORT`],
    { cwd: dir, env: privateTmp() },
  );
  await m.waitFor(/gen 1 ready/, 20_000);
  await waitUntil(() => hit(port).catch(() => undefined), 10_000, () => `runserver answering on ${port}:\n${m.out}`);
  return { m, dir, port, pidfile };
}
