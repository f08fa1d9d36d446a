// The uWSGI reader (src/config/uwsgi-read.ts and its parts): the edges of
// uWSGI's reading, checked against uWSGI itself where it answers (a file of
// quirks, every key compared with `uwsgi --get`), and the problems sup
// reports where uWSGI would stop or silently misread.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { realHost } from "../../src/config/uwsgi-host.ts";
import { fromBytes, substituteMagic, toBytes } from "../../src/config/uwsgi-magic.ts";
import { placeholder, strtoll } from "../../src/config/uwsgi-passes.ts";
import { UwsgiReader, type ReadHost } from "../../src/config/uwsgi-read.ts";
import { ROOT } from "./helpers.ts";

const asNobody = process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
const ENV = { HOME: "/home/q", PATH: "/usr/bin:/bin" };
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function read(host: ReadHost, file: string, env: Record<string, string | undefined> = ENV) {
  const r = new UwsgiReader(host, (p) => p);
  r.readFile(file, "uwsgi");
  r.finish(env);
  const first = new Map<string, string>();
  for (const o of r.opts) if (!first.has(fromBytes(o.key))) first.set(fromBytes(o.key), fromBytes(o.value));
  return { r, first, all: (k: string) => r.opts.filter((o) => fromBytes(o.key) === k).map((o) => fromBytes(o.value)) };
}

describe("against uWSGI (uwsgi --get)", () => {
  test("every key of a file of quirks reads as uWSGI reads it", () => {
    const dir = mkdtempSync(join(tmpdir(), "sup-uwsgi-quirks-"));
    dirs.push(dir);
    chmodSync(dir, 0o755);
    for (const f of ["quirks.ini", "inherited.ini"]) {
      cpSync(join(ROOT, "test/fixtures/uwsgi-quirks", f), join(dir, f));
      chmodSync(join(dir, f), 0o644);
    }
    const { first } = read(realHost(dir, ENV), join(dir, "quirks.ini"));
    const keys = [...first.keys()].filter((k) => k !== "ini");
    const p = Bun.spawnSync([...asNobody, "uwsgi", "--ini", "quirks.ini", ...keys.flatMap((k) => ["--get", k])], { cwd: dir, env: ENV });
    expect(p.exitCode).toBe(0);
    const lines = p.stdout.toString().split("\n").slice(0, -1);
    expect(Object.fromEntries(keys.map((k, i) => [k, lines[i]]))).toEqual(Object.fromEntries(keys.map((k) => [k, first.get(k)])));
    // The quirks the file is about, spelled out:
    expect(first.get("twice")).toBe("%(name)"); // after a substitution the scan resumes at the 2nd character
    expect(first.get("math")).toBe("1"); // "(%k" is no number: it counts as 0
    expect(first.get("gone")).toBe("xy"); // an unknown magic variable is dropped
    expect(first.get("joined")).toBe("50next = BB"); // a "%" at a line end takes the newline
    expect(first.get("early")).toBe("%(name)K"); // a placeholder gets the value as it is at that moment
    expect(first.get("unset")).toBe("$(SUP_QUIRKS_UNSET)/q"); // an unset variable stays as written
    expect(first.get("comment")).toBe("4 ; four"); // no comments after a value
    expect(first.get("first")).toBe("one"); // a placeholder and --get take the first value
    expect(first.get("inherited")).toBe("%(name)"); // inherit comes after the passes
    expect(first.get("name")).toBe("B"); // and the file's own value comes first
    expect(first.get("stamped")).toBe("app-ran in /home/q.log"); // @(exec://CMD) runs CMD (after $(…)) and takes its output
  });
});

/** A machine with only the files given (path → text), for the problem cases. */
function fake(files: Record<string, string>): ReadHost {
  const text = (p: string) => files[p.startsWith("/") ? p : `/srv/${p}`];
  return {
    cwd: "/srv", env: ENV, hostname: "box", cpus: 4, uid: 1000, gid: 1000, user: "app", group: "app",
    now: () => 1_700_000_000, binary: "/usr/bin/sup", version: "sup-test",
    realpath: (p) => (text(p) !== undefined ? (p.startsWith("/") ? p : `/srv/${p}`) : undefined),
    isSymlink: () => false,
    inode: () => 42,
    read: (p) => (text(p) !== undefined ? { bytes: toBytes(text(p)!) } : { error: "does not exist" }),
    exists: (p) => text(fromBytes(p)) !== undefined,
    isFile: (p) => text(fromBytes(p)) !== undefined,
    isDir: () => false,
    glob: (p) => [p],
    lines: () => undefined,
    plugins: new Set(["python3"]),
  };
}

