// uWSGI's magic variables (%d, %n, %k, …) and how it substitutes them: over
// the whole text of a file as it is read, before any line is parsed
// (core/io.c uwsgi_open_and_read → core/utils.c magic_sub). Every "%X" is
// replaced: by the variable when X names one, by "" when it does not (the
// table starts all empty: utils.c init_magic_table), "%%" by "%" and "%(" by
// itself, so placeholders survive for the later pass. A "%" at the end of a
// line takes the newline with it, as in uWSGI.
//
// Text here is a byte string (one char per byte, latin1), as uWSGI sees it;
// src/config/uwsgi-read.ts converts at the edges.

/** What the magic table needs from the machine (injected: tests fake it). */
export interface MagicHost {
  cwd: string;
  hostname: string;
  cpus: number;
  uid: number;
  gid: number;
  user?: string;
  group?: string;
  /** Seconds since the epoch (%t) and microseconds (%T). */
  now(): number;
  binary: string;
  version: string;
  realpath(path: string): string | undefined;
  isSymlink(path: string): boolean;
  inode(path: string): number | undefined;
}

export type MagicTable = Record<string, string>;

/** UTF-8 text → the byte string uWSGI works on, and back. */
export const toBytes = (s: string) => Buffer.from(s, "utf8").toString("latin1");
export const fromBytes = (s: string) => Buffer.from(s, "latin1").toString("utf8");

/** The variables that do not depend on the file (core/uwsgi.c, uwsgi_setup). */
export function staticMagic(host: MagicHost): MagicTable {
  const now = host.now();
  return {
    v: toBytes(host.cwd),
    h: toBytes(host.hostname),
    t: String(Math.floor(now)),
    T: String(Math.floor(now * 1e6)),
    V: host.version,
    k: String(host.cpus),
    "[": "\x1b",
    u: String(host.uid),
    U: toBytes(host.user ?? String(host.uid)),
    g: String(host.gid),
    G: toBytes(host.group ?? String(host.gid)),
  };
}

/** djb33x of the path, as the 8 hex digits of its little-endian bytes (core/hash.c, %j). */
function djb33x(bytes: string): string {
  let h = 5381;
  for (let i = 0; i < bytes.length; i++) {
    const c = (bytes.charCodeAt(i) << 24) >> 24; // a signed char, as in C on x86 and arm64 Linux
    h = (Math.imul(h, 33) ^ c) >>> 0;
  }
  return [0, 8, 16, 24].map((s) => ((h >>> s) & 0xff).toString(16).padStart(2, "0")).join("");
}

const UPPER = ["o", "d", "s", "p", "c", "e", "n", "x", "i", "j"];

/**
 * Fills the per-file variables for `given` (a path, possibly FILE:SECTION or
 * :SECTION), as core/uwsgi.c config_magic_table_fill does. The table keeps
 * what it had for anything this call does not set. Returns false when the
 * file's real path cannot be found (uWSGI exits there).
 */
export function fillMagic(table: MagicTable, given: string, host: MagicHost, firstRound: { done: boolean }): boolean {
  table.o = given;
  if (/^[a-z0-9]+:\/\//.test(given) || given === "-") return true;
  const colon = given.lastIndexOf(":");
  const file = colon >= 0 ? given.slice(0, colon) : given;
  if (colon !== 0) {
    let full: string;
    if (host.isSymlink(fromBytes(file))) {
      full = file.startsWith("/") ? file : `${toBytes(host.cwd)}/${file}`;
    } else {
      const real = host.realpath(fromBytes(file));
      if (real === undefined) return false;
      full = toBytes(real);
    }
    table.p = full;
    table.j = djb33x(full);
    const ino = host.inode(fromBytes(full));
    if (ino !== undefined) table.i = String(ino);
    const slash = full.lastIndexOf("/");
    table.s = full.slice(slash + 1);
    table.d = full.slice(0, slash + 1);
    const dir = table.d.endsWith("/") ? table.d.slice(0, -1) : table.d;
    const parts = dir.split("/").filter((p) => p !== "");
    for (let n = 0; n <= 9; n++) table[String(n)] = parts[n] ?? "";
    table.c = dir.includes("/") ? dir.slice(dir.lastIndexOf("/") + 1) : "";
    const dot = table.s.lastIndexOf(".");
    table.e = dot >= 0 ? table.s.slice(dot + 1) : "";
    table.n = dot >= 0 ? table.s.slice(0, dot) : table.s;
    table.b = toBytes(host.binary);
  }
  table.x = colon >= 0 ? given.slice(colon + 1) : "";
  if (!firstRound.done) {
    for (const k of UPPER) table[k.toUpperCase()] = table[k] ?? "";
    firstRound.done = true;
  }
  return true;
}

/** One line of a file after substitution, with the line of the file it starts on. */
export interface SourceLine {
  text: string;
  line: number;
}

/** magic_sub over a whole file, then split into lines (only "\n" ends one, as in core/ini.c). */
export function substituteMagic(bytes: string, table: MagicTable): SourceLine[] {
  const out: SourceLine[] = [];
  let cur = "";
  let line = 1;
  let start = 1;
  for (let i = 0; i < bytes.length; i++) {
    const ch = bytes[i]!;
    // uWSGI reads the file with a NUL after it: a "%" at the very end meets
    // the NUL, and both go.
    if (ch === "%" && i + 1 === bytes.length) break;
    if (ch === "%") {
      const next = bytes[i + 1]!;
      cur += next === "%" ? "%" : next === "(" ? "%(" : (table[next] ?? "");
      if (next === "\n") line++;
      i++;
      continue;
    }
    if (ch === "\n") {
      out.push({ text: cur, line: start });
      cur = "";
      start = ++line;
      continue;
    }
    cur += ch;
  }
  if (cur !== "") out.push({ text: cur, line: start });
  return out;
}
