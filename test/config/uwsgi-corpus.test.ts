// The uwsgi.ini corpus (test/fixtures/uwsgi/, SOURCES says where each comes
// from), each file four ways:
//   1. read by sup and by uWSGI itself (Debian's uwsgi-core: `uwsgi --ini
//      FILE --get KEY` prints the first value of KEY as uWSGI read it), key
//      by key; a file uWSGI refuses to read is one sup reports an error for;
//   2. `sup check --ini FILE`: every problem of the file in its first run,
//      each with its file:line, exit 2 exactly when there is an error;
//   3. `sup migrate uwsgi FILE`: JSON lists every key line with its verdict,
//      and the TOML translation loads as a sup config as it is;
//   4. the app command sup builds imports the module uWSGI imports.
// uWSGI runs as nobody in a copy of the corpus (it acts on some options
// before --get answers: it may unlink a pidfile).
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { realHost } from "../../src/config/uwsgi-host.ts";
import { fromBytes } from "../../src/config/uwsgi-magic.ts";
import { UwsgiReader } from "../../src/config/uwsgi-read.ts";
import { ROOT, sup } from "./helpers.ts";

const CORPUS = join(ROOT, "test/fixtures/uwsgi");
const FILES = readdirSync(CORPUS).filter((f) => f.endsWith(".ini")).sort();
/** What the corpus's $(VAR)s expect of the environment, as its users set it. */
const ENV = {
  PATH: "/usr/bin:/bin",
  HOME: "/home/app",
  PORT: "8123",
  UWSGI_PROCESSES: "3",
  UWSGI_WORKERS: "3",
  STATIC_ROOT: "/srv/static",
  SQLITE_PATH: "/srv/db.sqlite3",
  REDIS_IDLE_TIMEOUT: "60",
  CELERY_NICE_LEVEL: "5",
  CELERY_MAX_WORKERS: "4",
  CELERY_MIN_WORKERS: "1",
};
/** The oracle's own command line sets these before the file does (they are options too). */
const ORACLE_KEYS = new Set(["ini", "need-plugin"]);
const asNobody = process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];

const dir = mkdtempSync(join(tmpdir(), "sup-uwsgi-corpus-"));
chmodSync(dir, 0o755);
for (const f of FILES) {
  cpSync(join(CORPUS, f), join(dir, f));
  chmodSync(join(dir, f), 0o644);
}
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every option sup reads from the file, first value per key (what --get prints), and the reading's problems. */
function supReads(file: string) {
  const r = new UwsgiReader(realHost(dir, ENV, ["python3", "http"]), (p) => p);
  r.readEnvironment(ENV);
  r.readFile(join(dir, file), "uwsgi");
  r.finish(ENV);
  const first = new Map<string, string>();
  const last = new Map<string, string>();
  for (const o of r.opts) if (!first.has(fromBytes(o.key))) first.set(fromBytes(o.key), fromBytes(o.value));
  for (const o of r.opts) last.set(fromBytes(o.key), fromBytes(o.value));
  return { first, last, problems: r.problems.filter((p) => p.severity !== "warning") };
}

function uwsgiGets(file: string, keys: string[]) {
  const argv = [...asNobody, "uwsgi", "--need-plugin", "python3,http,router_redirect", "--ini", file, ...keys.flatMap((k) => ["--get", k])];
  const p = Bun.spawnSync(argv, { cwd: dir, env: ENV, timeout: 20_000 });
  // `print` options write before --get answers: the answers are the last lines.
  const lines = p.stdout.toString().split("\n").slice(0, -1);
  return { code: p.exitCode, values: lines.slice(lines.length - keys.length), stderr: p.stderr.toString() };
}

