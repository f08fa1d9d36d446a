// docs/config.md stays in step with the schema.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { DOC, keyTable, render } from "../../scripts/gen-config-doc.ts";
import { OPTIONS } from "../../src/config/schema.ts";

const doc = readFileSync(DOC, "utf8");

test("docs/config.md has a row for every schema key", () => {
  const rows = doc.split("\n").filter((l) => l.startsWith("| "));
  const missing = OPTIONS.filter((o) => !rows.some((r) => r.startsWith(`| \`${o.name}\` |`) || r.startsWith(`| ${o.name} (flag only) |`)));
  expect(missing.map((o) => o.name)).toEqual([]);
});

test("docs/config.md's key table is the generated one (run bun scripts/gen-config-doc.ts)", () => {
  expect(doc).toContain(keyTable());
  expect(render(doc)).toBe(doc);
});
