// uWSGI's INI dialect (uwsgi-docs: Configuration, "Magic variables",
// "Placeholders"), parsed here because generic INI parsers (confbox, ini)
// keep only the last of repeated keys, and uWSGI users write
//   touch-reload = a.py
//   touch-reload = b.py
// for a list. Every value keeps its line for error messages.
import { basename, dirname, extname } from "node:path";
import { ConfigError } from "./coerce.ts";
import { MAX_DEPTH } from "./nesting.ts";
import { MAX_CONFIG_BYTES } from "./read.ts";
import { SPECS } from "./schema.ts";

/** One `key = value` line, before expansion. */
export interface IniLine {
  key: string;
  value: string;
  line: number;
}

/** A key of the chosen section after expansion; lists collect repeats. */
export interface IniEntry {
  key: string;
  value: string | string[];
  line: number;
}

export interface IniRead {
  base: IniEntry[];
  envSection: IniEntry[];
  /** `[program:NAME]` sections (supervisord's spelling), in file order. */
  programs: { name: string; line: number; entries: IniEntry[] }[];
  /** Keys used as %(key): they may be custom (non-option) keys, as in uWSGI. */
  placeholders: Set<string>;
}

export interface IniSource {
  path: string; // absolute, for %d %n %p %s %c
  name: string; // as shown in messages
  env: Record<string, string | undefined>;
}

const KEY = /^[\w.-]+$/;

/** Sections in file order; keys before the first header go under "". */
/** The line of each section's (first) header, for messages. */
const headerLines = new Map<string, number>();

export function parseIni(text: string, name: string): Map<string, IniLine[]> {
  const sections = new Map<string, IniLine[]>();
  headerLines.clear();
  let current: IniLine[] | undefined;
  text.replace(/^\uFEFF/, "").split(/\r?\n/).forEach((raw, n) => {
    const line = n + 1;
    const s = raw.trim();
    // uWSGI has no inline comments: `;` or `#` only start a comment line.
    if (s === "" || s.startsWith(";") || s.startsWith("#")) return;
    const fail = (what: string): never => {
      throw new ConfigError(`${name}:${line}: ${what}`);
    };
    if (s.startsWith("[")) {
      if (!s.endsWith("]")) fail(`section header ${s} has no closing ]`);
      const section = s.slice(1, -1).trim();
      if (section === "") fail("empty section name []");
      current = sections.get(section) ?? [];
      sections.set(section, current);
      headerLines.set(section, headerLines.get(section) ?? line);
      return;
    }
    const eq = s.indexOf("=");
    // A bare key (`master` alone on a line) means true, as in uWSGI.
    const key = eq < 0 ? s : s.slice(0, eq).trim();
    const value = eq < 0 ? "true" : s.slice(eq + 1).trim();
    if (!KEY.test(key)) fail(eq < 0 ? `expected "key = value", got ${JSON.stringify(s)}` : `bad key name ${JSON.stringify(key)}`);
    if (!current) sections.set("", (current = []));
    current.push({ key, value, line });
  });
  return sections;
}

/**
 * The base section ([sup], else [uwsgi], or `section` from FILE:SECTION) and
 * its environment section [BASE:envName], expanded. A file without any
 * header (an rc file) is all base section.
 */
export function readIni(text: string, src: IniSource, section: string | undefined, envName: string): IniRead {
  const sections = parseIni(text, src.name);
  const headers = [...sections.keys()].filter((s) => s !== "");
  let baseName: string;
  if (section !== undefined) {
    if (!sections.has(section)) throw new ConfigError(`${src.name}: no [${section}] section${headers.length ? ` (it has ${headers.map((h) => `[${h}]`).join(" ")})` : ""}`);
    baseName = section;
  } else if (headers.length === 0) {
    baseName = "";
  } else {
    baseName = sections.has("sup") ? "sup" : sections.has("uwsgi") ? "uwsgi" : "";
    if (baseName === "" && !headers.some((h) => h.startsWith("program:"))) throw new ConfigError(`${src.name}: no [sup] or [uwsgi] section (nor [program:NAME] sections); name one with ${src.name}:SECTION`);
  }
  const stray = headers.length > 0 && sections.get("")?.[0];
  if (stray) throw new ConfigError(`${src.name}:${stray.line}: key "${stray.key}" is outside any section; move it under [${baseName || "sup"}]`);

  const placeholders = new Set<string>();
  const base = sections.get(baseName) ?? [];
  const result: IniRead = { base: group(expandAll(base, [base], baseName, src, placeholders)), envSection: [], programs: [], placeholders };
  for (const [header, lines] of sections) {
    if (!header.startsWith("program:") || section !== undefined) continue;
    const name = header.slice("program:".length).trim();
    if (!/^[\w.-]+$/.test(name)) throw new ConfigError(`${src.name}:${headerLines.get(header)}: [${header}]: a program name is letters, digits, "_", "-" and "."`);
    result.programs.push({ name, line: headerLines.get(header) ?? 1, entries: group(expandAll(lines, [lines, base], header, src, placeholders)) });
  }
  if (envName !== "") {
    const envSectionName = `${baseName || "sup"}:${envName}`;
    const lines = sections.get(envSectionName);
    if (!lines) throw new ConfigError(`${src.name}: no [${envSectionName}] section for environment "${envName}" (from --env-name or SUP_ENV)`);
    result.envSection = group(expandAll(lines, [lines, base], envSectionName, src, placeholders));
  }
  return result;
}

