// Config files: finding one, and reading it into (key, value, file:line)
// entries for the file layer and its environment-section layer. Types are
// checked later by coerce(), which quotes the file:line given here.
import { existsSync, readFileSync } from "node:fs";
import { basename, extname, relative, resolve } from "node:path";
import type { Cli } from "../verbs/cli.ts";
import { ConfigError } from "./coerce.ts";
import { readIni, type IniEntry } from "./ini.ts";
import { jsonKeyLines, keyPath, tomlKeyLines, yamlKeyLines, type KeyLines } from "./locate.ts";
import { SPECS } from "./schema.ts";
import { didYouMean } from "../core/suggest.ts";
import { splitWords } from "../core/words.ts";
import { iniDialect, readUwsgi } from "./uwsgi-load.ts";
import type { Problem } from "./uwsgi-report.ts";
import type { Translation } from "./uwsgi-translate.ts";

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
}

/** Found in the working directory when no file is named, in this order (DESIGN.md §2). */
export const DEFAULT_FILES = ["sup.toml", "sup.ini", "sup.json", ".suprc"];

const FLAG_FORMAT: Record<string, Format | undefined> = { config: undefined, ini: "ini", toml: "toml", json: "json" };
/** The options that name the config file. */
export const FILE_OPTIONS = Object.keys(FLAG_FORMAT);

function formatOf(path: string): Format | undefined {
  if (basename(path) === ".suprc") return "ini"; // key = value lines, like c12's rc files
  const ext = extname(path).toLowerCase();
  return ext === ".ini" ? "ini" : ext === ".toml" ? "toml" : ext === ".json" ? "json" : ext === ".yaml" || ext === ".yml" ? "yaml" : undefined;
}

export function findConfigFile(cli: Cli, cwd: string): FoundFile | undefined {
  const shown = (path: string) => {
    const r = relative(cwd, path);
    return r.startsWith("..") || r === "" ? path : r;
  };
  const given = cli.flags.findLast((f) => f.name in FLAG_FORMAT);
  if (!given) {
    const name = DEFAULT_FILES.find((n) => existsSync(resolve(cwd, n)));
    return name ? { path: resolve(cwd, name), name, format: formatOf(name)! } : undefined;
  }
  // FILE:SECTION, as uWSGI spells it; a file whose own name has a colon wins.
  const raw = String(given.value);
  let file = raw;
  let section: string | undefined;
  const colon = raw.lastIndexOf(":");
  if (colon > 0 && !existsSync(resolve(cwd, raw))) {
    file = raw.slice(0, colon);
    section = raw.slice(colon + 1) || undefined;
  }
  const path = resolve(cwd, file);
  if (!existsSync(path)) throw new ConfigError(`${given.flag} ${raw}: config file ${shown(path)} does not exist`);
  const format = FLAG_FORMAT[given.name] ?? formatOf(path);
  if (!format) throw new ConfigError(`${given.flag} ${raw}: cannot tell the format of ${shown(path)} from its name; use --ini, --toml or --json`);
  return { path, name: shown(path), format, section };
}

