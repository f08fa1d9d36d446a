// How deep a TOML or YAML text nests, found by one pass over the text before
// the parser sees it. The parsers recurse once per level: js-yaml ran out of
// stack on `[` × 200,000 and took 1.8 s on 2,000 indented levels (quadratic),
// smol-toml stops at 1,000 levels only. A sup config needs four levels at
// most (an environment table in a named section holding a list), so
// anything past MAX_DEPTH is refused with its file:line before parsing.
// Both scans err on the deep side: they may count a level the parser would
// not, never miss one.
import { ConfigError } from "./coerce.ts";

export const MAX_DEPTH = 64;

export function tooDeep(name: string, line?: number): ConfigError {
  return new ConfigError(`${name}${line ? `:${line}` : ""}: nested more than ${MAX_DEPTH} levels deep (tables, lists, dotted keys); a sup config needs 4 at most`);
}

const NL = 10;
const HASH = 35;

/** Index of the end of the string that starts at i (one past its closing quote), and how many newlines it holds. */
function skipString(text: string, i: number, yaml: boolean): { end: number; lines: number } {
  const q = text[i]!;
  let lines = 0;
  const triple = !yaml && text.startsWith(q.repeat(3), i);
  let j = i + (triple ? 3 : 1);
  for (; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === NL) {
      lines++;
      if (!triple && !yaml) break; // a TOML one-line string ends here (the parser says why)
      continue;
    }
    if (text[j] === "\\" && q === '"') {
      j++;
      if (text.charCodeAt(j) === NL) lines++;
      continue;
    }
    if (text[j] !== q) continue;
    if (yaml && q === "'" && text[j + 1] === "'") {
      j++; // '' is a quote inside a YAML single-quoted string
      continue;
    }
    if (!triple) return { end: j + 1, lines };
    if (text.startsWith(q.repeat(3), j)) {
      // """a"""" ends with the last three quotes of the run
      let k = j + 3;
      while (text[k] === q && k < j + 5) k++;
      return { end: k, lines };
    }
  }
  return { end: j, lines };
}

/**
 * TOML: depth of a value = depth of its table ([a.b] is 2, [[a.b]] 3) +
 * segments of its dotted key; an array or inline table adds one for what
 * it holds. Throws tooDeep at the first line past MAX_DEPTH.
 */
export function checkTomlNesting(text: string, name: string): void {
  const open: { depth: number; table: boolean }[] = []; // inline arrays and tables, innermost last
  let line = 1;
  let table = 0; // depth of the table of the last [header]
  let inKey = true; // reading a key: at a line start outside inline values, or in an inline table
  let keyBase = 0;
  let segments = 1;
  let lineStart = true;
  let value = 0; // depth of the value about to start (after = or inside an array)
  const check = (depth: number) => {
    if (depth > MAX_DEPTH) throw tooDeep(name, line);
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "\n") {
      line++;
      if (open.length === 0) [inKey, keyBase, segments, lineStart] = [true, table, 1, true];
      continue;
    }
    if (c === " " || c === "\t" || c === "\r") continue;
    const atLineStart = lineStart;
    lineStart = false;
    if (c === "#") {
      const nl = text.indexOf("\n", i);
      i = (nl < 0 ? text.length : nl) - 1;
    } else if (c === '"' || c === "'") {
      const s = skipString(text, i, false);
      line += s.lines;
      i = s.end - 1;
    } else if (inKey) {
      if (c === "[" && atLineStart) {
        // [a.b.c] or [[a.b.c]]: the table's depth is its segments (+1 for the array of tables).
        const array = text[i + 1] === "[";
        let segs = 1;
        let j = i + (array ? 2 : 1);
        for (; j < text.length && text[j] !== "]" && text[j] !== "\n"; j++) {
          if (text[j] === ".") segs++;
          else if (text[j] === '"' || text[j] === "'") j = skipString(text, j, false).end - 1;
        }
        table = segs + (array ? 1 : 0);
        check(table);
        keyBase = table;
        i = j - 1;
      } else if (c === ".") {
        segments++;
        check(keyBase + segments);
      } else if (c === "=") {
        value = keyBase + segments;
        check(value);
        inKey = false;
      } else if (c === "}" && open.at(-1)?.table) {
        open.pop(); // {} or a trailing comma: the parser judges
        inKey = false;
      }
    } else if (c === "[" || c === "{") {
      check(value + 1);
      open.push({ depth: value, table: c === "{" });
      if (c === "{") [inKey, keyBase, segments] = [true, value, 1];
      else value += 1;
    } else if (c === "]" || c === "}") {
      open.pop();
      value = (open.at(-1)?.depth ?? 0) + 1;
    } else if (c === ",") {
      const top = open.at(-1);
      if (top?.table) [inKey, keyBase, segments] = [true, top.depth, 1];
      else if (top) value = top.depth + 1;
    }
  }
}

