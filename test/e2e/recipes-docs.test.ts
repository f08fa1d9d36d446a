// The docs show only recipes that a test runs: every `sup ... -- COMMAND`
// line in a ```sh block of README.md or docs/*.md is one of RECIPES
// (recipes.ts) to the letter, every `command = ...` of an INI example is the
// command of one, and the doc names the test file that runs it.
import { describe, expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./harness.ts";
import { LINES, RECIPES, words } from "./recipes.ts";

const DOCS = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
/** sup verbs that talk to a running master or print: no worker command to test. */
const CLIENT = /^sup (reload|stop|status|config|check|--version|--help|--reload|--stop)\b/;

/** The lines of the fenced blocks of one language, with their line numbers. */
function fenced(text: string, lang: string) {
  const out: { line: string; at: number }[] = [];
  let inside = false;
  text.split("\n").forEach((l, i) => {
    if (/^```/.test(l)) inside = !inside && l.trim() === "```" + lang;
    else if (inside) out.push({ line: l, at: i + 1 });
  });
  return out;
}

const commandOf = (line: string) => words(line).slice(words(line).indexOf("--") + 1).join(" ");

describe.each(DOCS)("%s", (doc) => {
  const text = readFileSync(join(ROOT, doc), "utf8");

  test("every sup line in a sh block is a tested recipe, and the doc names its test", () => {
    const wrong: string[] = [];
    for (const { line, at } of fenced(text, "sh")) {
      let l = line.replace(/\s+#.*$/, "").trim();
      if (!l.startsWith("sup ") || CLIENT.test(l)) continue;
      l = l.replace(/^sup systemd-unit /, "sup ").replace(/\s*>.*$/, ""); // the unit runs the same line
      const r = RECIPES.find((r) => r.line === l) ?? LINES.find((r) => r.line === l);
      if (!r) wrong.push(`${doc}:${at}: no test runs "${l}" (add it to RECIPES in test/e2e/recipes.ts, or show a recipe that is there)`);
      else if (!text.includes(r.test)) wrong.push(`${doc}:${at}: "${l}" is run by ${r.test}, which ${doc} does not name`);
    }
    expect(wrong).toEqual([]);
  });

  test("every command = of an INI example is a tested recipe's command, and the doc names its test", () => {
    const wrong: string[] = [];
    for (const { line, at } of fenced(text, "ini")) {
      const c = /^command\s*=\s*(.*)$/.exec(line.trim())?.[1];
      if (!c) continue;
      const r = RECIPES.find((r) => commandOf(r.line) === c.trim());
      if (!r) wrong.push(`${doc}:${at}: no test runs the command "${c}"`);
      else if (!text.includes(r.test)) wrong.push(`${doc}:${at}: "${c}" is run by ${r.test}, which ${doc} does not name`);
    }
    expect(wrong).toEqual([]);
  });

  test("no gunicorn --bind fd://3 (gunicorn adopts LISTEN_FDS itself; the extra --bind crash-loops)", () => {
    expect(text).not.toContain("fd://");
  });
});

test("the check reads the recipes of README.md at all", () => {
  const lines = fenced(readFileSync(join(ROOT, "README.md"), "utf8"), "sh").map((l) => l.line);
  expect(lines.some((l) => l.startsWith("sup -p 4 --listen 127.0.0.1:8000 --ready notify -- gunicorn"))).toBe(true);
});
