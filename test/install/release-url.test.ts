// The release location is one build setting (package.json config.releases):
// install.sh, README.md and the docs show that one, and no other.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FILES, RELEASES, disagreements, render } from "../../scripts/release-url.ts";

const ROOT = join(import.meta.dir, "../..");

test("install.sh, README.md and the docs name package.json's release location (run bun scripts/release-url.ts)", () => {
  expect(disagreements()).toEqual([]);
  const sh = readFileSync(join(ROOT, "install.sh"), "utf8");
  expect(sh).toContain(`RELEASES="${RELEASES}"`);
  for (const f of ["README.md", "docs/install.md"]) expect(readFileSync(join(ROOT, f), "utf8")).toContain(`curl -fsSL ${RELEASES}/latest/download/install.sh | sh`);
  for (const f of FILES) expect(readFileSync(join(ROOT, f), "utf8")).not.toContain("<url>");
});

test("another location, or a placeholder left in a doc, is what the check finds", () => {
  expect(render('RELEASES="https://example.org/mirror/sup/releases"')).toBe(`RELEASES="${RELEASES}"`);
  expect(render("curl -fsSL <url>/install.sh | sh")).toBe(`curl -fsSL ${RELEASES}/latest/download/install.sh | sh`);
});
