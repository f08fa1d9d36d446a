// A supervisord config (supervisord.conf, or a conf.d/*.conf of
// [program:x] sections) read as supervisor reads it: Python's ConfigParser
// with supervisor's rules (`;` starts a comment at a line's start or after
// blanks, an indented line continues the value before it, %(ENV_X)s,
// %(here)s, %(program_name)s and %(process_num)d are expanded, %% is %),
// then each [program:x] becomes a sup program through the table below.
// supervisord's options that sup does itself, or that mean nothing to it,
// are notes; those it has no form for are said too. docs/programs.md.
import { basename, dirname, isAbsolute, join, relative } from "node:path";
import { readConfigText } from "./read.ts";

export interface SupervisordEntry {
  key: string;
  value: unknown;
  line: number;
  /** file:line when the line is in an included file. */
  where?: string;
  program?: string;
}

export interface SupervisordRead {
  entries: SupervisordEntry[];
  programs: { name: string; line: number; where?: string }[];
  /** What was left out and why (file:line: …). */
  notes: string[];
  problems: { line: number; where?: string; message: string }[];
}

/** supervisord's own limit on nested includes is none; sup stops a cycle or a runaway at this depth. */
const MAX_INCLUDE_DEPTH = 8;

/** Keys only supervisord's [program:x] sections use: a file with any of them (or a [supervisord] section) is supervisord's. */
const SUPERVISORD_KEYS = new Set(["numprocs", "numprocs_start", "process_name", "directory", "autostart", "autorestart", "startsecs", "startretries", "exitcodes", "stopsignal", "stopwaitsecs", "stopasgroup", "killasgroup", "user", "redirect_stderr", "stdout_logfile", "stderr_logfile", "environment", "priority", "umask", "serverurl"]);

/** A file with a [supervisord] section, or [program:x] sections that use supervisord's keys. */
export function looksLikeSupervisord(text: string): boolean {
  const sections = parse(text);
  if (sections.has("supervisord") || sections.has("supervisorctl")) return true;
  for (const [name, s] of sections) if (name.startsWith("program:") && s.lines.some((l) => SUPERVISORD_KEYS.has(l.key))) return true;
  return false;
}

type Rule = { to: string; as?: (v: string) => unknown } | { note: string };

const bool = (v: string) => /^(true|yes|on|1)$/i.test(v);
const RULES: Record<string, Rule> = {
  command: { to: "command" },
  numprocs: { to: "processes", as: Number },
  directory: { to: "chdir" },
  user: { to: "uid" },
  stopsignal: { to: "stop-signal" },
  stopwaitsecs: { to: "worker-reload-mercy", as: Number },
  startsecs: { to: "ready", as: (v) => `delay:${Number(v)}` },
  autorestart: { to: "restart", as: (v) => (/^unexpected$/i.test(v) ? "on-failure" : bool(v) ? "always" : "never") },
  environment: { to: "env", as: parseEnvironment },
  process_name: { note: "sup names each worker by its program and id (web.2)" },
  numprocs_start: { note: "sup numbers workers from 1" },
  priority: { note: "start order in sup is depends-on (docs/programs.md)" },
  autostart: { note: "sup starts every program; `sup stop NAME` stops one" },
  startretries: { note: "sup retries a crashing worker with a backoff for ever (give-up-after stops the whole master)" },
  exitcodes: { note: "with autorestart = unexpected, sup restarts after any exit but 0 (restart = on-failure)" },
  stopasgroup: { note: "sup always signals the worker's whole process group" },
  killasgroup: { note: "sup always signals the worker's whole process group" },
  redirect_stderr: { note: "sup passes stdout and stderr on, each line prefixed with the program and worker" },
  umask: { note: "the workers inherit sup's umask" },
  serverurl: { note: "sup's workers reach the master through its control socket (sup status)" },
};
// Log file options: sup writes every program's output to its own stdout/stderr (or --logto).
for (const stream of ["stdout", "stderr"]) {
  for (const k of ["logfile", "logfile_maxbytes", "logfile_backups", "capture_maxbytes", "events_enabled", "syslog"]) RULES[`${stream}_${k}`] = { note: "sup writes the output of every program to its own stdout and stderr, or to --logto FILE" };
}
const SUPERVISORD_SECTION: Record<string, Rule> = {
  pidfile: { to: "pidfile" },
  logfile: { to: "logto" },
};

