// Which paths the autoreload poller skips: built-in editor/VCS noise, the
// project's .gitignore files, and the user's --autoreload-ignore globs; and
// which files count at all (--autoreload-include).
//
// Implements the common subset of gitignore(5): `*`, `?`, `[...]`, `**`,
// a leading or middle `/` anchors the pattern to the .gitignore's directory,
// a trailing `/` matches directories only, `!` re-includes, `\` escapes,
// `#` comments. The last matching rule wins. Like git, a file inside an
// ignored directory cannot be re-included (the walk never enters it).

/** One gitignore line, compiled. */
export interface Rule {
  readonly base: string; // directory of the .gitignore, relative to the watch root ("" = root)
  readonly re: RegExp;
  readonly negate: boolean;
  readonly dirOnly: boolean;
  readonly anchored: boolean; // matches the path below base, not just the name
}

/** Ignored unless re-included (`--autoreload-ignore '!*.pid'`), the one list
 * docs/config.md shows ("What autoreload watches"): VCS dirs, dependencies
 * and their caches, virtualenvs, bytecode, tool caches, what a running app
 * writes (logs and their rotations by logrotate or Python's handlers:
 * app.log.1, app.log.2.gz, app.log.2024-01-01; pidfiles, unix sockets;
 * SQLite and other database files with their -journal/-wal/-shm companions:
 * a Django project's db.sqlite3 and its log would reload it forever), editor
 * swap/backup/lock files (vim writes and deletes "4913" to test a directory). */
export const DEFAULT_IGNORES = [
  ".git", ".hg", ".svn", "node_modules", "**/node_modules/.cache", "__pycache__", "*.pyc",
  ".venv", "venv", ".tox", ".mypy_cache", ".pytest_cache", ".ruff_cache",
  "*.log", "*.log.*", "*.pid", "*.sock",
  "*.sqlite", "*.sqlite3", "*.db", "*-journal", "*-wal", "*-shm",
  "*.swp", "*.swo", "*.swx", "*~", ".#*", "\\#*#", "4913", "*.tmp",
];

const escapeChar = (c: string) => (/[\\^$.*+?()[\]{}|/-]/.test(c) ? "\\" + c : c);

/** A glob as the source of a RegExp matching a whole path ("/"-separated). */
export function globToRegExpSource(glob: string): string {
  let re = "";
  let i = 0;
  while (i < glob.length) {
    const c = glob[i]!;
    if (c === "*") {
      const segmentStart = i === 0 || glob[i - 1] === "/";
      if (glob[i + 1] === "*" && segmentStart && glob[i + 2] === "/") {
        re += "(?:[^/]*/)*"; // "**/": zero or more directories
        i += 3;
        continue;
      }
      if (glob[i + 1] === "*" && segmentStart && i + 2 === glob.length) {
        re += ".*"; // trailing "**": everything below
        i += 2;
        continue;
      }
      while (glob[i] === "*") i++; // "*" or a "**" that is not a whole segment
      re += "[^/]*";
      continue;
    }
    if (c === "?") {
      re += "[^/]";
      i++;
      continue;
    }
    if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end > 0) {
        let body = glob.slice(i + 1, end).replace(/\\/g, "\\\\");
        if (body[0] === "!") body = "^" + body.slice(1);
        re += `[${body}]`;
        i = end + 1;
        continue;
      }
    }
    if (c === "\\" && i + 1 < glob.length) {
      re += escapeChar(glob[i + 1]!);
      i += 2;
      continue;
    }
    re += escapeChar(c);
    i++;
  }
  return re;
}

/** One gitignore line → a Rule, or null for blanks and comments. */
export function parseRule(line: string, base = ""): Rule | null {
  let p = line.replace(/\r$/, "");
  if (!p.endsWith("\\ ")) p = p.trimEnd(); // trailing spaces count only when escaped
  if (p === "" || p.startsWith("#")) return null;
  let negate = false;
  if (p.startsWith("!")) {
    negate = true;
    p = p.slice(1);
  }
  let dirOnly = false;
  if (p.endsWith("/")) {
    dirOnly = true;
    p = p.slice(0, -1);
  }
  const anchored = p.includes("/");
  if (p.startsWith("/")) p = p.slice(1);
  if (p === "") return null;
  return { base, re: new RegExp(`^${globToRegExpSource(p)}$`), negate, dirOnly, anchored };
}

/** The rules of one .gitignore file's text. */
export function parseRules(text: string, base = ""): Rule[] {
  const rules: Rule[] = [];
  for (const line of text.split("\n")) {
    const r = parseRule(line, base);
    if (r) rules.push(r);
  }
  return rules;
}

/** Does `rule` match `rel` (relative to the watch root)? */
function matches(rule: Rule, rel: string, isDir: boolean): boolean {
  if (rule.dirOnly && !isDir) return false;
  let sub = rel;
  if (rule.base !== "") {
    if (!rel.startsWith(rule.base + "/")) return false;
    sub = rel.slice(rule.base.length + 1);
  }
  return rule.re.test(rule.anchored ? sub : sub.slice(sub.lastIndexOf("/") + 1));
}

/** The verdict of the last matching rule of each list, later lists overriding earlier ones; undefined if none matched. */
export function verdict(rules: readonly Rule[], rel: string, isDir: boolean, prior?: boolean): boolean | undefined {
  let ignored = prior;
  for (const r of rules) if (matches(r, rel, isDir)) ignored = !r.negate;
  return ignored;
}

/** True if `rel` is ignored by `rules` (defaults and .gitignore chain) or by the user's globs (which win). */
export function isIgnored(rules: readonly Rule[], user: readonly Rule[], rel: string, isDir: boolean): boolean {
  return verdict(user, rel, isDir, verdict(rules, rel, isDir)) ?? false;
}

/** A predicate for --autoreload-include: a glob without "/" matches the file name, one with "/" the path. No globs: everything counts. */
export function includeFilter(globs: readonly string[]): (rel: string) => boolean {
  const rules = globs.map((g) => parseRule(g)).filter((r): r is Rule => r !== null);
  if (rules.length === 0) return () => true;
  return (rel) => verdict(rules, rel, false) === true;
}