export async function readConfigFile(found: FoundFile, envName: string, env: Record<string, string | undefined>, cwd: string): Promise<FileRead> {
  const { name } = found;
  let text: string;
  try {
    text = readFileSync(found.path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "does not exist" : code === "EISDIR" ? "is a directory, not a file" : `cannot be read (${code ?? (e as Error).message})`;
    throw new ConfigError(`${name}: config file ${why}`);
  }
  let raw: RawEntry[];
  let placeholders = new Set<string>();
  let programs: { name: string; line: number }[] = [];
  let uwsgi: Translation | undefined;
  const dialect = found.format === "ini" ? iniDialect(text, found.section) : undefined;
  if (dialect && "error" in dialect) throw new ConfigError(`${name}: ${dialect.error}; name one with ${name}:SECTION`);
  if (dialect?.dialect === "uwsgi") {
    uwsgi = readUwsgi({ path: found.path, name, section: dialect.section }, envName, env, cwd);
    raw = uwsgi.entries.map((e) => ({ key: e.key, value: e.value, line: 0, where: e.where, layer: e.layer }));
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
  for (const e of raw) {
    const where = e.where ?? `${name}:${e.line}`;
    const spec = SPECS.get(e.key);
    const problem = (message: string) => problems.push({ where, message });
    if (!spec) {
      if (!placeholders.has(e.key)) problem(`unknown key "${e.key}"${didYouMean(e.key, [...SPECS.keys()].filter((k) => !SPECS.get(k)!.flagOnly))}`);
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
  return { entries, programs: programs.map((p) => ({ name: p.name, where: `${name}:${p.line}` })), problems, uwsgi };
}

interface RawEntry {
  key: string;
  value: unknown;
  line: number;
  /** file:line when it is not the file's own (a [uwsgi] include). */
  where?: string;
  layer: Entry["layer"];
  program?: string;
}

const isTable = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * TOML, JSON, YAML: top-level keys are the base; a table that is not an
 * option (`[production]`, or c12's `$production` and `$env.production`) is
 * an environment section. FILE:SECTION makes that table the base instead.
 */
async function readStructured(found: FoundFile, text: string, envName: string): Promise<{ raw: RawEntry[]; programs: { name: string; line: number }[] }> {
  const { name } = found;
  let data: unknown;
  let lines: KeyLines;
  if (found.format === "json") {
    // JSON.parse is built in; c12 would route .json through jiti.
    lines = jsonKeyLines(text, name);
    data = JSON.parse(text);
  } else {
    data = await loadWithC12(found);
    lines = found.format === "toml" ? tomlKeyLines(text) : yamlKeyLines(text);
  }
  if (data === null || data === undefined) data = {}; // an empty YAML file
  if (!isTable(data)) throw new ConfigError(`${name}:1: expected a table of key = value, got ${Array.isArray(data) ? "a list" : typeof data}`);

  let base = data;
  let basePath: string[] = [];
  if (found.section !== undefined) {
    const t = data[found.section];
    if (!isTable(t)) throw new ConfigError(`${name}: no "${found.section}" table`);
    base = t;
    basePath = [found.section];
  }
  const sections = new Map<string, string[]>(); // env name → path of its table
  const out: RawEntry[] = [];
  const programs: { name: string; line: number }[] = [];
  const lineOf = (path: string[]) => lines.get(keyPath(path)) ?? lines.get(keyPath(path.slice(0, -1))) ?? 1;
  /** `programs.NAME` tables: each key applies to that program (its section's, at `layer`). */
  const readPrograms = (table: unknown, path: string[], layer: RawEntry["layer"]) => {
    if (!isTable(table)) throw new ConfigError(`${name}:${lineOf(path)}: "programs" must be a table of programs ([programs.web], [programs.worker])`);
    for (const [pname, ptable] of Object.entries(table)) {
      const at = [...path, pname];
      if (!isTable(ptable)) throw new ConfigError(`${name}:${lineOf(at)}: program "${pname}" must be a table of its options ([programs.${pname}])`);
      if (!/^[\w.-]+$/.test(pname)) throw new ConfigError(`${name}:${lineOf(at)}: program name ${JSON.stringify(pname)}: use letters, digits, "_", "-" and "."`);
      if (layer === "file") programs.push({ name: pname, line: lineOf(at) });
      for (const [key, value] of Object.entries(ptable)) out.push({ key, value, line: lineOf([...at, key]), layer, program: pname });
    }
  };
  for (const [key, value] of Object.entries(base)) {
    if (key === "programs") readPrograms(value, [...basePath, key], "file");
    else if (key === "$env" && isTable(value)) for (const n of Object.keys(value)) sections.set(n, [...basePath, key, n]);
    else if (isTable(value) && (key.startsWith("$") || !SPECS.has(key))) sections.set(key.replace(/^\$/, ""), [...basePath, key]);
    else out.push({ key, value, line: lineOf([...basePath, key]), layer: "file" });
  }
  if (envName !== "") {
    const path = sections.get(envName);
    if (!path) throw new ConfigError(`${name}: no "${envName}" table for environment "${envName}" (from --env-name or SUP_ENV)`);
    let table: unknown = data;
    for (const p of path) table = (table as Record<string, unknown>)[p];
    for (const [key, value] of Object.entries(table as Record<string, unknown>)) {
      if (key === "programs") readPrograms(value, [...path, key], "env-section");
      else out.push({ key, value, line: lineOf([...path, key]), layer: "env-section" });
    }
  }
  return { raw: out, programs };
}

/**
 * TOML and YAML through c12 (confbox parsers), imported here only, so a
 * master without such a file never loads it. c12's own layering is off:
 * sup does the layers itself so every value keeps its source, and c12 would
 * concatenate lists and pick a section from NODE_ENV.
 */
async function loadWithC12(found: FoundFile): Promise<unknown> {
  const want = found.format === "toml" ? [".toml"] : [".yaml", ".yml"];
  if (!want.includes(extname(found.path).toLowerCase())) {
    throw new ConfigError(`${found.name}: a ${found.format.toUpperCase()} config file must be named *${want[0]} (the parser is chosen by the name)`);
  }
  const { loadConfig } = await import("c12");
  try {
    const r = await loadConfig({
      cwd: resolve(found.path, ".."),
      configFile: found.path,
      configFileRequired: true,
      rcFile: false,
      globalRc: false,
      dotenv: false,
      packageJson: false,
      envName: false,
      extend: false,
      giget: false,
    });
    return r.config;
  } catch (e) {
    const err = e as Error & { line?: number; mark?: { line: number } };
    const line = err.line ?? (err.mark ? err.mark.line + 1 : undefined);
    const what = (err.message.split("\n")[0] ?? "").replace(/^Invalid TOML document: /, "");
    throw new ConfigError(`${found.name}${line ? `:${line}` : ""}: ${found.format.toUpperCase()} syntax error: ${what}`);
  }
}