/**
 * Parses the text (its sections and continued values), then maps every
 * [program:x] key. `env` gives %(ENV_X)s; `path` gives %(here)s.
 */
export function readSupervisord(text: string, path: string, env: Record<string, string | undefined>): SupervisordRead {
  const out: SupervisordRead = { entries: [], programs: [], notes: [], problems: [] };
  readInto(out, text, path, env, path, 0);
  return out;
}

/**
 * One file's sections into `out`; `top` is the file sup was given (its lines
 * are named by number alone, an included file's by file:line). [include]
 * files = GLOB … is read as supervisord reads it: globs relative to the
 * directory of the file that names them, matches in name order.
 */
function readInto(out: SupervisordRead, text: string, path: string, env: Record<string, string | undefined>, top: string, depth: number) {
  const file = path === top ? basename(path) : relative(dirname(top), path) || basename(path);
  const at = (line: number) => (path === top ? {} : { where: `${file}:${line}` });
  const problem = (line: number, message: string) => out.problems.push({ line, ...at(line), message });
  for (const [header, { line: start, lines }] of parse(text)) {
    const program = header.startsWith("program:") ? header.slice("program:".length).trim() : undefined;
    if (header === "include") {
      include(out, lines, path, env, top, depth, problem);
      continue;
    }
    if (program === undefined) {
      if (header === "supervisord") mapKeys(lines, SUPERVISORD_SECTION, undefined, out, file, path, env, at, problem);
      else out.notes.push(`${file}:${start}: [${header}]: ${sectionNote(header)}`);
      continue;
    }
    if (!/^[\w.-]+$/.test(program)) {
      problem(start, `[${header}]: a program name is letters, digits, "_", "-" and "."`);
      continue;
    }
    if (out.programs.some((p) => p.name === program)) {
      problem(start, `[${header}]: program ${program} is defined twice`);
      continue;
    }
    out.programs.push({ name: program, line: start, ...at(start) });
    mapKeys(lines, RULES, program, out, file, path, env, at, problem);
  }
}

function include(out: SupervisordRead, lines: { key: string; value: string; line: number }[], path: string, env: Record<string, string | undefined>, top: string, depth: number, problem: (line: number, message: string) => void) {
  for (const l of lines) {
    if (l.key !== "files") {
      problem(l.line, `[include] ${l.key}: supervisord's [include] has only files =`);
      continue;
    }
    if (depth >= MAX_INCLUDE_DEPTH) {
      problem(l.line, `[include] nested more than ${MAX_INCLUDE_DEPTH} files deep (an include of itself?)`);
      continue;
    }
    const here = dirname(path);
    for (const pattern of expand(l.value, { here }, env).split(/\s+/).filter(Boolean)) {
      const abs = isAbsolute(pattern) ? pattern : join(here, pattern);
      // Python's glob.glob, as supervisord: a pattern (or a plain name) that matches nothing is no error.
      let matches: string[] = [];
      try {
        matches = [...new Bun.Glob(basename(abs)).scanSync({ cwd: dirname(abs), onlyFiles: true })].sort().map((m) => join(dirname(abs), m));
      } catch {
        // its directory does not exist: no match
      }
      for (const f of matches) {
        try {
          readInto(out, readConfigText(f, f), f, env, top, depth + 1);
        } catch (e) {
          problem(l.line, `[include] ${(e as Error).message}`);
        }
      }
    }
  }
}

