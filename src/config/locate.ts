// Line numbers for keys of TOML, JSON and YAML files. The parsers (c12's
// confbox, JSON.parse) return plain objects without positions, so the lines
// are found by scanning the text: a path "production\0processes" maps to the
// line where that key is first written.
import { ConfigError } from "./coerce.ts";

export type KeyLines = Map<string, number>;

export const keyPath = (path: readonly string[]) => path.join("\0");

const unquote = (s: string) => (/^(["']).*\1$/.test(s) ? s.slice(1, -1) : s);
const dotted = (s: string) => (s.match(/"[^"]*"|'[^']*'|[^.\s]+/g) ?? []).map(unquote);

/** `[table]` headers and `key =` / `a.b =` lines. */
export function tomlKeyLines(text: string): KeyLines {
  const lines: KeyLines = new Map();
  const set = (path: string[], line: number) => lines.has(keyPath(path)) || lines.set(keyPath(path), line);
  let table: string[] = [];
  text.split(/\r?\n/).forEach((raw, n) => {
    const s = raw.trim();
    const header = /^\[([^[\]]+)\]/.exec(s);
    if (header) {
      table = dotted(header[1]!);
      set(table, n + 1);
      return;
    }
    const key = /^((?:"[^"]*"|'[^']*'|[\w-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[\w-]+))*)\s*=/.exec(s);
    if (key) set([...table, ...dotted(key[1]!)], n + 1);
  });
  return lines;
}

/** Top-level `key:` lines and the keys one indentation level below them. */
export function yamlKeyLines(text: string): KeyLines {
  const lines: KeyLines = new Map();
  let parent: string | undefined;
  let childIndent: number | undefined;
  text.split(/\r?\n/).forEach((raw, n) => {
    const m = /^( *)("[^"]*"|'[^']*'|[^\s#'"-][^:#]*?)\s*:(?:\s|$)/.exec(raw);
    if (!m) return;
    const indent = m[1]!.length;
    const key = unquote(m[2]!);
    if (indent === 0) {
      parent = key;
      childIndent = undefined;
      if (!lines.has(key)) lines.set(key, n + 1);
    } else if (parent !== undefined && indent === (childIndent ??= indent)) {
      const p = keyPath([parent, key]);
      if (!lines.has(p)) lines.set(p, n + 1);
    }
  });
  return lines;
}

/**
 * Walks a JSON text the way JSON.parse would, recording the line of every
 * key, and throws a ConfigError with file:line at the first syntax error
 * (JSON.parse's messages carry no position).
 */
export function jsonKeyLines(text: string, name: string): KeyLines {
  const lines: KeyLines = new Map();
  let i = 0;
  let line = 1;
  const fail = (what: string): never => {
    throw new ConfigError(`${name}:${line}: JSON syntax error: ${what}`);
  };
  const found = () => (i >= text.length ? "end of file" : JSON.stringify(text[i]));
  const space = () => {
    for (; i < text.length; i++) {
      const c = text[i];
      if (c === "\n") line++;
      else if (c !== " " && c !== "\t" && c !== "\r") break;
    }
  };
  const string = (): string => {
    let s = "";
    for (i++; ; ) {
      if (i >= text.length) fail("unterminated string");
      const c = text[i++]!;
      if (c === '"') return s;
      if (c < " ") fail("control character or line break inside a string");
      if (c === "\\") {
        const e = text[i++] ?? "";
        if (e === "u" ? !/^[0-9a-fA-F]{4}$/.test(text.slice(i, i + 4)) : !'"\\/bfnrt'.includes(e) || e === "") fail(`bad escape \\${e}`);
        if (e === "u") i += 4;
        s += e;
      } else s += c;
    }
  };
  const value = (path: string[]): void => {
    space();
    const c = text[i];
    if (c === "{") {
      i++;
      space();
      if (text[i] === "}") return void i++;
      for (;;) {
        space();
        if (text[i] !== '"') fail(`expected a "key", found ${found()}`);
        const at = line;
        const key = string();
        const p = keyPath([...path, key]);
        if (!lines.has(p)) lines.set(p, at);
        space();
        if (text[i] !== ":") fail(`expected ":" after "${key}", found ${found()}`);
        i++;
        value([...path, key]);
        space();
        if (text[i] === "}") return void i++;
        if (text[i] !== ",") fail(`expected "," or "}", found ${found()}`);
        i++;
      }
    }
    if (c === "[") {
      i++;
      space();
      if (text[i] === "]") return void i++;
      for (;;) {
        value(path);
        space();
        if (text[i] === "]") return void i++;
        if (text[i] !== ",") fail(`expected "," or "]", found ${found()}`);
        i++;
      }
    }
    if (c === '"') return void string();
    const m = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w.])/.exec(text.slice(i, i + 400));
    if (!m) fail(`unexpected ${found()}`);
    i += m![0].length;
  };
  space();
  value([]);
  space();
  if (i < text.length) fail(`unexpected ${found()} after the end of the document`);
  return lines;
}
