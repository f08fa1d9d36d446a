// The config layers, lowest first: defaults < file < its environment section
// < SUP_* variables < flags. Every value remembers the layer that set it, for
// `sup config --explain`. Lists replace, never concatenate, across layers.
import { resolve } from "node:path";
import type { Cli } from "../verbs/cli.ts";
import { ConfigError, coerce, splitList } from "./coerce.ts";
import type { FileRead } from "./file.ts";
import { OPTIONS, SPECS, autoreloadMode, defaults, envVarName, type Config, type OptionSpec, type ProgramConfig } from "./schema.ts";
import { splitWords } from "../core/words.ts";
import type { Problem } from "./uwsgi-report.ts";
import type { Translation } from "./uwsgi-translate.ts";

/** autoreload-settle when the events engine is on and nobody set it. */
export const EVENTS_SETTLE = 0.01;

export interface Source {
  layer: "default" | "file" | "env-section" | "env" | "flag";
  where: string; // "sup.ini:12", "SUP_PROCESSES", "--processes", "default"
}

export interface Loaded {
  /** The top level: the master's options, and every program's defaults. */
  config: Config;
  sources: Record<string, Source>;
  file?: string; // the config file read, if any
  /**
   * What runs: the programs the file declares ([programs.NAME], [program:NAME])
   * or a Procfile's, each with the top level under its own keys; without
   * any, one program of the top level (name "": named after its command).
   */
  programs: ProgramConfig[];
  /** Where each program's own keys came from (name → key → source). */
  programSources: Map<string, Record<string, Source>>;
  /** A [uwsgi] section: what sup made of each key, and the app command it built (one line for the log). */
  uwsgi?: { name: string; translation: Translation; command?: string };
  /** A supervisord config: what sup left out and why (file:line: …). */
  notes?: string[];
}

export function setValue(cfg: Record<string, unknown>, sources: Record<string, Source>, spec: OptionSpec, value: unknown, src: Source) {
  const key = spec.aliasOf ?? spec.name;
  cfg[key] = value;
  sources[key] = src;
}

