// Builds sup as self-contained executables.
//
//   bun build.ts [OUT] [TARGET]   dist/sup for this machine (or OUT, TARGET)
//   bun build.ts --release        dist/sup-<os>-<arch>[-musl] for every
//                                 platform below, and dist/SHA256SUMS
//
// Flags from DESIGN.md section 7: NODE_ENV is read at run time (not baked in),
// the binary never auto-loads a .env from the user's directory, and
// --bytecode needs --format=esm (plain --bytecode breaks c12).
//
// Memory and start-up (BENCHMARKS.md, "Core: startup, memory, reload"):
// --splitting keeps each lazily imported module (c12, config verbs, the
// reload triggers) in its own chunk, so `sup --version` and the master load
// only what they run (--version 45 → 17 ms; without it the whole bundle is
// loaded at start). --compile-jit-policy=100 makes JavaScriptCore a hundred
// times slower to tier code up: the master's idle tick (every 500 ms) then
// stays in the interpreter instead of pulling the optimizing JITs' code into
// memory (idle master flat at ~40 MB RSS instead of growing past 44 MB over
// minutes); loops that run thousands of times, like the autoreload walk,
// still get compiled. --no-compile-autoload-bunfig: like .env, a bunfig.toml
// in the user's directory (which may preload code) is not sup's.
//
// Cross-targets: `bun build --compile --target=bun-<os>-<arch>` fetches the
// target's runtime from the npm package @oven/bun-<os>-<aarch64|x64>[-musl]
// of the same version as the building bun (through the npm registry, into
// ~/.bun/install/cache) the first time it is needed.
import { $ } from "bun";
import { rmSync } from "node:fs";
import { basename } from "node:path";
import pkg from "./package.json" with { type: "json" };

/** What install.sh downloads: sup-<os>-<arch>[-musl], os from uname -s, arch x64 | arm64. */
const RELEASE_TARGETS = [
  "bun-linux-x64",
  "bun-linux-arm64",
  "bun-linux-x64-musl",
  "bun-linux-arm64-musl",
  "bun-darwin-x64",
  "bun-darwin-arm64",
] as const;

async function compile(out: string, target?: string): Promise<void> {
  const args = [
    "build", "--compile", "--bytecode", "--format=esm", "--minify", "--splitting",
    "--compile-jit-policy=100",
    "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig",
    "--define", "process.env.NODE_ENV=Bun.env.NODE_ENV",
    "--define", `SUP_VERSION=${JSON.stringify(pkg.version)}`,
    ...(target ? [`--target=${target}`] : []),
    "src/main.ts", "--outfile", out,
  ];
  const r = await $`${process.execPath} ${args}`.nothrow().quiet();
  if (r.exitCode !== 0) {
    const why = (r.stderr.toString() + r.stdout.toString()).trim().split("\n").filter((l) => /error/i.test(l)).join("; ");
    throw new Error(why || `bun build exited ${r.exitCode}`);
  }
}

/** sha256sum's format: "<hex>  <name>", which `sha256sum -c` and install.sh read. */
async function sha256(path: string): Promise<string> {
  const h = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) h.update(chunk);
  return h.digest("hex");
}

async function release(): Promise<number> {
  const built: string[] = [];
  const failed: string[] = [];
  // The release location is one setting (package.json config.releases): what
  // users are told to curl must be where these files go.
  const { RELEASES, disagreements } = await import("./scripts/release-url.ts");
  const stale = disagreements();
  if (stale.length > 0) {
    console.error(`${stale.join(", ")} do not name the release location ${RELEASES} (package.json config.releases): run bun scripts/release-url.ts`);
    return 1;
  }
  for (const target of RELEASE_TARGETS) {
    const out = `dist/sup-${target.slice("bun-".length)}`;
    const t0 = performance.now();
    rmSync(out, { force: true }); // a failed target must not leave last release's file behind
    try {
      await compile(out, target);
      built.push(out);
      console.log(`built ${out} (${target}, ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    } catch (e) {
      failed.push(`${target}: ${e instanceof Error ? e.message : String(e)}`);
      console.error(`could not build ${out}: ${failed.at(-1)}`);
    }
  }
  rmSync("dist/SHA256SUMS", { force: true });
  if (built.length > 0) {
    const sums = await Promise.all(built.map(async (f) => `${await sha256(f)}  ${basename(f)}\n`));
    await Bun.write("dist/SHA256SUMS", sums.join(""));
    console.log(`wrote dist/SHA256SUMS (${built.length} files)`);
  }

  // The one binary that runs here must report the version install.sh users will see.
  const host = `dist/sup-${process.platform}-${process.arch}`;
  if (built.includes(host)) {
    const v = (await $`${host} --version`.nothrow().quiet()).stdout.toString().trim();
    if (v !== `sup ${pkg.version}`) failed.push(`${host} --version printed ${JSON.stringify(v)}, expected "sup ${pkg.version}"`);
  }
  if (failed.length > 0) console.error(`release incomplete:\n  ${failed.join("\n  ")}`);
  return failed.length > 0 ? 1 : 0;
}

if (process.argv[2] === "--release") {
  process.exit(await release());
} else {
  const out = process.argv[2] ?? "dist/sup";
  const target = process.argv[3]; // e.g. bun-linux-arm64; omitted = this machine
  try {
    await compile(out, target);
  } catch (e) {
    console.error(`build ${out} failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
  console.log(`built ${out}${target ? ` (${target})` : ""}`);
}
