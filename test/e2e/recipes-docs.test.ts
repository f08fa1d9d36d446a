// The docs show only recipes that a test runs: every `sup ... -- COMMAND`
// line in a ```sh block of README.md or docs/*.md is one of RECIPES
// (recipes.ts) to the letter, every `command = ...` of an INI example is the
// command of one, and the doc names the test file that runs it.
import { describe, expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./harness.ts";
import { DOC_FILES, DOC_LINES } from "./doc-examples.ts";
import { RECIPES, words } from "./recipes.ts";

const DOCS = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
/** sup verbs that talk to a running master or print: no worker command to test. */
const CLIENT = /^sup (reload|stop|status|config|check|top|reopen-logs|--version|--help|--reload|--stop)\b/;

/** The lines of the fenced blocks of one language, with their line numbers (and each line's block). */
function fenced(text: string, lang: string) {
  const out: { line: string; at: number; block: string[] }[] = [];
  let inside = false;
  let block: string[] = [];
  text.split("\n").forEach((l, i) => {
    if (/^```/.test(l)) {
      inside = !inside && l.trim() === "```" + lang;
      block = [];
    } else if (inside) {
      block.push(l);
      out.push({ line: l, at: i + 1, block });
    }
  });
  return out;
}

/** The example file a block shows whole (its first line names it), if it is that file to the letter. */
function exampleFile(block: string[]) {
  const f = DOC_FILES.find((d) => block[0]?.includes(d.file));
  return f && readFileSync(join(ROOT, f.file), "utf8") === block.join("\n") + "\n" ? f : undefined;
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
      const r = RECIPES.find((r) => r.line === l) ?? DOC_LINES.find((d) => d.line === l);
      if (!r) wrong.push(`${doc}:${at}: no test runs "${l}" (add it to RECIPES in test/e2e/recipes.ts, or show a recipe that is there)`);
      else if (!text.includes(r.test)) wrong.push(`${doc}:${at}: "${l}" is run by ${r.test}, which ${doc} does not name`);
    }
    expect(wrong).toEqual([]);
  });

  test("every command = of an INI example is a tested recipe's command, and the doc names its test", () => {
    const wrong: string[] = [];
    for (const { line, at, block } of fenced(text, "ini")) {
      const c = /^command\s*=\s*(.*)$/.exec(line.trim())?.[1];
      if (!c) continue;
      const r = RECIPES.find((r) => commandOf(r.line) === c.trim()) ?? exampleFile(block);
      if (!r) wrong.push(`${doc}:${at}: no test runs the command "${c}"`);
      else if (!text.includes(r.test)) wrong.push(`${doc}:${at}: "${c}" is run by ${r.test}, which ${doc} does not name`);
    }
    expect(wrong).toEqual([]);
  });

  test("no gunicorn --bind fd://3 (gunicorn adopts LISTEN_FDS itself; the extra --bind crash-loops)", () => {
    expect(text).not.toContain("fd://");
  });
});

test("a config block that names an example file is that file to the letter, and its doc names the test that runs it", () => {
  const wrong: string[] = [];
  for (const doc of DOCS) {
    const text = readFileSync(join(ROOT, doc), "utf8");
    for (const lang of ["toml", "ini", "", "json"]) {
      for (const { at, block, line } of fenced(text, lang)) {
        const named = DOC_FILES.find((d) => line === block[0] && line.includes(d.file));
        if (!named) continue;
        if (!exampleFile(block)) wrong.push(`${doc}:${at}: the block is not ${named.file} as it is`);
        else if (!text.includes(named.test)) wrong.push(`${doc}:${at}: ${named.file} is run by ${named.test}, which ${doc} does not name`);
      }
    }
  }
  expect(wrong).toEqual([]);
});

test("the check reads the recipes of README.md at all", () => {
  const lines = fenced(readFileSync(join(ROOT, "README.md"), "utf8"), "sh").map((l) => l.line);
  expect(lines.some((l) => l.startsWith("sup -p 4 --listen 127.0.0.1:8000 --ready notify -- gunicorn"))).toBe(true);
});
