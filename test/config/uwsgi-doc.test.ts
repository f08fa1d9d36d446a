// docs/uwsgi.md stays in step with the option table, and the table with uWSGI.
import { expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dirWith, sup } from "./helpers.ts";
import { DOC, render, tables } from "../../scripts/gen-uwsgi-doc.ts";
import { UWSGI_NAMES } from "../../src/config/uwsgi-names.ts";
import { UWSGI_RULES } from "../../src/config/uwsgi-options.ts";

const doc = readFileSync(DOC, "utf8");

test("docs/uwsgi.md's option tables are the generated ones (run bun scripts/gen-uwsgi-doc.ts)", () => {
  expect(doc).toContain(tables());
  expect(render(doc)).toBe(doc);
});

test("every name in the table is a uWSGI option, in one row only", () => {
  const seen = new Map<string, number>();
  for (const r of UWSGI_RULES) for (const n of r.names) seen.set(n, (seen.get(n) ?? 0) + 1);
  expect([...seen].filter(([n]) => !UWSGI_NAMES[n] && n !== "end").map(([n]) => n)).toEqual([]);
  expect([...seen].filter(([, c]) => c > 1).map(([n]) => n)).toEqual([]);
});

test("a row has every spelling of its option (uWSGI's handler and variable are the same)", () => {
  const group = (n: string) => UWSGI_NAMES[n]?.match(/#(\d+)/)?.[1];
  const missing: string[] = [];
  for (const r of UWSGI_RULES) {
    const groups = new Set(r.names.map(group).filter(Boolean));
    for (const n of Object.keys(UWSGI_NAMES)) if (groups.has(group(n)) && !r.names.includes(n)) missing.push(`${r.names[0]}: ${n}`);
  }
  expect(missing).toEqual([]);
});

test("the four spellings of autoreload, and listen as the backlog", () => {
  const row = (n: string) => UWSGI_RULES.find((r) => r.names.includes(n))!;
  for (const n of ["py-autoreload", "py-auto-reload", "python-autoreload", "python-auto-reload"]) expect(row(n).to).toBe("py-autoreload");
  expect(row("listen").to).toBe("listen-backlog");
});

test("the example's migration is what sup migrate uwsgi prints", async () => {
  const block = (lang: string) => doc.slice(doc.lastIndexOf("```" + lang) + lang.length + 4).split("```")[0]!;
  const dir = dirWith({ "uwsgi.ini": block("ini") });
  const r = await sup(["migrate", "uwsgi", "uwsgi.ini"], dir);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain(block("toml"));
  writeFileSync(join(dir, "sup.toml"), r.stdout);
  expect((await sup(["config", "--toml", "sup.toml"], dir)).code).toBe(0);
});
