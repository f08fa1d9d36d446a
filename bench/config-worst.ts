// Worst-case config files of about 4 MiB (the most sup reads), each timed
// through `dist/sup check -c FILE`, wall clock from spawn to exit, best of
// 3: deep nesting, long keys, long lines, huge lists, in every format. What
// is refused must be refused in time linear in the size; what is valid must
// load in time linear in the size. Usage: bun bench/config-worst.ts [path/to/sup]
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, cleanEnv, machine } from "./lib.ts";

const SUP = process.argv[2] ?? join(ROOT, "dist/sup");
const MiB = 1024 * 1024;
const N = 4 * MiB - 64; // just under the limit
const fill = (unit: string, budget = N) => unit.repeat(Math.floor(budget / unit.length));

const CASES: Record<string, string> = {
  "json-deep-objects.json": fill('{"a":', N / 2) + "1" + fill("}", N / 2),
  "json-deep-arrays.json": fill("["),
  "json-list.json": `{"touch-reload": [${fill('"a.py",', N - 40).slice(0, -1)}]}`,
  "json-long-key.json": `{"${fill("k", N - 10)}": 1}`,
  "json-long-string.json": `{"chdir": "${fill("x", N - 20)}"}`,
  "toml-deep-arrays.toml": `a = ${fill("[")}`,
  "toml-dotted-key.toml": `a${fill(".a", N - 10)} = 1`,
  "toml-deep-header.toml": `[a${fill(".a", N - 10)}]`,
  "toml-list.toml": `touch-reload = [${fill('"a.py",', N - 40)}]`,
  "toml-comments.toml": fill("# a comment line\n"),
  "yaml-deep-flow.yaml": `a: ${fill("[")}`,
  "yaml-compact-seq.yaml": `a:\n${fill("- ")}x\n`,
  "yaml-staircase.yaml": "a:\n" + Array.from({ length: 2000 }, (_, i) => `${" ".repeat(i + 1)}-`).join("\n"),
  "yaml-list.yaml": `touch-reload:\n${fill("  - a.py\n", N - 20)}`,
  "yaml-long-spaces.yaml": `a${fill(" ", N - 10)}\n`,
  "ini-keys.ini": `[sup]\n${fill("touch-reload = a.py\n", N - 10)}`,
  "ini-long-line.ini": `[sup]\nchdir = ${fill("x", N - 20)}\n`,
  "ini-placeholder-uses.ini": `[sup]\nx = 1\n${fill("chdir = %(x)\n", N - 20)}`,
  "ini-placeholder-chain.ini": "[sup]\n" + Array.from({ length: 20_000 }, (_, i) => `k${i} = %(k${i + 1})`).join("\n") + "\nk20000 = x\nchdir = %(k0)\n",
};

async function timeCheck(file: string): Promise<{ ms: number; code: number; said: string }> {
  const t0 = performance.now();
  const p = Bun.spawn([SUP, "check", "-c", file], { cwd: join(file, ".."), env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] });
  const timer = setTimeout(() => p.kill("SIGKILL"), 60_000);
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  const said = (err || out).split("\n")[0]!.replace(/^sup: /, "");
  return { ms: performance.now() - t0, code, said: said.length > 110 ? `${said.slice(0, 110)}…` : said };
}

const dir = mkdtempSync(join(tmpdir(), "sup-bench-config-"));
try {
  console.log(`# ${machine()}; dist/sup check -c FILE, best of 3 (ms), exit code, first line said`);
  const baseline = join(dir, "empty.toml");
  writeFileSync(baseline, "");
  for (const [name, text] of [["empty.toml", ""] as const, ...Object.entries(CASES)]) {
    const file = join(dir, name);
    writeFileSync(file, text);
    let best: Awaited<ReturnType<typeof timeCheck>> | undefined;
    for (let i = 0; i < 3; i++) {
      const r = await timeCheck(file);
      if (!best || r.ms < best.ms) best = r;
    }
    console.log(`${name.padEnd(28)} ${(text.length / MiB).toFixed(2)} MiB ${best!.ms.toFixed(0).padStart(6)} ms  exit ${best!.code}  ${best!.said}`);
  }
  console.log(`# ${machine()}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
