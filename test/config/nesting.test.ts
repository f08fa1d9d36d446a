// Nesting: any config nested past 64 levels is refused with file:line, exit
// 2, in time linear in its size; what a sup config really nests (4 levels)
// passes (issue 18, item 2). Before: `[` × 200,000 in a JSON file was an
// internal RangeError (exit 1), and 20,000 nested JSON objects took 10-23 s
// and were accepted.
import { describe, expect, test } from "bun:test";
import { jsonKeyLines } from "../../src/config/locate.ts";
import { MAX_DEPTH, checkTomlNesting, checkYamlNesting } from "../../src/config/nesting.ts";
import { cleanEnv, dirWith, load, sup } from "./helpers.ts";

const MiB = 1024 * 1024;
const nested = (open: string, close: string, n: number, inner = "1") => open.repeat(n) + inner + close.repeat(n);
const staircase = (n: number) => Array.from({ length: n }, (_, i) => `${"  ".repeat(i)}k${i}:`).join("\n") + " 1\n";
const compact = (n: number) => `a:\n${"- ".repeat(n)}x\n`;

type Check = (text: string, name: string) => unknown;
const CHECKS: Record<string, Check> = { json: jsonKeyLines, toml: checkTomlNesting, yaml: checkYamlNesting };

/** [format, text nested `n` levels]: each way of nesting each format has. */
const SHAPES: [string, string, (n: number) => string][] = [
  ["json", "objects", (n) => nested('{"a":', "}", n)],
  ["json", "arrays", (n) => nested("[", "]", n)],
  ["toml", "arrays", (n) => `a = ${nested("[", "]", n - 1)}`],
  ["toml", "inline tables", (n) => `a = ${nested("{b = ", "}", n - 1)}`],
  ["toml", "dotted keys", (n) => `${Array.from({ length: n }, (_, i) => `k${i}`).join(".")} = 1`],
  ["toml", "table headers", (n) => `[${Array.from({ length: n - 1 }, (_, i) => `k${i}`).join(".")}]\nx = 1`],
  ["yaml", "flow lists", (n) => `a: ${nested("[", "]", n - 1)}`],
  ["yaml", "indented maps", (n) => staircase(n)],
  ["yaml", "compact lists", (n) => compact(n - 1)],
];

describe.each(SHAPES)("%s %s", (format, _shape, make) => {
  const check = CHECKS[format]!;
  test(`${MAX_DEPTH} levels pass, ${MAX_DEPTH + 1} are refused with the line`, () => {
    expect(() => check(make(MAX_DEPTH - 1), "f")).not.toThrow();
    expect(() => check(make(MAX_DEPTH + 1), "f")).toThrow(/^f:\d+: nested more than 64 levels deep/);
  });

  test("4 MiB of it is refused in under a second", () => {
    let n = MAX_DEPTH;
    while (make(2 * n).length <= 4 * MiB) n *= 2; // the staircase grows as n²
    const text = make(n);
    const t0 = performance.now();
    expect(() => check(text, "f")).toThrow("nested more than 64 levels deep");
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

test("what sup's files really nest passes: tables of lists, $env tables, strings holding brackets", () => {
  expect(() => checkTomlNesting('a = "[[[[" # [[[[\n[production]\nx = ["]]]", \'[{\', """\n[[[\n"""]\n[[a.b]]\nc.d = {e = [1, 2]}\n', "f")).not.toThrow();
  expect(() => checkYamlNesting("a: '[[['\nb: \"{{\" # [[[\nc: |\n  [[[[\n      [[[\nd: x[1]\ne:\n- - [1, {f: [2]}]\n", "f")).not.toThrow();
  expect(() => jsonKeyLines('{"$env": {"production": {"listen": ["[[["]}}}', "f")).not.toThrow();
});

describe("through the CLI: exit 2 with file and line, at once", () => {
  const CASES: [string, string, RegExp][] = [
    ["deep.json", "[".repeat(200_000), /^sup: deep\.json:1: nested more than 64 levels deep/],
    ["objects.json", nested('{"a":', "}", 20_000), /^sup: objects\.json:1: nested more than 64 levels deep/],
    ["deep.toml", `a = ${"[".repeat(200_000)}`, /^sup: deep\.toml:1: nested more than 64 levels deep/],
    ["deep.yaml", `a: ${"[".repeat(200_000)}`, /^sup: deep\.yaml:1: nested more than 64 levels deep/],
    ["stairs.yaml", staircase(1500), /^sup: stairs\.yaml:6\d: nested more than 64 levels deep/],
    ["chain.ini", `[sup]\n${Array.from({ length: 20_000 }, (_, i) => `k${i} = %(k${i + 1})`).join("\n")}\nchdir = %(k0)\n`, /^sup: chain\.ini:\d+: placeholders nested more than 64 deep/],
  ];
  for (const [name, text, message] of CASES) {
    test(name, async () => {
      const dir = dirWith({ [name]: text });
      const t0 = performance.now();
      const r = await sup(["check", "-c", name], dir, cleanEnv(), [], 10_000);
      expect(r.stderr).toMatch(message);
      expect(r.code).toBe(2);
      expect(performance.now() - t0).toBeLessThan(5000);
    });
  }
});

test("200,000 uses of one INI placeholder load in linear time (was minutes: each use scanned every line)", async () => {
  const dir = dirWith({ "sup.ini": `[sup]\nx = /srv\n${"chdir = %(x)\n".repeat(200_000)}` });
  const t0 = performance.now();
  const { config } = await load(["-c", "sup.ini"], dir);
  expect(config.chdir).toBe("/srv");
  expect(performance.now() - t0).toBeLessThan(3000);
});

test("INI placeholders that double at every level are refused before they fill memory", async () => {
  const levels = Array.from({ length: 40 }, (_, i) => `p${i + 1} = %(p${i})%(p${i})`).join("\n");
  const dir = dirWith({ "sup.ini": `[sup]\np0 = xxxxxxxx\n${levels}\nchdir = %(p40)\n` });
  await expect(load(["-c", "sup.ini"], dir)).rejects.toThrow(/sup\.ini:\d+: placeholders expand to more than 16 MiB/);
});