describe.each(FILES)("%s", (file) => {
  test("sup reads every key as uWSGI does (uwsgi --get)", () => {
    const { first, problems } = supReads(file);
    const keys = [...first.keys()].filter((k) => !ORACLE_KEYS.has(k));
    const got = uwsgiGets(file, keys);
    if (got.code !== 0) {
      // uWSGI stopped reading (a missing include): sup says so, with the line.
      expect(problems.map((p) => `${p.file}:${p.line}`).length).toBeGreaterThan(0);
      return;
    }
    expect(Object.fromEntries(keys.map((k, i) => [k, got.values[i]]))).toEqual(Object.fromEntries(keys.map((k) => [k, first.get(k)])));
  });

  test("sup check --ini lists every problem at once, grouped, with file:line; exit 2 only for errors", async () => {
    const r = await sup(["check", "--ini", file], dir, ENV);
    const out = r.stdout + r.stderr;
    const json = JSON.parse((await sup(["migrate", "uwsgi", file, "--format", "json"], dir, ENV)).stdout);
    // (migrate adds a line 0 "command" TODO when gunicorn is not installed here: the check says so as an error instead)
    const listed = json.keys.filter((k: { verdict: string; key: string; line: number }) => k.verdict !== "mapped" && !(k.key === "command" && k.line === 0));
    for (const k of listed) expect(out).toContain(`${k.file}:${k.line}: ${k.key}`);
    const errors = json.keys.filter((k: { verdict: string; blocks?: boolean }) => k.verdict === "error" || k.blocks).length + json.problems.length;
    // Past the file, sup check looks at this machine: directories, users, the command.
    const machine = /not a directory|does not exist|no such (user|group)|command not found|has no gunicorn|only a master run as root/.test(r.stderr);
    expect(r.code).toBe(errors > 0 || machine ? 2 : 0);
    if (errors > 0) expect(r.stderr).toMatch(/errors \(sup will not start until they are fixed\):\n {2}\S+:\d+/);
    const order = ["errors (", "decisions:", "not yet in sup (ignored):", "no-ops:"].map((t) => out.indexOf(t)).filter((i) => i >= 0);
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  test("the app command imports the module uWSGI imports (module = proj.wsgi is proj/wsgi.py), with its callable", async () => {
    const { last } = supReads(file);
    const module = last.get("module") ?? last.get("wsgi");
    // (a comment after the module is an error: there is no command to look at)
    if (module === undefined || module.endsWith(".py") || /\s[#;]/.test(module) || last.has("command")) return;
    const { config } = JSON.parse((await sup(["migrate", "uwsgi", file, "--format", "json"], dir, ENV)).stdout);
    const argv: string[] = config.command ?? config.programs.app.command; // with attach-daemon lines, the app is one program
    expect(argv.at(-1)).toBe(module.includes(":") ? module : `${module}:${last.get("callable") ?? "application"}`);
  });

  test("sup migrate uwsgi: every key line has a verdict, and the TOML loads as a sup config", async () => {
    const j = await sup(["migrate", "uwsgi", file, "--format", "json"], dir, ENV);
    expect(j.code).toBe(0);
    const out = JSON.parse(j.stdout);
    const lines = supReads(file);
    expect(out.keys.length).toBeGreaterThanOrEqual(lines.first.size);
    for (const k of out.keys) {
      expect(["mapped", "no-op", "decide", "unsupported", "error"]).toContain(k.verdict);
      expect(typeof k.value).toBe("string");
      expect(k.line).toBeGreaterThanOrEqual(0);
    }
    const toml = await sup(["migrate", "uwsgi", file], dir, ENV);
    writeFileSync(join(dir, `${file}.toml`), toml.stdout);
    const loaded = await sup(["config", "--toml", `${file}.toml`], dir, ENV);
    expect(loaded.stderr).toBe("");
    expect(loaded.code).toBe(0);
  });
});

test("the corpus has at least 30 files, each named in SOURCES", async () => {
  const sources = await Bun.file(join(CORPUS, "SOURCES")).text();
  expect(FILES.length).toBeGreaterThanOrEqual(30);
  for (const f of FILES) expect(sources).toMatch(new RegExp(`^${f.replace(".", "\\.")}\\s+\\S+/\\S+\\s+\\S+\\s+[0-9a-f]{40}$`, "m"));
});
