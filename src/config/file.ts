// Config files: finding one, and reading it into (key, value, file:line)
// entries for the file layer and its environment-section layer. Types are
// checked later by coerce(), which quotes the file:line given here.
import { lstatSync } from "node:fs";
import { basename, extname, relative, resolve } from "node:path";
import type { Cli } from "../verbs/cli.ts";
import { ConfigError, clip } from "./coerce.ts";
import { readIni, type IniEntry } from "./ini.ts";
import { checkConfigPath, readConfigText } from "./read.ts";
import { readStructured, type RawEntry } from "./structured.ts";
import { SPECS } from "./schema.ts";
import { didYouMean } from "../core/suggest.ts";
import { splitWords } from "../core/words.ts";
import { iniDialect, readUwsgi } from "./uwsgi-load.ts";
import { looksLikeSupervisord, readSupervisord } from "./supervisord.ts";
import type { Problem } from "./uwsgi-report.ts";
import type { Daemon, Translation } from "./uwsgi-translate.ts";

export type Format = "ini" | "toml" | "json" | "yaml";

export interface FoundFile {
  path: string; // absolute
  name: string; // as shown in messages: relative to the working directory when inside it
  format: Format;
  section?: string; // from FILE:SECTION
}

export interface Entry {
  key: string;
  value: unknown;
  where: string; // file:line
  layer: "file" | "env-section";
  /** Set for a key of a program's table or section: it applies to that program only. */
  program?: string;
}

/** A file's entries and programs, the problems of single entries (all of them, for one report), and for a [uwsgi] section what sup made of every key. */
export interface FileRead {
  entries: Entry[];
  /** The programs the file declares, in file order, with where each starts. */
  programs: { name: string; where: string }[];
  problems: Problem[];
  uwsgi?: Translation;
  /** The program the top level's own command runs as, beside the declared ones (a uwsgi.ini's app beside its attached daemons). */
  topProgram?: string;
  /** A supervisord config: what sup leaves out or does its own way, and why, one line each (file:line: …). */
  notes?: string[];
}

/** Found in the working directory when no file is named, in this order (DESIGN.md §2). */
export const DEFAULT_FILES = ["sup.toml", "sup.ini", "sup.json", ".suprc"];

const FLAG_FORMAT: Record<string, Format | undefined> = { config: undefined, ini: "ini", toml: "toml", json: "json" };
/** The options that name the config file. */
export const FILE_OPTIONS = Object.keys(FLAG_FORMAT);

/**
 * Whether anything is at path, without following a symlink and without
 * opening it: a FIFO or a symlink loop counts (readConfigText then says
 * what it is); an unsearchable directory too (it says permission denied).
 */
function present(path: string): boolean {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return true;
  }
}

function formatOf(path: string): Format | undefined {
  if (basename(path) === ".suprc") return "ini"; // key = value lines, like c12's rc files
  const ext = extname(path).toLowerCase();
  // .conf: supervisord's supervisord.conf and conf.d/*.conf are INI.
  return ext === ".ini" || ext === ".conf" ? "ini" : ext === ".toml" ? "toml" : ext === ".json" ? "json" : ext === ".yaml" || ext === ".yml" ? "yaml" : undefined;
}

export function findConfigFile(cli: Cli, cwd: string): FoundFile | undefined {
  const shown = (path: string) => {
    const r = relative(cwd, path);
    return r.startsWith("..") || r === "" ? path : r;
  };
  const given = cli.flags.findLast((f) => f.name in FLAG_FORMAT);
  if (!given) {
    const name = DEFAULT_FILES.find((n) => present(resolve(cwd, n)));
    return name ? { path: resolve(cwd, name), name, format: formatOf(name)! } : undefined;
  }
  // FILE:SECTION, as uWSGI spells it; a file whose own name has a colon wins.
  const raw = String(given.value);
  let file = raw;
  let section: string | undefined;
  const colon = raw.lastIndexOf(":");
  if (colon > 0 && !present(resolve(cwd, raw))) {
    file = raw.slice(0, colon);
    section = raw.slice(colon + 1) || undefined;
  }
  const path = resolve(cwd, file);
  if (!present(path)) throw new ConfigError(`${given.flag} ${raw}: config file ${shown(path)} does not exist`);
  // What the path is comes first: a directory has no format to guess.
  checkConfigPath(path, shown(path));
  const format = FLAG_FORMAT[given.name] ?? formatOf(path);
  if (!format) throw new ConfigError(`${given.flag} ${raw}: cannot tell the format of ${shown(path)} from its name; use --ini, --toml or --json`);
  return { path, name: shown(path), format, section };
}

