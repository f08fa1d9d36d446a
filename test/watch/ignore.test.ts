import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_IGNORES, globToRegExpSource, includeFilter, isIgnored, parseRule, parseRules } from "../../src/watch/ignore.ts";

const glob = (g: string) => new RegExp(`^${globToRegExpSource(g)}$`);
const defaults = parseRules(DEFAULT_IGNORES.join("\n"));
const ignored = (rules: string, rel: string, isDir = false, base = "") => isIgnored(defaults.concat(parseRules(rules, base)), [], rel, isDir);

describe("globToRegExpSource", () => {
  test("* and ? stay within one path segment", () => {
    expect(glob("*.py").test("app.py")).toBe(true);
    expect(glob("*.py").test("src/app.py")).toBe(false);
    expect(glob("a?c").test("abc")).toBe(true);
    expect(glob("a?c").test("a/c")).toBe(false);
  });
  test("** spans directories only as a whole segment", () => {
    expect(glob("**/x.py").test("x.py")).toBe(true);
    expect(glob("**/x.py").test("a/b/x.py")).toBe(true);
    expect(glob("a/**/b").test("a/b")).toBe(true);
    expect(glob("a/**/b").test("a/x/y/b")).toBe(true);
    expect(glob("a/**").test("a/x/y")).toBe(true);
    expect(glob("a**b").test("a/b")).toBe(false);
  });
  test("classes, negated classes and escapes", () => {
    expect(glob("[abc].txt").test("b.txt")).toBe(true);
    expect(glob("[!abc].txt").test("b.txt")).toBe(false);
    expect(glob("[!abc].txt").test("d.txt")).toBe(true);
    expect(glob("\\*.txt").test("*.txt")).toBe(true);
    expect(glob("\\*.txt").test("a.txt")).toBe(false);
    expect(glob("a.b(c)+").test("a.b(c)+")).toBe(true);
  });
});

describe("parseRule", () => {
  test("blank lines and comments are no rules; \\# is a name", () => {
    expect(parseRule("")).toBeNull();
    expect(parseRule("   ")).toBeNull();
    expect(parseRule("# x")).toBeNull();
    expect(parseRule("\\#x")?.re.test("#x")).toBe(true);
  });
  test("flags: negation, directory-only, anchoring", () => {
    expect(parseRule("!keep.log")).toMatchObject({ negate: true, anchored: false });
    expect(parseRule("build/")).toMatchObject({ dirOnly: true, anchored: false });
    expect(parseRule("/dist")).toMatchObject({ anchored: true });
    expect(parseRule("doc/*.md")).toMatchObject({ anchored: true });
  });
});

describe("isIgnored", () => {
  test("defaults: VCS, dependencies, bytecode, editor files", () => {
    for (const [p, dir] of [[".git", true], ["node_modules", true], ["a/__pycache__", true], ["a/b.pyc", false], [".app.py.swp", false],
      ["app.py~", false], [".#app.py", false], ["4913", false], ["x.tmp", false], ["#app.py#", false]] as const) {
      expect([p, ignored("", p, dir)]).toEqual([p, true]);
    }
    expect(ignored("", "src/app.py")).toBe(false);
  });
  test("defaults: rotated logs and runtime files (issue 18); source files with such words in them are not", () => {
    for (const [p, dir] of [["app.log.1", false], ["logs/app.log.2.gz", false], ["web.log.2024-01-01", false], ["run/app.pid", false], ["gunicorn.sock", false],
      [".pytest_cache", true], ["a/__pycache__", true], ["node_modules", true], ["node_modules/.cache", true], ["web/node_modules/.cache", true]] as const) {
      expect([p, ignored("", p, dir)]).toEqual([p, true]);
    }
    for (const p of ["logging.py", "catalog.py", "pid.py", "socket.py", "app.logger.py", "sock/x.py"]) expect([p, ignored("", p)]).toEqual([p, false]);
  });
  test("the user's !glob takes a default back; node_modules taken back keeps its .cache ignored", () => {
    expect(isIgnored(defaults, parseRules("!*.pid"), "app.pid", false)).toBe(false);
    const deps = parseRules("!node_modules");
    expect(isIgnored(defaults, deps, "node_modules", true)).toBe(false);
    expect(isIgnored(defaults, deps, "node_modules/.cache", true)).toBe(true);
  });
  test("docs/config.md shows exactly this list, in this order", () => {
    const doc = readFileSync(join(import.meta.dir, "../../docs/config.md"), "utf8");
    const block = /<!-- default-ignores -->\n([\s\S]*?)<!-- \/default-ignores -->/.exec(doc)?.[1] ?? "";
    expect([...block.matchAll(/`([^`]+)`/g)].map((m) => m[1])).toEqual(DEFAULT_IGNORES);
  });
  test("a name pattern matches at any depth, an anchored one only below its .gitignore", () => {
    expect(ignored("*.log", "a/b/c.log")).toBe(true);
    expect(ignored("/dist", "dist", true)).toBe(true);
    expect(ignored("/dist", "src/dist", true)).toBe(false);
    expect(ignored("out/*.js", "sub/out/x.js", false, "sub")).toBe(true);
    expect(ignored("out/*.js", "out/x.js", false, "sub")).toBe(false);
  });
  test("a trailing / matches directories only", () => {
    expect(ignored("build/", "build", true)).toBe(true);
    expect(ignored("build/", "build", false)).toBe(false);
  });
  test("the last matching rule wins, so ! re-includes", () => {
    expect(ignored("*.log\n!keep.log", "keep.log")).toBe(false);
    expect(ignored("*.log\n!keep.log", "other.log")).toBe(true);
    expect(ignored("!keep.log\n*.log", "keep.log")).toBe(true);
  });
  test("the user's globs win over the defaults and .gitignore", () => {
    const user = parseRules("!node_modules\n*.gen.ts");
    expect(isIgnored(defaults, user, "node_modules", true)).toBe(false);
    expect(isIgnored(defaults, user, "src/x.gen.ts", false)).toBe(true);
  });
});

describe("includeFilter", () => {
  test("no globs: everything counts", () => expect(includeFilter([])("any/thing")).toBe(true));
  test("a name glob matches the file name, a path glob the path", () => {
    const f = includeFilter(["*.py", "conf/**/*.ini"]);
    expect(f("src/app.py")).toBe(true);
    expect(f("conf/a/b.ini")).toBe(true);
    expect(f("b.ini")).toBe(false);
    expect(f("README.md")).toBe(false);
  });
});
