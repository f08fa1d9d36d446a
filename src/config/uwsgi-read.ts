// Reads a uwsgi.ini the way uWSGI 2.0 does: core/ini.c for the lines,
// core/config.c add_exported_option for what each key does while the file
// is read (ini/include/config includes, set-placeholder, the if-/for- logic
// of src/config/uwsgi-logic.ts), then the $(…), @(…) and %(…) passes of
// src/config/uwsgi-passes.ts, then `inherit`, which uWSGI applies after the
// passes (so an inherited file's values are never expanded). The result is
// every option in uWSGI's order, each with its file:line; `uwsgi --ini FILE
// --get KEY` prints the first value of KEY, and tests compare with it.
import { UWSGI_NAMES } from "./uwsgi-names.ts";
import { fillMagic, fromBytes, staticMagic, substituteMagic, toBytes, type MagicHost, type MagicTable } from "./uwsgi-magic.ts";
import { PlaceholderLoop, applyPass, placeholder, type PassOpt } from "./uwsgi-passes.ts";
import { runLogic, startLogic, type Logic, type LogicHost } from "./uwsgi-logic.ts";

export interface ReadHost extends MagicHost, LogicHost {
  /** The file's bytes as a byte string, or why it cannot be read. */
  read(path: string): { bytes: string } | { error: string };
}

export interface UwsgiOpt extends PassOpt {
  file: string;
  line: number;
  /** A line without "=" (a bare key: uWSGI reads it as ""). */
  bare: boolean;
  layer: "file" | "env-section";
}

export interface ReadProblem {
  file: string;
  line: number;
  key?: string;
  message: string;
  /** A warning is what uWSGI itself only warns about; the rest stop uWSGI, or would surprise its user. */
  severity?: "warning";
}

export interface UwsgiRead {
  opts: UwsgiOpt[];
  problems: ReadProblem[];
  /** `strict = true`: uWSGI refuses keys that are not options. */
  strict: boolean;
  /** Keys set as placeholders only (set-ph, set-placeholder). */
  placeholders: Set<string>;
  /** Names looked up as %(name) or by if-opt: custom keys that are used. */
  referenced: Set<string>;
  /** $(VAR)s whose variable is not set (the text stays, as in uWSGI). */
  unsetEnv: Set<string>;
}

const UWSGI_OWN = new Set(["UWSGI_RELOADS", "UWSGI_VASSALS_DIR", "UWSGI_EMPEROR_FD", "UWSGI_BROODLORD_NUM", "UWSGI_EMPEROR_FD_CONFIG", "UWSGI_EMPEROR_PROXY", "UWSGI_JAIL_PID", "UWSGI_ORIGINAL_PROC_NAME"]);
const END = new Set(["end", "endfor", "endif", "end-if", "end-for"]);
const INCLUDES = new Set(["ini", "include", "config", "inherit"]);
const OTHER_FORMATS = new Set(["yaml", "yml", "json", "js", "xml", "xmlconfig", "sqlite3", "ldap", "inject-before", "inject-after"]);
const SET = new Map([["set", false], ["set-placeholder", true], ["set-ph", true]]);
/** Deeper than this, an include is taken to include itself (uWSGI recurses until its stack ends). */
const MAX_DEPTH = 32;

const lstrip = (s: string) => s.replace(/^[ \t\r]+/, "");
const rstrip = (s: string) => s.replace(/[ \t\r]+$/, "");
/** What uWSGI's handler tables say about a key: immediate (applied while reading)? */
export const isImmediate = (key: string) => UWSGI_NAMES[key]?.split(" ").includes("i") ?? false;

export class UwsgiReader {
  readonly opts: UwsgiOpt[] = [];
  readonly problems: ReadProblem[] = [];
  readonly placeholders = new Set<string>();
  readonly referenced = new Set<string>();
  readonly unsetEnv = new Set<string>();
  strict = false;
  private magic: MagicTable;
  private firstRound = { done: false };
  private lastFile = "";
  private logic: Logic | undefined;
  /** Where the open if-/for- block began, for the warning when nothing closes it. */
  private logicAt: { file: string; line: number } | undefined;
  private depth = 0;
  private layer: UwsgiOpt["layer"] = "file";
  /** Set while an if-/for- block adds its options (core/config.c logic_opt_running). */
  private running = false;
  private shown: (path: string) => string;

  constructor(private host: ReadHost, shown: (path: string) => string) {
    this.magic = staticMagic(host);
    this.shown = shown;
  }