export async function readConfigFile(found: FoundFile, envName: string, env: Record<string, string | undefined>, cwd: string): Promise<FileRead> {
  const { name } = found;
  const text = readConfigText(found.path, name);
  let raw: RawEntry[];
  let placeholders = new Set<string>();
  let programs: { name: string; line: number; where?: string }[] = [];
  let uwsgi: Translation | undefined;
  let notes: string[] | undefined;
  const early: Problem[] = [];
  const supervisord = found.format === "ini" && found.section === undefined && looksLikeSupervisord(text);
  const dialect = found.format === "ini" && !supervisord ? iniDialect(text, found.section) : undefined;
  if (dialect && "error" in dialect) throw new ConfigError(`${name}: ${dialect.error}; name one with ${name}:SECTION`);
  if (supervisord) {
    const read = readSupervisord(text, found.path, env);
    raw = read.entries.map((e) => ({ key: e.key, value: e.value, line: e.line, where: e.where, layer: "file" as const, program: e.program }));
    programs = read.programs;
    notes = read.notes;
    early.push(...read.problems.map((p) => ({ where: p.where ?? `${name}:${p.line}`, message: p.message })));
  } else if (dialect?.dialect === "uwsgi") {
    uwsgi = readUwsgi({ path: found.path, name, section: dialect.section }, envName, env, cwd);
    raw = uwsgi.entries.map((e) => ({ key: e.key, value: e.value, line: 0, where: e.where, layer: e.layer }));
    for (const d of uwsgi.daemons) raw.push(...daemonEntries(d));
  } else if (found.format === "ini") {
    const ini = readIni(text, { path: found.path, name, env }, found.section, envName);
    const at = (layer: Entry["layer"], program?: string) => (e: IniEntry): RawEntry => ({ ...e, layer, program });
    raw = [...ini.base.map(at("file")), ...ini.envSection.map(at("env-section")), ...ini.programs.flatMap((p) => p.entries.map(at("file", p.name)))];
    programs = ini.programs;
    placeholders = ini.placeholders;
  } else {
    ({ raw, programs } = await readStructured(found, text, envName));
  }
  // Every entry is checked, and every problem kept: one run shows them all.
  const entries: Entry[] = [];
  const problems: Problem[] = [];
  problems.push(...early);
  for (const e of raw) {
    const where = e.where ?? `${name}:${e.line}`;
    const spec = SPECS.get(e.key);
    const problem = (message: string) => problems.push({ where, message });
    if (!spec) {
      if (!placeholders.has(e.key)) problem(`unknown key "${clip(e.key)}"${didYouMean(e.key, [...SPECS.keys()].filter((k) => !SPECS.get(k)!.flagOnly))}`);
      continue; // a uWSGI custom placeholder key is not an option
    }
    if (spec.flagOnly) {
      problem(`"${e.key}" is a command-line option, not a config key`);
      continue;
    }
    if (e.program !== undefined && spec.scope === "master") {
      problem(`"${e.key}" is set for the whole master, not per program: move it out of program ${e.program} to the top level`);
      continue;
    }
    let value = e.value;
    if (e.key === "command" && typeof value === "string") {
      try {
        value = splitWords(value);
      } catch (err) {
        problem(`command: ${(err as Error).message}`);
        continue;
      }
    }
    entries.push({ key: e.key, value, where, layer: e.layer, program: e.program });
  }
  const declared = programs.map((p) => ({ name: p.name, where: p.where ?? `${name}:${p.line}` }));
  // A uwsgi.ini's attached daemons are programs; its app is one too, "app", first.
  if (uwsgi?.daemons.length) return { entries, programs: [{ name: "app", where: uwsgi.app.where ?? name }, ...uwsgi.daemons.map((d) => ({ name: d.name, where: d.where }))], problems, uwsgi, topProgram: "app" };
  return { entries, programs: declared, problems, uwsgi, notes };
}

/**
 * An attached daemon's program: its command through /bin/sh -c (as uWSGI
 * runs it), one worker, and none of the app's settings that would make no
 * sense for it (the app's sockets, readiness, triggers).
 */
function daemonEntries(d: Daemon): RawEntry[] {
  const own: [string, unknown][] = [
    ["command", [d.command]], ["shell", true], ["processes", 1], ["listen", []], ["ready", "delay:1"], ["port-base", 0],
    ["touch-reload", []], ["touch-chain-reload", []], ["autoreload", 0], ["py-autoreload", 0], ["reload-strategy", "start-first"],
    ...(d.control ? [["on-exit", "stop-all"] as [string, unknown]] : []),
  ];
  return own.map(([key, value]) => ({ key, value, line: 0, where: d.where, layer: "file", program: d.name }));
}


