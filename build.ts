// Builds dist/sup, one self-contained executable.
// Flags from DESIGN.md section 7: NODE_ENV is read at run time (not baked in),
// the binary never auto-loads a .env from the user's directory, and
// --bytecode needs --format=esm (plain --bytecode breaks c12).
import { $ } from "bun";
import pkg from "./package.json" with { type: "json" };

const out = process.argv[2] ?? "dist/sup";
const target = process.argv[3]; // e.g. bun-linux-arm64; omitted = this machine

const args = [
  "build", "--compile", "--bytecode", "--format=esm", "--minify",
  "--no-compile-autoload-dotenv",
  "--define", "process.env.NODE_ENV=Bun.env.NODE_ENV",
  "--define", `SUP_VERSION=${JSON.stringify(pkg.version)}`,
  ...(target ? [`--target=${target}`] : []),
  "src/main.ts", "--outfile", out,
];
await $`${process.execPath} ${args}`.quiet();
console.log(`built ${out}${target ? ` (${target})` : ""}`);
