// A supervisord config (supervisord.conf, or a conf.d/*.conf of
// [program:x] sections) read as supervisor reads it: Python's ConfigParser
// with supervisor's rules (`;` or `#` starts a comment at a line's start or
// after a blank, a line indented deeper than its key continues the value,
// a section given twice is one; %(ENV_X)s, %(here)s, %(program_name)s,
// %(host_node_name)s, %(numprocs)d are expanded, %(process_num)d per worker
// (supervisord-procnum.ts), %% is %), then each [program:x] becomes a sup
// program through the table below, with supervisord's defaults where sup's
// differ (programDefaults).
// supervisord's options that sup does itself, or that mean nothing to it,
// are notes; those it has no form for are said too. docs/programs.md.
import { realpathSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative } from "node:path";
import { hostname } from "node:os";
import { nearest } from "../core/suggest.ts";
import { readConfigText } from "./read.ts";
import { perWorkerShell, usesProcessNum } from "./supervisord-procnum.ts";

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
  /** What sup leaves out or does its own way, and why (file:line: …). */
  notes: string[];
  problems: { line: number; where?: string; message: string }[];
}

/** supervisord's own limit on nested includes is none; sup stops a cycle or a runaway at this depth. */
const MAX_INCLUDE_DEPTH = 8;

/** A file with a [supervisord] section, or [program:x] sections that use supervisord's keys. */
export function looksLikeSupervisord(text: string): boolean {
  const sections = parse(text);
  if (sections.has("supervisord") || sections.has("supervisorctl")) return true;
  for (const [name, s] of sections) {
    if (name.startsWith("fcgi-program:") || name.startsWith("eventlistener:")) return true;
    // Every key supervisord reads in a [program:x] but command is none of sup's INI keys (sup's are stop-signal, chdir, uid, env).
    if (name.startsWith("program:") && s.lines.some((l) => l.key !== "command" && Object.hasOwn(FCGI_RULES, l.key))) return true;
  }
  return false;
}

type Rule = { to: string; as?: (v: string) => unknown } | { note: string };