describe("what uWSGI would stop at, or misread without a word", () => {
  test("a missing include names the including line; the file goes on being read", () => {
    const { r, first } = read(fake({ "/srv/a.ini": "[uwsgi]\nprocesses = 2\nini = %dmissing.ini\nmaster = true\n" }), "/srv/a.ini");
    expect(r.problems).toEqual([expect.objectContaining({ file: "/srv/a.ini", line: 3, message: expect.stringContaining("/srv/missing.ini does not exist") })]);
    expect(first.get("master")).toBe("true");
  });

  test("an include of a missing section is a warning, as uWSGI's", () => {
    const { r } = read(fake({ "/srv/a.ini": "[uwsgi]\nini = :nope\n" }), "/srv/a.ini");
    expect(r.problems).toEqual([expect.objectContaining({ line: 2, severity: "warning", message: expect.stringContaining("has no [nope] section") })]);
  });

  test("an if-/for- block that nothing closes is a warning at its line (uWSGI applies it to every key after it, without a word); a closed one is not", () => {
    const { r, all } = read(fake({ "/srv/a.ini": "[uwsgi]\nfor = a b\nenv = X_%(_)=1\nmaster = true\n" }), "/srv/a.ini");
    expect(all("master")).toEqual(["true", "true"]);
    expect(r.problems).toEqual([expect.objectContaining({ line: 2, severity: "warning", message: "for = a b: no endfor closes it, so uWSGI applies its test to every key after it, to the end of the config; close it where the block ends" })]);
    const closed = read(fake({ "/srv/b.ini": "[uwsgi]\nif-env = HOME\nenv = H=%(_)\nendif =\nmaster = true\n" }), "/srv/b.ini");
    expect(closed.r.problems).toEqual([]);
  });

  test("a file that includes itself stops at a depth, with the line", () => {
    const { r } = read(fake({ "/srv/a.ini": "[uwsgi]\nini = /srv/a.ini\n" }), "/srv/a.ini");
    expect(r.problems.at(-1)).toEqual(expect.objectContaining({ line: 2, message: expect.stringContaining("includes itself") }));
  });

  test("a placeholder that contains itself and grows is an error, not a hang", () => {
    const { r } = read(fake({ "/srv/a.ini": "[uwsgi]\na = x%(a)\n" }), "/srv/a.ini");
    expect(r.problems).toEqual([expect.objectContaining({ line: 2, key: "a", message: expect.stringContaining("contains itself") })]);
  });

  test("nested if-/for- blocks, a set without =, a placeholder named like an option", () => {
    const text = "[uwsgi]\nif-env = HOME\nif-env = PATH\nendif =\nset = novalue\nset-ph = processes=2\n";
    const { r } = read(fake({ "/srv/a.ini": text }), "/srv/a.ini");
    expect(r.problems.map((p) => p.line)).toEqual([3, 5, 6]);
  });

  test("a BOM before [uwsgi] hides the header from uWSGI; an unclosed header is named", () => {
    expect(read(fake({ "/srv/a.ini": "\uFEFF[uwsgi]\nprocesses = 2\n" }), "/srv/a.ini").r.problems[0]!.message).toContain("byte order mark");
    expect(read(fake({ "/srv/a.ini": "[uwsgi\nprocesses = 2\n" }), "/srv/a.ini").r.problems[0]).toEqual(expect.objectContaining({ line: 1, message: "section header [uwsgi has no closing ]" }));
  });

  test("UWSGI_<OPTION> variables are options before the file; uWSGI's own ones are not", () => {
    const r = new UwsgiReader(fake({ "/srv/a.ini": "[uwsgi]\nprocesses = 2\n" }), (p) => p);
    r.readEnvironment({ UWSGI_PROCESSES: "4", UWSGI_HTTP_SOCKET: ":8000", UWSGI_RELOADS: "3" });
    r.readFile("/srv/a.ini", "uwsgi");
    r.finish({});
    expect(r.opts.map((o) => `${fromBytes(o.key)}=${fromBytes(o.value)}@${o.file}`)).toEqual(["processes=4@$UWSGI_PROCESSES", "http-socket=:8000@$UWSGI_HTTP_SOCKET", "processes=2@/srv/a.ini"]);
  });
});

describe("the parts", () => {
  test("magic substitution keeps the line a joined line started on", () => {
    const lines = substituteMagic("a = 1%\nb = 2\nc = %d\n", { d: "/x/" });
    expect(lines).toEqual([{ text: "a = 1b = 2", line: 1 }, { text: "c = /x/", line: 3 }]);
    expect(substituteMagic("a = %%", {})).toEqual([{ text: "a = %", line: 1 }]);
    expect(substituteMagic("a = 1%", {})).toEqual([{ text: "a = 1", line: 1 }]); // the NUL after the file takes it
  });

  test("placeholder arithmetic on 64-bit integers, as uWSGI's", () => {
    const opts = [{ key: "n", value: "7", configured: false }];
    expect(placeholder(opts, "n * 3")).toBe("21");
    expect(placeholder(opts, "n / 0")).toBe("0");
    expect(placeholder(opts, "n - 10")).toBe("-3");
    expect(placeholder(opts, "9223372036854775807 + 1")).toBe("9223372036854775807");
    expect(placeholder(opts, "n ++ ++")).toBe("9");
    expect(placeholder(opts, "missing")).toBeUndefined();
    expect(strtoll("  42abc")).toBe(42n);
  });
});
