// TOML, JSON and YAML config files: text → (key, value, line) entries of the
// base table and of an environment table. Each text is checked for nesting
// depth before its parser sees it (nesting.ts, locate.ts), so no file makes
// a parser recurse past MAX_DEPTH or take more than linear time.
import { ConfigError, clip } from "./coerce.ts";
import type { Entry, FoundFile } from "./file.ts";
import { jsonKeyLines, keyPath, tomlKeyLines, yamlKeyLines, type KeyLines } from "./locate.ts";
import { checkTomlNesting, checkYamlNesting, tooDeep } from "./nesting.ts";
import { SPECS } from "./schema.ts";

export interface RawEntry {
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
 * an environment section; `programs.NAME` tables are programs. FILE:SECTION
 * makes that table the base instead.
 */
export async function readStructured(found: FoundFile, text: string, envName: string): Promise<{ raw: RawEntry[]; programs: { name: string; line: number }[] }> {
  const { name } = found;
  let data: unknown;
  let lines: KeyLines;
  if (found.format === "json") {
    // JSON.parse is built in; c12 would route .json through jiti.
    lines = jsonKeyLines(text, name);
    data = JSON.parse(text);
  } else {
    data = await parse(found, text);
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
      if (!isTable(ptable)) throw new ConfigError(`${name}:${lineOf(at)}: program "${clip(pname)}" must be a table of its options ([programs.${clip(pname)}])`);
      if (!/^[\w.-]+$/.test(pname)) throw new ConfigError(`${name}:${lineOf(at)}: program name ${clip(JSON.stringify(pname))}: use letters, digits, "_", "-" and "."`);
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
 * TOML and YAML with confbox's parsers (smol-toml, js-yaml: what c12 would
 * call for a .toml or .yaml file), imported here only, so a master without
 * such a file never loads them. The text is the one readConfigText read:
 * c12 would open the file again by name. sup does the layers itself so every
 * value keeps its source (c12 would concatenate lists and pick a section
 * from NODE_ENV).
 */
async function parse(found: FoundFile, text: string): Promise<unknown> {
  const toml = found.format === "toml";
  if (toml) checkTomlNesting(text, found.name);
  else checkYamlNesting(text, found.name);
  const parser = toml ? (await import("confbox/toml")).parseTOML : (await import("confbox/yaml")).parseYAML;
  try {
    return parser(text);
  } catch (e) {
    // The scans above count deep; were one ever to miss, still no stack trace.
    if (e instanceof RangeError) throw tooDeep(found.name);
    const err = e as Error & { line?: number; mark?: { line: number } };
    const line = err.line ?? (err.mark ? err.mark.line + 1 : undefined);
    const what = (err.message.split("\n")[0] ?? "").replace(/^Invalid TOML document: /, "");
    throw new ConfigError(`${found.name}${line ? `:${line}` : ""}: ${found.format.toUpperCase()} syntax error: ${what}`);
  }
}