const bool = (v: string) => /^(true|yes|on|1)$/i.test(v);
/** A number, or the text as written, so that sup's check names it ("got \"abc\"", not NaN's "got null"). */
const num = (v: string) => (/^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v);
const RULES: Record<string, Rule> = {
  command: { to: "command" },
  numprocs: { to: "processes", as: num },
  directory: { to: "chdir" },
  user: { to: "uid" },
  stopsignal: { to: "stop-signal" },
  stopwaitsecs: { to: "worker-reload-mercy", as: num },
  startsecs: { to: "ready", as: (v) => `delay:${num(v)}` },
  // unexpected (supervisord's default) is `always`, not on-failure: sup's on-failure is a task's, whose reload
  // waits for it to finish (docs/programs.md); a server that exits 0 is respawned, where supervisord leaves it (a note).
  autorestart: { to: "restart", as: (v) => (/^unexpected$/i.test(v) || bool(v) ? "always" : "never") },
  environment: { to: "env", as: parseEnvironment },
  process_name: { note: "sup names each worker by its program and id (web.2)" },
  numprocs_start: { note: "sup numbers workers from 1 (web.1); %(process_num) in a command or environment still counts from numprocs_start" },
  priority: { note: "start order in sup is depends-on (docs/programs.md)" },
  autostart: { to: "autostart", as: bool },
  startretries: { note: "sup retries a crashing worker with a backoff for ever (give-up-after stops the whole master)" },
  exitcodes: { note: "sup respawns a worker after any exit (restart = always), or none (autorestart = false: restart = never)" },
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
/** supervisord's socket URL as sup's listen address: tcp://HOST:PORT (`*` for every interface), unix:///PATH. */
function fcgiSocket(v: string): string[] {
  const tcp = /^tcp:\/\/(.*):(\d+)$/.exec(v);
  if (tcp) return [`${tcp[1] === "*" ? "" : tcp[1]}:${tcp[2]}`];
  return [v.startsWith("unix://") ? `unix:${v.slice("unix://".length)}` : v];
}
/** [fcgi-program:x]: a program's keys, and its socket, which sup binds and holds (listen), as supervisord does. */
const FCGI_RULES: Record<string, Rule> = {
  ...RULES,
  socket: { to: "listen", as: fcgiSocket },
  socket_owner: { to: "listen-owner" },
  socket_mode: { to: "listen-mode" },
  socket_backlog: { to: "listen-backlog", as: num },
};
const SUPERVISORD_SECTION: Record<string, Rule> = {
  pidfile: { to: "pidfile" },
  // Not logto: supervisord's own log is not its programs' output (theirs go to their stdout_logfile, /dev/stdout in a
  // container); logto would send every program's output there too: logfile=/dev/null silenced a whole container.
  logfile: { note: "supervisord's own log file: sup writes its log and every program's output to its stdout and stderr (logto FILE sends both to a file)" },
  environment: { to: "env", as: parseEnvironment },
  // supervisord drops to this user at start, so every program runs as it but for its own user=; sup's workers do.
  user: { to: "uid" },
};

/**
 * Parses the text (its sections and continued values), then maps every
 * [program:x] key. `env` gives %(ENV_X)s; `path` gives %(here)s.
 */
export function readSupervisord(text: string, path: string, env: Record<string, string | undefined>): SupervisordRead {
  const out: SupervisordRead = { entries: [], programs: [], notes: [], problems: [] };
  const walk: Walk = { top: path, global: [], seen: new Set([realpathOr(path)]), groups: [] };
  readInto(out, text, path, env, walk, 0);
  // A group names programs of any file read; supervisord refuses a member that is no program, and so does sup.
  const groupOf = new Map<string, string>();
  for (const g of walk.groups) {
    const where = g.where ? { where: g.where } : {};
    if (!out.programs.some((p) => p.name === g.member)) out.problems.push({ line: g.line, ...where, message: `[group:${g.name}] programs: ${g.member} is no [program:${g.member}] here or in an included file` });
    else if (groupOf.has(g.member) && groupOf.get(g.member) !== g.name) out.problems.push({ line: g.line, ...where, message: `[group:${g.name}] programs: ${g.member} is already in [group:${groupOf.get(g.member)}]; sup gives a program one group` });
    else if (!groupOf.has(g.member)) {
      groupOf.set(g.member, g.name);
      out.entries.push({ key: "group", value: g.name, line: g.line, ...where, program: g.member });
    }
  }
  const global = walk.global;
  if (out.programs.length === 0 && out.problems.length === 0) {
    // supervisord would run idle; sup would run no program, or mistake the file for a config without programs.
    const unmatched = out.notes.filter((n) => n.includes("no file matches")).map((n) => n.replace(/: no file matches.*$/, ""));
    out.problems.push({ line: 1, message: `no [program:x] or [fcgi-program:x] section, here or in an included file${unmatched.length ? ` (${unmatched.join(", ")} matched nothing)` : ""}: nothing for sup to run; add one, or point -c at the file that has them` });
  }
  // [supervisord] environment = is every program's, under its own (supervisord merges them, the program's winning).
  if (global.length > 0) {
    for (const e of out.entries) if (e.key === "env" && e.program !== undefined) e.value = [...global, ...(e.value as string[])];
  }
  return out;
}

/** One read of a file and what it includes: the file sup was given, [supervisord]'s environment, the files read so far (real paths). */
interface Walk {
  top: string;
  global: string[];
  seen: Set<string>;
  /** [group:x] programs = …, one row per member, for every file read. */
  groups: { name: string; member: string; line: number; where?: string }[];
}

/** A file's real path (an include through a symlink is the same file), or the path when it cannot be resolved. */
const realpathOr = (p: string) => {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
};

/**
 * One file's sections into `out`; `walk.top` is the file sup was given (its lines
 * are named by number alone, an included file's by file:line). [include]
 * files = GLOB … is read as supervisord reads it: globs relative to the
 * directory of the file that names them, matches in name order.
 */
function readInto(out: SupervisordRead, text: string, path: string, env: Record<string, string | undefined>, walk: Walk, depth: number) {
  const { top, global } = walk;
  const file = path === top ? basename(path) : relative(dirname(top), path) || basename(path);
  const at = (line: number) => (path === top ? {} : { where: `${file}:${line}` });
  const problem = (line: number, message: string) => out.problems.push({ line, ...at(line), message });
  const sections = parse(text);
  // [supervisord] first, wherever it is: its environment = is known to every %(ENV_X)s of the file, as in supervisord.
  const own = sections.get("supervisord");
  if (own) {
    const entries = mapKeys(own.lines, SUPERVISORD_SECTION, undefined, out, file, path, env, at, problem);
    for (const e of entries) if (e.key === "env") global.push(...(e.value as string[]));
    out.entries.push(...entries);
  }
  const withGlobal = { ...env, ...asRecord(global) };
  for (const [header, { line: start, lines }] of sections) {
    // An [fcgi-program:x] is a program whose socket supervisord binds and hands each process as fd 0.
    const kind = ["program:", "fcgi-program:"].find((k) => header.startsWith(k));
    const program = kind ? header.slice(kind.length).trim() : undefined;
    const fcgi = kind === "fcgi-program:";
    if (header === "include") {
      include(out, lines, path, withGlobal, walk, depth, problem, (line, message) => out.notes.push(`${file}:${line}: ${message}`));
      continue;
    }
    if (header.startsWith("group:")) {
      readGroup(header.slice("group:".length).trim(), lines, start, walk, at, problem, (line, message) => out.notes.push(`${file}:${line}: ${message}`));
      continue;
    }
    if (program === undefined) {
      if (header !== "supervisord") out.notes.push(`${file}:${start}: [${header}]: ${sectionNote(header)}`);
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
    // The program's own environment = is known to its other keys' %(ENV_X)s too, as in supervisord.
    const ownEnv = lines.findLast((l) => l.key === "environment");
    const known = ownEnv ? { ...withGlobal, ...asRecord(parseEnvironment(expand(ownEnv.value, {}, withGlobal))) } : withGlobal;
    const entries = mapKeys(lines, fcgi ? FCGI_RULES : RULES, program, out, file, path, known, at, problem);
    programDefaults(entries, lines, program, start, at, fcgi);
    const unexpected = lines.findLast((l) => l.key === "autorestart" && /^unexpected$/i.test(l.value));
    if (unexpected) out.notes.push(`${file}:${unexpected.line}: autorestart: unexpected is restart = always in sup: a worker that exits 0 is respawned too, where supervisord would leave it stopped (sup's on-failure is for a one-shot task, whose reload waits for it to finish)`);
    out.entries.push(...entries);
  }
}

/**
 * Where supervisord's way differs from sup's default: a reload stops the old
 * process before the new one starts, as `supervisorctl restart` does (the
 * program binds its own port, so a new one beside the old could not), but
 * for an [fcgi-program:x], whose socket sup holds; %(process_num) in the
 * command or environment makes the command per worker, and an fcgi
 * program's socket (sup's fd 3) is its fd 0 (supervisord-procnum.ts).
 */
function programDefaults(entries: SupervisordEntry[], lines: Line[], program: string, start: number, at: (line: number) => { where?: string }, fcgi: boolean) {
  if (!fcgi) entries.push({ key: "reload-strategy", value: "stop-first", line: start, ...at(start), program });
  const command = entries.find((e) => e.key === "command");
  const envEntry = entries.find((e) => e.key === "env");
  const perWorkerEnv = ((envEntry?.value as string[] | undefined) ?? []).filter(usesProcessNum);
  if (!command || (!fcgi && !usesProcessNum(String(command.value)) && perWorkerEnv.length === 0)) return;
  const numprocsStart = Number(lines.findLast((l) => l.key === "numprocs_start")?.value ?? 0) || 0;
  command.value = [perWorkerShell(String(command.value), perWorkerEnv, numprocsStart, fcgi)];
  entries.push({ key: "shell", value: true, line: command.line, where: command.where, program });
  if (envEntry) envEntry.value = (envEntry.value as string[]).filter((kv) => !usesProcessNum(kv));
}

function include(out: SupervisordRead, lines: Line[], path: string, env: Record<string, string | undefined>, walk: Walk, depth: number, problem: (line: number, message: string) => void, note: (line: number, message: string) => void) {
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
      if (matches.length === 0) note(l.line, `[include] ${abs}: no file matches (supervisord warns of it too)`);
      for (const f of matches) {
        // supervisord reads a file once whatever includes it again (its sections would merge into themselves).
        if (walk.seen.has(realpathOr(f))) {
          note(l.line, `[include] ${relative(dirname(walk.top), f) || f}: already read, not read again`);
          continue;
        }
        walk.seen.add(realpathOr(f));
        try {
          readInto(out, readConfigText(f, f), f, env, walk, depth + 1);
        } catch (e) {
          problem(l.line, `[include] ${(e as Error).message}`);
        }
      }
    }
  }
}