export async function loadConfig(cli: Cli, env: Record<string, string | undefined>, cwd: string): Promise<Loaded> {
  const cfg = defaults() as unknown as Record<string, unknown>;
  const sources: Record<string, Source> = {};
  for (const k of Object.keys(cfg)) sources[k] = { layer: "default", where: "default" };

  // Layer 2 and 3: the config file and its environment section. Loaded only
  // when there is a file, so a master without one never loads c12.
  // SUP_CONFIG (or SUP_INI/SUP_TOML/SUP_JSON) names the file when no flag does.
  const { findConfigFile, readConfigFile, FILE_OPTIONS } = await import("./file.ts");
  const fileVar = FILE_OPTIONS.map(envVarName).find((v) => env[v] !== undefined);
  const fromVar = fileVar && !cli.flags.some((f) => FILE_OPTIONS.includes(f.name));
  // --procfile names what runs: a config file then comes only from -c (or SUP_CONFIG), never from the search.
  const procfileOnly = cli.flags.some((f) => f.name === "procfile") && !fromVar && !cli.flags.some((f) => FILE_OPTIONS.includes(f.name));
  const found = procfileOnly ? undefined : findConfigFile(fromVar ? { ...cli, flags: [{ name: fileVar.slice(4).toLowerCase(), value: env[fileVar], flag: fileVar }] } : cli, cwd);
  const envFlag = cli.flags.findLast((f) => f.name === "env-name");
  const envVar = env.SUP_ENV_NAME !== undefined ? "SUP_ENV_NAME" : "SUP_ENV";
  const envName = String(envFlag?.value ?? env[envVar] ?? "");
  let file: string | undefined;
  if (!found && envName !== "") {
    throw new ConfigError(`environment "${envName}" (${envFlag ? envFlag.flag : envVar}) needs a config file with that section, and there is none (sup.toml, sup.ini, sup.json, .suprc, or -c FILE)`);
  }
  let read: FileRead | undefined;
  // Every problem of the file is kept, to be reported together.
  const problems: Problem[] = [];
  if (found) {
    file = found.path;
    read = await readConfigFile(found, envName, env, cwd);
    problems.push(...read.problems);
    for (const entry of read.entries) {
      if (entry.program !== undefined) continue; // applied to its program below
      const spec = SPECS.get(entry.key)!;
      try {
        setValue(cfg, sources, spec, coerce(spec, entry.value, entry.where), { layer: entry.layer, where: entry.where });
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        const [where, ...rest] = e.message.split(": ");
        problems.push({ where: where!, message: rest.join(": ") });
      }
    }
  }

  // Layer 4: SUP_* variables. An unknown SUP_ variable is an error too: a
  // typo there would otherwise be silently ignored.
  const known = new Map(OPTIONS.map((o) => [envVarName(o.name), o as OptionSpec]));
  const IGNORED = new Set(["SUP_ENV", "SUP_WORKER_ID", "SUP_GENERATION", "SUP_MASTER_PID", "SUP_NOTIFY_FD", "SUP_DOWNLOAD_URL", "SUP_VERSION", "SUP_INSTALL_DIR", "SUP_TEST_FAULT", "SUP_PROGRAM"]);
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith("SUP_") || raw === undefined || IGNORED.has(name)) continue;
    const spec = known.get(name);
    if (!spec) {
      const { didYouMean } = await import("../core/suggest.ts");
      throw new ConfigError(`environment variable ${name} is not a sup option${didYouMean(name, known.keys())}; unset it or fix its name`);
    }
    if (spec.flagOnly) continue;
    // SUP_COMMAND is one command line, split like the `command` string of a file.
    let value: unknown = raw;
    try {
      value = spec.name === "command" ? splitWords(raw) : spec.type === "list" ? splitList(raw) : raw;
    } catch (e) {
      throw new ConfigError(`environment variable ${name}: ${(e as Error).message}`);
    }
    setValue(cfg, sources, spec, coerce(spec, value, `environment variable ${name}`), { layer: "env", where: name });
  }

  // Layer 5: flags. Repeated list flags collect; the first flag for a list
  // key replaces whatever lower layers said.
  const flagLists = new Set<string>();
  for (const f of cli.flags) {
    const spec = SPECS.get(f.name)!;
    if (spec.flagOnly) continue;
    let value = f.value;
    if (spec.type === "list") {
      value = flagLists.has(f.name) ? [...(cfg[f.name] as string[]), ...(f.value as string[])] : f.value;
      flagLists.add(f.name);
    }
    setValue(cfg, sources, spec, value, { layer: "flag", where: f.flag });
  }
  if (cli.command.length > 0) {
    cfg.command = cli.command;
    sources.command = { layer: "flag", where: "command line" };
  }

  // Defaults that depend on another key: with inotify a change is known at
  // once, so the settle wait is most of the reload delay; the events of one
  // save arrive within a few ms, and a save still under way (a file created
  // and not closed, or renamed away) holds the reload by itself
  // (src/watch/autoreload.ts), so 10 ms is enough (BENCHMARKS.md, Autoreload).
  if (autoreloadMode(cfg as unknown as Config)?.engine === "events" && sources["autoreload-settle"]?.layer === "default") {
    cfg["autoreload-settle"] = EVENTS_SETTLE;
    sources["autoreload-settle"] = { layer: "default", where: "default with the events engine" };
  }
  const config = cfg as unknown as Config;
  const uwsgi = read?.uwsgi ? { name: found!.name, translation: read.uwsgi, command: undefined as string | undefined } : undefined;
  if (uwsgi) await uwsgiApp(uwsgi, config, sources, env, cwd, problems);
  else if (problems.length > 0) {
    const list = problems.map((p) => `${p.where}: ${p.message}`);
    throw new ConfigError(list.length === 1 ? list[0]! : `${list.length} problems in ${found!.name}:\n  ${list.join("\n  ")}`);
  }
  const { programsOf } = await import("./programs.ts");
  return { config, sources, file, ...programsOf({ cli, cwd, env, config, sources, read }), uwsgi, ...(read?.notes?.length ? { notes: read.notes } : {}) };
}

/**
 * The app a [uwsgi] section names, as the worker command, when no layer gave
 * one (src/config/uwsgi-app.ts); then every problem of the file in one report.
 */
async function uwsgiApp(uwsgi: NonNullable<Loaded["uwsgi"]>, cfg: Config, sources: Record<string, Source>, env: Record<string, string | undefined>, cwd: string, problems: Problem[]): Promise<void> {
  const { uwsgiAppCommand } = await import("./uwsgi-load.ts");
  const { uwsgiErrors, uwsgiReport } = await import("./uwsgi-report.ts");
  const t = uwsgi.translation;
  if (cfg.command.length === 0) {
    const PATH = cfg.env.findLast((e) => e.startsWith("PATH="))?.slice(5) ?? env.PATH ?? "";
    const app = uwsgiAppCommand(t, cfg.processes, resolve(cwd, cfg.chdir || "."), PATH);
    const where = t.app.where ?? uwsgi.name;
    if (app && "error" in app) problems.push({ where, message: app.error });
    else if (app) {
      cfg.command = app.argv;
      sources.command = { layer: "file", where: `${where} (the app command sup built)` };
      cfg.processes = app.processes;
      if (sources.ready?.layer === "default") {
        cfg.ready = "notify";
        sources.ready = { layer: "file", where: `${where} (the app command says READY=1 once the app is imported)` };
      }
      uwsgi.command = app.description;
    }
  }
  if (uwsgiErrors(t, problems).length > 0) throw new ConfigError(uwsgiReport(uwsgi.name, t, problems));
}
