// Loaded before every test file (bunfig.toml [test] preload): the suite runs
// with TMPDIR set to a directory of its own, and fails at the end if it left
// anything named sup* there (issue 18, item 8: a full run left about 34
// sup-config-* and sup-derived-* dirs in /tmp). A directory of its own, not
// a list of /tmp taken at the start: other people's runs on the same
// machine make and remove their own sup* dirs meanwhile.
//
// Bun.spawn without an `env` gives a child the environment the test process
// started with, not this TMPDIR: test/e2e/harness.ts passes process.env.
import { afterAll } from "bun:test";
import { chmodSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Sticky and open to all, like /tmp: tests run masters as nobody, whose
// runtime dir goes here too (src/control/rundir.ts wants the sticky bit).
export const SUITE_TMP = mkdtempSync(join(tmpdir(), "sup-suite-"));
chmodSync(SUITE_TMP, 0o1777);
process.env.TMPDIR = SUITE_TMP;

const atEnd: (() => void)[] = [];
/** For what lives as long as the whole run (harness.ts's copy of dist/sup for nobody): removed before the check. */
export const onSuiteEnd = (fn: () => void) => void atEnd.push(fn);

const leftovers = () => readdirSync(SUITE_TMP).filter((n) => n.startsWith("sup"));

afterAll(async () => {
  for (const fn of atEnd.splice(0)) fn();
  // A master killed by the last test leaves its runtime dir (sup-PID) to its
  // guard, which removes it within a second or so.
  let left = leftovers();
  for (const end = Date.now() + 5000; left.length > 0 && Date.now() < end; left = leftovers()) await Bun.sleep(100);
  rmSync(SUITE_TMP, { recursive: true, force: true });
  if (left.length > 0) {
    throw new Error(`the tests left ${left.length} temp dir${left.length === 1 ? "" : "s"} behind: ${left.sort().join(", ")}; each test removes what it makes (test/e2e/harness.ts tempDir, test/config/helpers.ts dirWith)`);
  }
});