/**
 * [group:x] programs = a,b: each listed program gets group = x, so `sup
 * stop|start|restart|reload x` (or x:*, x:a) acts on them as supervisorctl
 * does. Its priority is supervisord's start order, which sup takes from
 * depends-on. The members are checked once every file is read.
 */
function readGroup(name: string, lines: Line[], start: number, walk: Walk, at: (line: number) => { where?: string }, problem: (line: number, message: string) => void, note: (line: number, message: string) => void) {
  if (!/^[\w.-]+$/.test(name)) return problem(start, `[group:${name}]: a group name is letters, digits, "_", "-" and "."`);
  const programs = lines.findLast((l) => l.key === "programs");
  if (!programs) return problem(start, `[group:${name}]: no programs = line; list its programs (programs = web,worker)`);
  for (const l of lines) if (l.key !== "programs") note(l.line, `[group:${name}] ${l.key}: ${l.key === "priority" ? "supervisord's start order: sup starts programs in depends-on order" : "a supervisord setting sup has no use for"}`);
  for (const member of programs.value.split(",").map((m) => m.trim()).filter(Boolean)) walk.groups.push({ name, member, line: programs.line, ...at(programs.line) });
}

function sectionNote(header: string): string {
  if (header.startsWith("eventlistener:")) return "sup has no event protocol for it to listen to: left out (for a program whose exit should stop everything, sup has on-exit = stop-all)";
  return "supervisord's own server and control settings: sup has its control socket and sup status";
}