  /** Reads `given` (FILE, FILE:SECTION or :SECTION) as uWSGI's `ini` option does; false when the section has no line. */
  readFile(given: string, defaultSection: string, from?: { file: string; line: number }): boolean {
    const bytes = toBytes(given);
    const where = from ?? { file: this.shown(given), line: 0 };
    if (/^[a-z0-9]+:\/\//.test(bytes) || bytes === "-") {
      this.problem(where, `${given}: sup reads config files only, not uWSGI's ${bytes === "-" ? "stdin" : bytes.split(":")[0] + "://"} sources`);
      return false;
    }
    const colon = bytes.lastIndexOf(":");
    let file = colon >= 0 ? bytes.slice(0, colon) : bytes;
    const section = colon >= 0 && colon < bytes.length - 1 ? bytes.slice(colon + 1) : defaultSection;
    if (colon === 0) file = this.lastFile;
    if (file === "") {
      this.problem(where, `${given}: no file was read before, so there is no file to take [${fromBytes(section)}] from`);
      return false;
    }
    if (this.depth >= MAX_DEPTH) {
      this.problem(where, `${given}: includes nest deeper than ${MAX_DEPTH}: a file includes itself`);
      return false;
    }
    const path = fromBytes(file);
    if (!fillMagic(this.magic, bytes, this.host, this.firstRound)) {
      this.problem(where, `${path} does not exist${path.startsWith("/") ? "" : ` in ${this.host.cwd}`} (uWSGI reads a relative path from its working directory; %d is the including file's directory); uWSGI stops there`);
      return false;
    }
    const got = this.host.read(path);
    if ("error" in got) {
      this.problem(where, `${path} ${got.error}`);
      return false;
    }
    this.lastFile = file;
    this.depth++;
    let found: boolean;
    try {
      found = this.parse(substituteMagic(got.bytes, this.magic), this.shown(path), section);
    } finally {
      this.depth--;
    }
    if (!found && from) this.problem(where, `${given}: ${this.shown(path)} has no [${fromBytes(section)}] section (uWSGI warns and reads nothing from it)`, undefined, "warning");
    return found;
  }

  /**
   * UWSGI_<OPTION> variables are options too, read before any file
   * (core/utils.c parse_sys_envs): UWSGI_PROCESSES=4 is `processes = 4`,
   * UWSGI_INI=app.ini loads app.ini. uWSGI's own bookkeeping ones are not.
   */
  readEnvironment(env: Record<string, string | undefined>): void {
    for (const [name, value] of Object.entries(env)) {
      if (!name.startsWith("UWSGI_") || value === undefined || UWSGI_OWN.has(name)) continue;
      this.add(toBytes(name.slice(6).toLowerCase().replaceAll("_", "-")), toBytes(value), { file: `$${name}`, line: 0 });
    }
  }

  /** Reads an environment section of the file already read ([uwsgi:NAME]) after everything else. */
  readEnvSection(path: string, section: string): boolean {
    this.layer = "env-section";
    const before = this.opts.length;
    const got = this.host.read(path);
    if ("error" in got) return false;
    fillMagic(this.magic, toBytes(path), this.host, this.firstRound);
    return this.parse(substituteMagic(got.bytes, this.magic), this.shown(path), toBytes(section)) || this.opts.length > before;
  }

  private parse(lines: { text: string; line: number }[], file: string, section: string): boolean {
    let current = "";
    let found = false;
    for (const { text, line } of lines) {
      const s = rstrip(lstrip(text));
      if (s === "") continue;
      if (line === 1 && s.startsWith("\xef\xbb\xbf[")) this.problem({ file, line }, "the file starts with a byte order mark (BOM), so uWSGI does not see this section header and reads nothing of the section; save it without one");
      if (s.startsWith("[")) {
        // uWSGI drops the last character whatever it is (core/ini.c).
        current = s.slice(1, -1);
        if (!s.endsWith("]")) this.problem({ file, line }, `section header ${fromBytes(s)} has no closing ]`);
        continue;
      }
      if (s.startsWith(";") || s.startsWith("#")) continue;
      if (current !== section) continue;
      found = true;
      const eq = s.indexOf("=");
      const key = eq < 0 ? s : rstrip(s.slice(0, eq));
      const value = eq < 0 ? "" : lstrip(s.slice(eq + 1));
      this.add(key, value, { file, line }, eq < 0);
    }
    return found;
  }