function sectionNote(header: string): string {
  if (header.startsWith("group:")) return "sup controls each program by name (sup reload|stop|start NAME)";
  if (header.startsWith("eventlistener:") || header.startsWith("fcgi-program:")) return "sup has no such program kind: left out";
  return "supervisord's own server and control settings: sup has its control socket and sup status";
}

function mapKeys(lines: { key: string; value: string; line: number }[], rules: Record<string, Rule>, program: string | undefined, out: SupervisordRead, file: string, path: string, env: Record<string, string | undefined>, at: (line: number) => { where?: string }, problem: (line: number, message: string) => void) {
  for (const l of lines) {
    const rule = rules[l.key];
    const where = `${file}:${l.line}`;
    if (!rule) {
      if (program === undefined) out.notes.push(`${where}: ${l.key}: a supervisord setting sup has no use for`);
      else problem(l.line, `${l.key}: not a supervisord program option sup knows`);
      continue;
    }
    if ("note" in rule) {
      out.notes.push(`${where}: ${l.key}: ${rule.note}`);
      continue;
    }
    // supervisord refuses a file whose %(ENV_X)s names an unset variable; so does sup.
    const unset = [...l.value.matchAll(/%\(ENV_(\w+)\)[sd]/g)].map((m) => m[1]!).filter((n) => env[n] === undefined);
    if (unset.length > 0) {
      problem(l.line, `${l.key}: %(ENV_${unset[0]})s: ${unset[0]} is not set in the environment (supervisord refuses this too); set it, or write the value`);
      continue;
    }
    const value = expand(l.value, { here: dirname(path), program_name: program ?? "", process_num: "0", group_name: program ?? "" }, env);
    out.entries.push({ key: rule.to, value: rule.as ? rule.as(value) : value, line: l.line, ...at(l.line), program });
  }
}

/** %(name)s and %(name)d as supervisor expands them, %% as %. An unknown name stays as written. */
function expand(v: string, vars: Record<string, string>, env: Record<string, string | undefined>): string {
  return v.replace(/%%|%\(([\w]+)\)[sd]/g, (whole, name?: string) => {
    if (whole === "%%") return "%";
    if (name!.startsWith("ENV_")) return env[name!.slice(4)] ?? whole;
    return vars[name!] ?? whole;
  });
}

/** environment = A="1",B=two,C='x,y': KEY=VALUE pairs, quoted values may hold commas. */
export function parseEnvironment(v: string): string[] {
  const out: string[] = [];
  const re = /\s*([A-Za-z_][\w.]*)\s*=\s*("(?:[^"\\]|\\.)*"|'[^']*'|[^,]*)\s*(?:,|$)/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(v)) && m[0] !== "") {
    let val = m[2]!.trim();
    if (/^".*"$/s.test(val)) val = val.slice(1, -1).replace(/\\(.)/g, "$1");
    else if (/^'.*'$/s.test(val)) val = val.slice(1, -1);
    out.push(`${m[1]}=${val}`);
  }
  return out;
}

/** Sections with their lines: `;` and `#` comments (at a line's start, or `;` after blanks), indented continuation lines. */
function parse(text: string): Map<string, { line: number; lines: { key: string; value: string; line: number }[] }> {
  const sections = new Map<string, { line: number; lines: { key: string; value: string; line: number }[] }>();
  let current: { key: string; value: string; line: number }[] | undefined;
  let last: { key: string; value: string; line: number } | undefined;
  text.replace(/^\uFEFF/, "").split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (/^\s*([;#]|$)/.test(raw)) return;
    const value = raw.replace(/\s+;.*$/, "");
    if (/^\s/.test(raw) && last) {
      last.value += `\n${value.trim()}`;
      return;
    }
    const header = /^\[([^\]]+)\]/.exec(value);
    if (header) {
      current = [];
      sections.set(header[1]!.trim(), { line, lines: current });
      last = undefined;
      return;
    }
    const m = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(value);
    if (!m || !current) return;
    last = { key: m[1]!.trim().toLowerCase(), value: m[2]!.trim(), line };
    current.push(last);
  });
  return sections;
}