/** Every key supervisord reads in a [program:x] section (the rest it ignores; sup says so). */
const KNOWN = new Set(Object.keys(FCGI_RULES));

function mapKeys(lines: Line[], rules: Record<string, Rule>, program: string | undefined, out: SupervisordRead, file: string, path: string, env: Record<string, string | undefined>, at: (line: number) => { where?: string }, problem: (line: number, message: string) => void): SupervisordEntry[] {
  const entries: SupervisordEntry[] = [];
  const numprocs = lines.findLast((l) => l.key === "numprocs")?.value ?? "1";
  const numprocsStart = lines.findLast((l) => l.key === "numprocs_start")?.value ?? "0";
  for (const l of lines) {
    const rule = rules[l.key];
    const where = `${file}:${l.line}`;
    if (!rule) {
      if (program === undefined) out.notes.push(`${where}: ${l.key}: a supervisord setting sup has no use for`);
      else {
        const near = nearest(l.key, KNOWN);
        problem(l.line, `${l.key}: not a supervisord program option${near ? ` (did you mean ${near}?)` : ""}; supervisord ignores it without a word, sup stops here: fix or remove it`);
      }
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
    // %(process_num) stays for the command and environment (made per worker later); elsewhere it is the first process's.
    const perWorker = l.key === "command" || l.key === "environment";
    const vars: Record<string, string> = { here: dirname(path), host_node_name: hostname(), ...(program === undefined ? {} : { program_name: program, group_name: program, numprocs, ...(perWorker ? {} : { process_num: numprocsStart }) }) };
    const unknown = [...l.value.matchAll(/%\((\w+)\)[-#0 +]*\d*[sd]/g)].map((m) => m[1]!).find((n) => !n.startsWith("ENV_") && vars[n] === undefined && !(perWorker && n === "process_num"));
    if (unknown) {
      problem(l.line, `${l.key}: %(${unknown})s: supervisord has no such name here (it refuses the file too); it knows ${Object.keys(vars).map((k) => `%(${k})s`).join(", ")} and %(ENV_X)s; write %% for a literal %`);
      continue;
    }
    const value = expand(l.value, vars, env);
    entries.push({ key: rule.to, value: rule.as ? rule.as(value) : value, line: l.line, ...at(l.line), program });
  }
  return entries;
}

/** %(name)s, %(name)d and %(name)02d as supervisor expands them (Python's %), %% as %. A name not given stays as written. */
function expand(v: string, vars: Record<string, string>, env: Record<string, string | undefined>): string {
  return v.replace(/%%|%\((\w+)\)([-#0 +]*\d*)([sd])/g, (whole, name?: string, flags?: string, conv?: string) => {
    if (whole === "%%") return "%";
    const value = name!.startsWith("ENV_") ? env[name!.slice(4)] : vars[name!];
    if (value === undefined) return whole;
    const width = /(\d+)$/.exec(flags ?? "")?.[1];
    if (conv === "d" && width && /^-?\d+$/.test(value)) return value.padStart(Number(width), flags!.includes("0") && !flags!.includes("-") ? "0" : " ");
    return value;
  });
}

/** KEY=VALUE pairs as a record (for %(ENV_X)s). */
const asRecord = (pairs: string[]) => Object.fromEntries(pairs.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));

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

type Line = { key: string; value: string; line: number };

/**
 * Sections with their lines, as Python's ConfigParser reads them with
 * supervisor's settings: `;` and `#` comments (a whole line, or after a
 * blank), a line indented deeper than its key continues the value, a
 * section given twice is one (strict = False: the later key wins).
 */
function parse(text: string): Map<string, { line: number; lines: Line[] }> {
  const sections = new Map<string, { line: number; lines: Line[] }>();
  let current: Line[] | undefined;
  let last: Line | undefined;
  let keyIndent = 0;
  text.replace(/^\uFEFF/, "").split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (/^\s*([;#]|$)/.test(raw)) return;
    const value = raw.replace(/\s[;#].*$/, "");
    const indent = /^\s*/.exec(raw)![0].length;
    if (last && indent > keyIndent) {
      last.value += `\n${value.trim()}`;
      return;
    }
    const header = /^\[(.+)\]/.exec(value.trim());
    if (header) {
      const name = header[1]!.trim();
      const seen = sections.get(name);
      current = seen?.lines ?? [];
      if (!seen) sections.set(name, { line, lines: current });
      last = undefined;
      return;
    }
    const m = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(value.trim());
    if (!m || !current) return;
    last = { key: m[1]!.trim().toLowerCase(), value: m[2]!.trim(), line };
    keyIndent = indent;
    current.push(last);
  });
  return sections;
}
