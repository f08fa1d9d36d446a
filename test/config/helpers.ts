// Shared by the config tests: temp dirs with files, and the real CLI
// (`bun src/main.ts`), so exit codes and messages are what a user sees.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseCli } from "../../src/verbs/cli.ts";
import { loadConfig } from "../../src/config/load.ts";
import { onSuiteEnd } from "../preload.ts";

export const ROOT = resolve(import.meta.dir, "../..");
const MAIN = join(ROOT, "src/main.ts");

// Removed when the whole run ends: an afterAll here would be registered for
// the first test file that imports this module only (Bun runs a module once),
// and every later file's dirs were left in the temp dir (issue 18, item 8).
const dirs: string[] = [];
onSuiteEnd(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A fresh directory holding `files` (name → text). */
export function dirWith(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), "sup-config-"));
  dirs.push(d);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(d, name)), { recursive: true });
    writeFileSync(join(d, name), text);
  }
  return d;
}

/** Only PATH (and the suite's TMPDIR, test/preload.ts) from the test's environment: no stray SUP_* variable. */
export const cleanEnv = (extra: Record<string, string> = {}) => ({ PATH: process.env.PATH ?? "/usr/bin:/bin", ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}), ...extra });

export const load = (args: string[], cwd: string, env: Record<string, string | undefined> = cleanEnv()) => loadConfig(parseCli(args), env, cwd);

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `sup ARGS` in cwd (after `prefix`, e.g. a user switch); killed after `ms` (20 s) so a hang fails the test instead of blocking. */
export async function sup(args: string[], cwd: string, env: Record<string, string> = cleanEnv(), prefix: string[] = [], ms = 20_000): Promise<Run> {
  const proc = Bun.spawn([...prefix, process.execPath, MAIN, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"], timeout: ms });
  try {
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, stdout, stderr };
  } finally {
    if (proc.exitCode === null) proc.kill("SIGKILL");
  }
}