/**
 * YAML: block levels from indentation (a `- ` entry is a level of its own,
 * `- - x` two), plus the `[` and `{` flow collections open at that point.
 * Block scalars (`|`, `>`) and quoted strings are skipped.
 */
export function checkYamlNesting(text: string, name: string): void {
  const block: number[] = []; // open block levels: 2*column for a mapping, 2*column+1 for a sequence
  let flow = 0;
  let scalarParent = -1; // indentation of the line that opened a block scalar
  let line = 0;
  const level = (at: number) => {
    while (block.length > 0 && block.at(-1)! > at) block.pop();
    if (block.at(-1) !== at) block.push(at);
    if (block.length + flow > MAX_DEPTH) throw tooDeep(name, line);
  };
  for (let start = 0; start <= text.length; ) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    line++;
    let i = start;
    while (i < end && text[i] === " ") i++;
    const indent = i - start;
    const blank = i === end || text[i] === "\r" || text.charCodeAt(i) === HASH;
    if (scalarParent >= 0 && (blank || indent > scalarParent)) {
      start = end + 1;
      continue;
    }
    scalarParent = -1;
    let atStart = true; // where a quote, [ or { starts a node rather than sit inside a plain scalar
    if (flow === 0 && !blank) {
      // Block structure: `- ` entries first (`- - x` is two), then a key (a mapping) or a scalar.
      const entry = (at: number) => text[at] === "-" && (at + 1 === end || text[at + 1] === " " || text[at + 1] === "\r");
      if (!entry(i)) level(2 * indent);
      while (entry(i)) {
        level(2 * (i - start) + 1);
        i++;
        while (i < end && text[i] === " ") i++;
        if (i < end && !entry(i)) level(2 * (i - start));
      }
    }
    for (; i < end; i++) {
      const c = text[i]!;
      if (c === " " || c === "\t") continue;
      if (c === "#" && (i === start || text[i - 1] === " " || text[i - 1] === "\t")) break;
      if (atStart && (c === '"' || c === "'")) {
        const s = skipString(text, i, true);
        if (s.end > end) {
          // It spans lines: the rest of its last line is read as this one's.
          line += s.lines;
          end = text.indexOf("\n", s.end);
          if (end < 0) end = text.length;
        }
        i = s.end - 1;
        atStart = false;
      } else if (c === "[" || c === "{") {
        if (!atStart && flow === 0) continue; // inside a plain scalar: a[1]
        flow++;
        if (block.length + flow > MAX_DEPTH) throw tooDeep(name, line);
        atStart = true;
      } else if ((c === "]" || c === "}") && flow > 0) {
        flow--;
        atStart = false;
      } else if (c === "," && flow > 0) atStart = true;
      else if (c === ":" && (i + 1 === end || " \t\r,]}".includes(text[i + 1]!))) atStart = true;
      else if (atStart && (c === "|" || c === ">") && flow === 0) {
        scalarParent = indent;
        break;
      } else if (atStart && (c === "&" || c === "!")) {
        while (i + 1 < end && text[i + 1] !== " ") i++; // an anchor or a tag comes before the node
      } else atStart = false;
    }
    start = end + 1;
  }
}