/** What the expansion of one section's values shares. */
interface Expansion {
  scopes: Map<string, IniLine>[]; // per section, its last line of each key: what %(key) means
  section: string;
  src: IniSource;
  used: Set<string>;
  done: Map<string, string>; // %(key) → its expansion
  left: number; // bytes the expansions may still produce
}

function expandAll(lines: IniLine[], sections: IniLine[][], section: string, src: IniSource, used: Set<string>): IniLine[] {
  // Looking a placeholder up by scanning the lines made 200,000 uses of one
  // key take minutes; the budget bounds what nested placeholders can grow to.
  const x: Expansion = { scopes: sections.map((ls) => new Map(ls.map((l) => [l.key, l]))), section, src, used, done: new Map(), left: 4 * MAX_CONFIG_BYTES };
  return lines.map((l) => ({ ...l, value: expand(l.value, l.line, x, [l.key]) }));
}

/**
 * $(VAR) from the environment, %(key) from the section (the key's last value;
 * an environment section falls back to its base), and uWSGI's magic
 * variables of the file: %d dir with trailing slash, %n name without
 * extension, %p full path, %s file name, %c name of its directory.
 */
function expand(value: string, line: number, x: Expansion, chain: string[]): string {
  const { src } = x;
  const out = value.replace(/\$\(([^)]*)\)|%\(([^)]*)\)|%([dnpsc])/g, (whole, envVar?: string, key?: string, magic?: string) => {
    if (envVar !== undefined) {
      const v = src.env[envVar];
      // uWSGI substitutes "" for an unset variable; sup refuses to guess.
      if (v === undefined) throw new ConfigError(`${src.name}:${line}: environment variable ${envVar} is not set (used as ${whole})`);
      return v;
    }
    if (key !== undefined) {
      const known = x.done.get(key);
      if (known !== undefined) return known;
      if (chain.includes(key)) throw new ConfigError(`${src.name}:${line}: placeholder ${whole} refers to itself (${[...chain, key].join(" → ")})`);
      if (chain.length > MAX_DEPTH) throw new ConfigError(`${src.name}:${line}: placeholders nested more than ${MAX_DEPTH} deep (${chain.slice(0, 3).join(" → ")} → …)`);
      const def = x.scopes.map((scope) => scope.get(key)).find((l) => l !== undefined);
      if (!def) throw new ConfigError(`${src.name}:${line}: placeholder ${whole} is not set in [${x.section || "sup"}]`);
      x.used.add(key);
      const v = expand(def.value, def.line, x, [...chain, key]);
      x.done.set(key, v);
      return v;
    }
    switch (magic) {
      case "d":
        return dirname(src.path) + "/";
      case "n":
        return basename(src.path, extname(src.path));
      case "p":
        return src.path;
      case "s":
        return basename(src.path);
      default:
        return basename(dirname(src.path));
    }
  });
  x.left -= out.length;
  if (x.left < 0) throw new ConfigError(`${src.name}:${line}: placeholders expand to more than ${(4 * MAX_CONFIG_BYTES) >> 20} MiB of values (placeholders that repeat placeholders that repeat others); sup refuses to build them`);
  return out;
}

/**
 * Repeated keys: a list option collects every value in order; any other key
 * keeps its last value, as uWSGI does for scalar options. `command` is one
 * line split into words, so it is a scalar here.
 */
function group(lines: IniLine[]): IniEntry[] {
  const out = new Map<string, IniEntry>();
  for (const l of lines) {
    const spec = SPECS.get(l.key);
    const prev = out.get(l.key);
    if (spec?.type === "list" && l.key !== "command") {
      if (prev) (prev.value as string[]).push(l.value);
      else out.set(l.key, { key: l.key, value: [l.value], line: l.line });
    } else {
      out.delete(l.key); // keep file order by the last occurrence
      out.set(l.key, { key: l.key, value: l.value, line: l.line });
    }
  }
  return [...out.values()];
}
