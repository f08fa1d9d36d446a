// Line numbers for keys of TOML, JSON and YAML files. The parsers (c12's
// confbox, JSON.parse) return plain objects without positions, so the lines
// are found by scanning the text: a path "production\0processes" maps to the
// line where that key is first written.
import { ConfigError, clip } from "./coerce.ts";
import { MAX_DEPTH, tooDeep } from "./nesting.ts";

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
    // The key runs to the first ":" (a lazy key followed by \s* made this
    // regex quadratic on a long line of spaces).
    const m = /^( *)("[^"]*"\s*|'[^']*'\s*|[^\s#'"-][^:#]*):(?:\s|$)/.exec(raw);
    if (!m) return;
    const indent = m[1]!.length;
    const key = unquote(m[2]!.trimEnd());
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

/** Keys deeper than this are never asked for a line (readStructured's deepest: [section, "$env", name, "programs", program, key]). */
const KEY_LINE_DEPTH = 6;
const JSON_ATOM = /true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.])/y;

/**
 * Walks a JSON text the way JSON.parse would, recording the line of every
 * key, and throws a ConfigError with file:line at the first syntax error
 * (JSON.parse's messages carry no position) or past MAX_DEPTH levels. One
 * pass, each character looked at a bounded number of times: a text nested
 * 20,000 levels took 10 s when every key copied its whole path.
 */
export function jsonKeyLines(text: string, name: string): KeyLines {
  const lines: KeyLines = new Map();
  const path: string[] = [];
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
  const HEX = /[0-9a-fA-F]{4}/y;
  const string = (): string => {
    const begin = ++i;
    let plain = true; // no escapes: the key is a slice of the text
    for (;;) {
      if (i >= text.length) fail("unterminated string");
      const c = text[i++]!;
      if (c === '"') return plain ? text.slice(begin, i - 1) : (JSON.parse(text.slice(begin - 1, i)) as string);
      if (c < " ") fail("control character or line break inside a string");
      if (c === "\\") {
        plain = false;
        const e = text[i++] ?? "";
        HEX.lastIndex = i;
        if (e === "u" ? !HEX.test(text) : !'"\\/bfnrt'.includes(e) || e === "") fail(`bad escape \\${e}`);
        if (e === "u") i += 4;
      }
    }
  };
  const value = (depth: number): void => {
    if (depth > MAX_DEPTH) throw tooDeep(name, line);
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
        path.push(key);
        if (path.length <= KEY_LINE_DEPTH) {
          const p = keyPath(path);
          if (!lines.has(p)) lines.set(p, at);
        }
        space();
        if (text[i] !== ":") fail(`expected ":" after "${clip(key)}", found ${found()}`);
        i++;
        value(depth + 1);
        path.pop();
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
        value(depth + 1);
        space();
        if (text[i] === "]") return void i++;
        if (text[i] !== ",") fail(`expected "," or "]", found ${found()}`);
        i++;
      }
    }
    if (c === '"') return void string();
    JSON_ATOM.lastIndex = i;
    const m = JSON_ATOM.exec(text);
    if (!m) fail(`unexpected ${found()}`);
    i += m![0].length;
  };
  space();
  value(0);
  space();
  if (i < text.length) fail(`unexpected ${found()} after the end of the document`);
  return lines;
}