  /** core/config.c add_exported_option_do, with the effects of the immediate options sup understands. */
  add(key: string, value: string, where: { file: string; line: number }, bare = false, placeholderOnly = false): void {
    if (!this.running) {
      if (END.has(key)) this.logic = undefined;
      if (this.logic) {
        this.running = true;
        try {
          runLogic(this.logic, key, value, this.opts, this.host, (k, v) => this.add(k, v, where));
        } finally {
          this.running = false;
        }
        return;
      }
    }
    const opt: UwsgiOpt = { key, value, configured: false, file: where.file, line: where.line, bare, layer: this.layer };
    this.opts.push(opt);
    if (placeholderOnly) {
      if (UWSGI_NAMES[key]) this.problem(where, `${fromBytes(key)} is a uWSGI option and cannot be a placeholder (uWSGI refuses it)`, key);
      opt.configured = true;
      this.placeholders.add(fromBytes(key));
      return;
    }
    if (!isImmediate(key)) return;
    opt.configured = true;
    if (INCLUDES.has(key)) {
      if (key !== "ini" && !/\.ini$/.test(value)) return this.problem(where, `${fromBytes(key)} = ${fromBytes(value)}: sup reads INI includes only`, key);
      this.readFile(fromBytes(value), "uwsgi", where);
    } else if (OTHER_FORMATS.has(key)) {
      this.problem(where, `${fromBytes(key)} = ${fromBytes(value)}: sup reads INI config only; convert that file to INI and use ini = FILE`, key);
    } else if (SET.has(key)) {
      const eq = value.indexOf("=");
      if (eq < 0) return this.problem(where, `${fromBytes(key)} = ${fromBytes(value)}: expected NAME=VALUE (uWSGI stops there)`, key);
      this.add(value.slice(0, eq), value.slice(eq + 1), where, false, SET.get(key));
    } else if (key === "strict") {
      this.strict = !/^(false|off|no|0)$/i.test(value);
    } else {
      const logic = startLogic(key, value);
      if (key === "if-opt" || key === "if-not-opt") this.referenced.add(fromBytes(value.split("=")[0]!));
      if (logic && this.logic) return this.problem(where, `${fromBytes(key)}: uWSGI does not nest if-/for- blocks (it stops here); close the one before with endif/endfor`, key);
      if (logic) {
        this.logic = logic;
        this.logicAt = where;
      }
    }
  }

  /** The passes, then `inherit` (core/uwsgi.c: passes, then uwsgi_configure). */
  finish(env: Record<string, string | undefined>): void {
    // uWSGI warns of nothing: every key after an unclosed block is set by its test (once per line of a for-readline).
    if (this.logic && this.logicAt) {
      const { name, arg } = this.logic;
      this.problem(this.logicAt, `${fromBytes(name)} = ${fromBytes(arg)}: no ${name.startsWith("for") ? "endfor" : "endif"} closes it, so uWSGI applies its test to every key after it, to the end of the config; close it where the block ends`, undefined, "warning");
    }
    const pass = (symbol: "$" | "@" | "%", hook: (name: string, opt: PassOpt) => string | undefined) => {
      try {
        applyPass(this.opts, symbol, hook);
      } catch (e) {
        if (!(e instanceof PlaceholderLoop)) throw e;
        const opt = this.opts.find((o) => o.key === e.message)!;
        this.problem(opt, `${fromBytes(opt.key)}: a placeholder in it contains itself; uWSGI would grow the value until memory runs out`, opt.key);
      }
    };
    pass("$", (name) => {
      const v = env[fromBytes(name)];
      if (v === undefined) this.unsetEnv.add(fromBytes(name));
      return v === undefined ? undefined : toBytes(v);
    });
    pass("@", (name, opt) => {
      const got = this.host.read(fromBytes(name));
      if ("error" in got) return void this.problem(opt as UwsgiOpt, `@(${fromBytes(name)}): ${got.error} (uWSGI stops there)`, opt.key);
      return got.bytes.replace(/[\r\n]$/, "");
    });
    pass("%", (name) => {
      for (const word of name.split(" ")) this.referenced.add(fromBytes(word));
      return placeholder(this.opts, name);
    });
    for (let i = 0; i < this.opts.length; i++) {
      const o = this.opts[i]!;
      if (o.key === "inherit" && !o.configured) {
        o.configured = true;
        if (!/\.ini$/.test(o.value)) this.problem(o, `inherit = ${fromBytes(o.value)}: sup reads INI includes only`, o.key);
        else this.readFile(fromBytes(o.value), "uwsgi", o);
      }
    }
  }

  private problem(where: { file: string; line: number }, message: string, key?: string, severity?: "warning"): void {
    this.problems.push({ file: where.file, line: where.line, key: key === undefined ? undefined : fromBytes(key), message, severity });
  }
}
