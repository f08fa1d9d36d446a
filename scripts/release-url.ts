// The release location is one build setting: package.json's
// config.releases (`<repository>/releases`: install.sh downloads
// <releases>/latest/download/FILE and <releases>/download/vX.Y.Z/FILE).
// This writes it into every place that shows it: install.sh's RELEASES=,
// and the install lines of README.md and docs/. With --check it only says
// whether they agree (exit 1 when not); test/install/release-url.test.ts
// and `bun build.ts --release` check it too.
//
//   bun scripts/release-url.ts [--check]
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };

const ROOT = join(import.meta.dir, "..");
export const RELEASES = pkg.config.releases.replace(/\/+$/, "");
export const FILES = ["install.sh", "README.md", "docs/install.md", "docs/container.md"];

/** Any release location (a URL ending in /releases), or the old <url> placeholder of an install line. */
const LOCATION = /https?:\/\/[^\s"'`<>]+?\/releases(?=[/"'\s]|$)|<url>(?=\/install\.sh)/g;

/** The text with every release location set to RELEASES (<url>/install.sh becomes RELEASES/latest/download/install.sh). */
export function render(text: string): string {
  return text.replace(LOCATION, (m) => (m === "<url>" ? `${RELEASES}/latest/download` : RELEASES));
}

/** Where a file disagrees with the setting. */
export function disagreements(): string[] {
  return FILES.filter((f) => {
    const text = readFileSync(join(ROOT, f), "utf8");
    return render(text) !== text || !text.includes(RELEASES);
  });
}

if (import.meta.main) {
  if (process.argv.includes("--check")) {
    const bad = disagreements();
    if (bad.length > 0) {
      console.error(`${bad.join(", ")}: not the release location of package.json (${RELEASES}); run bun scripts/release-url.ts`);
      process.exit(1);
    }
  } else {
    for (const f of FILES) {
      const text = readFileSync(join(ROOT, f), "utf8");
      if (render(text) !== text) {
        writeFileSync(join(ROOT, f), render(text));
        console.log(`wrote ${f}`);
      }
    }
  }
}
