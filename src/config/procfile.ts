// A Procfile (foreman, honcho, Heroku): one `name: command` line per process
// type. Each becomes a program of one worker, run through /bin/sh -c as
// foreman runs it, with foreman's PORT: PORT of the .env file, else of the
// environment, else 5000 for the first type, then 100 more for each next
// one (foreman's base_port and its spacing), in the Procfile's directory
// (foreman's --root default). The app binds that port itself, so a reload
// stops the old process first (--reload-strategy stop-first); for reloads
// without a pause, let sup hold the socket (`listen`) in a sup.toml.
// Heroku's `release` type runs before the others start (its release phase):
// a one-shot every other type depends on, `completed`.
import { ConfigError } from "./coerce.ts";

export interface ProcfileEntry {
  name: string;
  command: string;
  line: number;
}

/** foreman's default base port; each process type gets 100 more. */
export const PROCFILE_PORT = 5000;
/** Heroku's release phase: the process type that runs first, to completion. */
export const RELEASE = "release";
export const PROCFILE_PORT_STEP = 100;

const LINE = /^([A-Za-z0-9_-]+)[ \t]*:[ \t]*(.*)$/;

/** Parses a Procfile; every malformed line is reported at once (file:line each). */
export function parseProcfile(text: string, name: string): ProcfileEntry[] {
  const out: ProcfileEntry[] = [];
  const problems: string[] = [];
  text.replace(/^\uFEFF/, "").split(/\r?\n/).forEach((raw, i) => {
    const s = raw.trim();
    if (s === "" || s.startsWith("#")) return;
    const m = LINE.exec(s);
    // foreman and Heroku skip such a line without a word; it is most often a command that lost its name.
    if (!m) return void problems.push(`${name}:${i + 1}: expected "name: command" (a name of letters, digits, _ and -), got ${JSON.stringify(s.slice(0, 80))}; foreman would skip this line without a word: name it, or make it a comment with #`);
    if (m[2]!.trim() === "") return void problems.push(`${name}:${i + 1}: process type "${m[1]}" has no command`);
    const first = out.find((e) => e.name === m[1]);
    // foreman runs both lines, Heroku only the last: which one was meant is not sup's guess.
    if (first) return void problems.push(`${name}:${i + 1}: process type "${m[1]}" is defined twice (first at line ${first.line}); foreman would run both, Heroku only the last: rename one (${m[1]}2: …) or remove it`);
    out.push({ name: m[1]!, command: m[2]!.trim(), line: i + 1 });
  });
  if (out.length === 0 && problems.length === 0) problems.push(`${name}: no process types (expected lines like "web: gunicorn app:app")`);
  if (problems.length) throw new ConfigError(problems.join("\n"));
  return out;
}
