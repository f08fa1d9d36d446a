// Help a newcomer can read: every verb's own page (-h, --help, sup help
// VERB) with its usage, switches, defaults and examples; the global page
// with the options grouped by purpose, every one of them with its default,
// ending with examples. Run through the real CLI.
import { describe, expect, test } from "bun:test";
import { OPTIONS, type OptionSpec } from "../../src/config/schema.ts";
import { parseCli } from "../../src/verbs/cli.ts";
import { VERBS } from "../../src/verbs/help.ts";
import { cleanEnv, dirWith, sup } from "../config/helpers.ts";

const dir = dirWith({});
const run = (args: string[]) => sup(args, dir, cleanEnv());

describe.each(Object.keys(VERBS))("sup %s", (verb) => {
  test("--help, -h and sup help VERB print the verb's own page, exit 0", async () => {
    const long = await run([verb, "--help"]);
    expect(long.code).toBe(0);
    expect(long.stdout).toContain(`(sup ${verb})`);
    expect(long.stdout).toContain(`USAGE sup ${verb}`);
    expect(long.stdout).toMatch(/\nEXAMPLES\n\n {2}sup /);
    for (const name of Object.keys(VERBS[verb]!.args)) expect(long.stdout).toMatch(new RegExp(`--${name}|${name.toUpperCase()}`));
    expect((await run([verb, "-h"])).stdout).toBe(long.stdout);
    expect((await run(["help", verb])).stdout).toBe(long.stdout);
    expect(long.stdout).not.toContain("WORKERS"); // not the global page
    expect(long.stdout).not.toMatch(/\x1b\[/); // no colours when not on a terminal
  });

  test("its examples are command lines sup accepts", () => {
    for (const e of VERBS[verb]!.examples) {
      const argv = e.replace(/\s*>.*$/, "").split(/\s+/).slice(1);
      expect(() => parseCli(argv)).not.toThrow();
    }
  });
});

describe("sup --help", () => {
  test("the options grouped by purpose, each with its default, then signals and examples", async () => {
    const r = await run(["--help"]);
    expect(r.code).toBe(0);
    const titles = ["WORKERS", "SOCKETS", "READINESS", "RELOADS AND TRIGGERS", "CONTROL", "LOGGING", "CONFIG FILES", "SIGNALS", "EXAMPLES"];
    const at = titles.map((t) => r.stdout.indexOf(`\n${t}\n`));
    expect(at.every((i) => i > 0)).toBe(true);
    expect(at).toEqual([...at].sort((a, b) => a - b));
    for (const o of OPTIONS as readonly OptionSpec[]) {
      if (o.type === "deps") continue;
      expect(r.stdout).toContain(`--${o.name}`);
      if (typeof o.default === "number" && !o.aliasOf) expect(r.stdout).toMatch(new RegExp(`--${o.name}[^\\n]*(\\n {37}[^\\n]*)*\\(default ${o.default}\\)`));
    }
    expect(r.stdout.trimEnd().split("\n").at(-1)).toMatch(/^ {2}kill -HUP|^ {2}sup /);
    for (const line of r.stdout.split("\n")) expect(line.length).toBeLessThanOrEqual(100);
  });

  test("-h and a plain `sup -p 2 -h` give the same page; sup help with no such verb is refused", async () => {
    const page = (await run(["--help"])).stdout;
    expect((await run(["-h"])).stdout).toBe(page);
    expect((await run(["-p", "2", "-h"])).stdout).toBe(page);
    const bad = await run(["help", "relaod"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('sup help: no verb "relaod"');
  });

  test("the global examples are command lines sup accepts", async () => {
    const r = await run(["--help"]);
    const examples = r.stdout.slice(r.stdout.indexOf("\nEXAMPLES\n")).split("\n").filter((l) => l.startsWith("  sup "));
    expect(examples.length).toBeGreaterThan(2);
    for (const e of examples) expect(() => parseCli(e.replace(/\s+#.*$/, "").trim().split(/\s+/).slice(1))).not.toThrow();
  });
});
