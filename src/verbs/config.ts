// `sup config [--json] [--explain KEY]` and `sup check`: the effective
// config, where each value came from, and validation with exit 0 or 2.
import { checkConfig } from "./preflight.ts";
import { accessSync, constants } from "node:fs";
import { resolve } from "node:path";
import type { Cli } from "./cli.ts";
import { ConfigError } from "../config/coerce.ts";
import { loadConfig, type Loaded, type Source } from "../config/load.ts";
import { SPECS, type OptionSpec } from "../config/schema.ts";
import { didYouMean } from "../core/suggest.ts";
import { uwsgiReport } from "../config/uwsgi-report.ts";

export async function runConfigVerb(cli: Cli): Promise<number> {
  const loaded = await loadConfig(cli, process.env, process.cwd());
  if (cli.verb === "check") return check(loaded, envName(cli));
  if (cli.explain !== undefined) return explain(cli, loaded, cli.explain);
  // A config of programs (a Procfile, a supervisord.conf, [programs.NAME]) shows each, or it would show only the top level.
  const named = loaded.programs.filter((p) => p.name !== "");
  if (cli.json) {
    const programs = Object.fromEntries(named.map((p) => [p.name, p.config]));
    console.log(JSON.stringify(named.length ? { ...loaded.config, programs } : loaded.config, null, 2));
    return 0;
  }
  // TOML, so the output can be saved as a sup.toml; the comment says who set it.
  console.log(loaded.file ? `# config file: ${loaded.file}` : "# no config file");
  for (const [key, value] of Object.entries(loaded.config)) {
    const src = loaded.sources[key]!;
    // A command = [] beside programs would read back as "a command is given too".
    if (key === "command" && named.length > 0 && (value as string[]).length === 0) continue;
    console.log(`${key} = ${tomlValue(value)}${src.layer === "default" ? "" : `  # ${describe(src, envName(cli))}`}`);
  }
  for (const p of named) {
    // Each program's own values: those not the top level's.
    const sources = loaded.programSources.get(p.name) ?? {};
    console.log(`\n[programs.${JSON.stringify(p.name)}]  # ${p.where}`);
    for (const [key, value] of Object.entries(p.config)) {
      const src = sources[key];
      if (src && src !== loaded.sources[key] && JSON.stringify(value) !== JSON.stringify((loaded.config as unknown as Record<string, unknown>)[key])) console.log(`${key} = ${tomlValue(value)}  # ${describe(src, envName(cli))}`);
    }
  }
  return 0;
}

/** A value as TOML writes it: JSON's strings, numbers, booleans and arrays are TOML's; a table (depends-on) is inline. */
const tomlValue = (v: unknown): string =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? `{ ${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)} = ${tomlValue(x)}`).join(", ")} }`.replace("{  }", "{}") : JSON.stringify(v);

/** "set by sup.ini:3", "SUP_PROCESSES", "flag --processes", "default". */
export function describe(src: Source, env: string): string {
  switch (src.layer) {
    case "default":
      return "default";
    case "file":
      return `set by ${src.where}`;
    case "env-section":
      return `set by ${src.where}, environment "${env}"`;
    case "env":
      return src.where;
    case "flag":
      return src.where.startsWith("-") ? `flag ${src.where}` : src.where;
  }
}

const envName = (cli: Cli) => String(cli.flags.findLast((f) => f.name === "env-name")?.value ?? process.env.SUP_ENV ?? "");

function explain(cli: Cli, loaded: Loaded, key: string): number {
  const spec = SPECS.get(key) as OptionSpec | undefined;
  if (!spec) throw new ConfigError(`--explain ${key}: unknown key${didYouMean(key, SPECS.keys())}`);
  if (spec.flagOnly) {
    const flag = cli.flags.findLast((f) => f.name === key);
    if (flag) console.log(`${key} = ${JSON.stringify(flag.value)}  (flag ${flag.flag})`);
    else if (key === "env-name" && process.env.SUP_ENV !== undefined) console.log(`${key} = ${JSON.stringify(process.env.SUP_ENV)}  (SUP_ENV)`);
    else if (key === "config" && loaded.file) console.log(`${key} = ${JSON.stringify(loaded.file)}  (found in the working directory)`);
    else console.log(`${key} is not set  (command-line option only)`);
    return 0;
  }
  const name = spec.aliasOf ?? key;
  if (spec.aliasOf) console.log(`# ${key} is an alias of ${name}`);
  const value = (loaded.config as unknown as Record<string, unknown>)[name];
  console.log(`${name} = ${JSON.stringify(value)}  (${describe(loaded.sources[name]!, envName(cli))})`);
  return 0;
}

function check(loaded: Loaded, env: string): number {
  const { config, sources } = loaded;
  const what = loaded.file ?? "no config file";
  if (loaded.uwsgi) {
    console.log(uwsgiReport(loaded.uwsgi.name, loaded.uwsgi.translation));
    console.log(loaded.uwsgi.command ? `\ncommand: ${loaded.uwsgi.command}\n` : "");
  }
  if (loaded.notes) console.log(`read as a supervisord config; what sup leaves out or does its own way:\n${loaded.notes.map((n) => `  ${n}`).join("\n")}\n`);
  const named = loaded.programs.filter((p) => p.name !== "");
  if (named.length > 0) {
    // Every program is checked as the master would, each problem naming its program.
    const problems: string[] = [];
    for (const p of named) {
      try {
        checkConfig(p.config, process.cwd());
      } catch (e) {
        problems.push(`program ${p.name} (${p.where}): ${(e as Error).message}`);
      }
    }
    if (problems.length) throw new ConfigError(problems.join("\n"));
    console.log(`config ok (${what}): programs ${named.map((p) => `${p.name} (${p.config.processes})`).join(", ")}`);
    return 0;
  }
  if (config.command.length === 0) {
    console.log(`config ok (${what}); no command yet: give it after -- or as command in the config`);
    return 0;
  }
  try {
    checkConfig(config, process.cwd());
  } catch (e) {
    // Where the command comes from, on the lines about the command only
    // (not on a chdir or a uid line that happens to come last).
    const src = describe(sources.command!, env);
    const lines = (e as Error).message.split("\n").map((l) => (/\bcommand\b/.test(l) ? `${l} (command ${src})` : l));
    throw new ConfigError(lines.join("\n"));
  }
  console.log(`config ok (${what})`);
  return 0;
}

