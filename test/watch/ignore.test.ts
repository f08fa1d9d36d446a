import { describe, expect, test } from "bun:test";
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
