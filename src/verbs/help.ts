// `sup --help`, `sup VERB --help` (or -h), `sup help [VERB]`. The command
// tree is citty's (defineCommand: every verb with its meta and switches),
// and a verb's page is citty's renderUsage with sup's examples after it.
// The options come from the schema (src/config/schema.ts), the one source.
// citty cannot do three things sup needs, so sup does them: parse the
// options (repeated list flags and every typo refused, DESIGN.md §7:
// src/verbs/cli.ts), group the global options by what they are for
// (renderUsage lists one flat OPTIONS table), and end a page with examples.
import { OPTIONS, type OptionGroup, type OptionSpec } from "../config/schema.ts";

interface Arg {
  type: "string" | "boolean" | "positional";
  description: string;
  alias?: string[];
  valueHint?: string;
  default?: string;
  required?: boolean;
}

interface VerbDoc {
  /** One line, for the list of verbs. */
  summary: string;
  description: string;
  args: Record<string, Arg>;
  /** Takes every option of `sup --help` too (the config layers it reads). */
  options?: true;
  examples: string[];
}

const pidfile: Arg = { type: "string", valueHint: "file", description: "The master's pidfile (the master must run with --pidfile)." };
const program = (required: boolean): Arg => ({ type: "positional", required, description: required ? "The program (a [programs.NAME] or Procfile line), or a group of them (group = NAME; GROUP:* and GROUP:NAME too)." : "Only this program, or group of programs (default: every program)." });

/** The verbs, as data: what each does, its own switches, examples. */
export const VERBS: Record<string, VerbDoc> = {
  reload: {
    summary: "ask a running master to reload",
    description: "Ask a running master to reload: a new generation, the old one retired once the new one is ready.",
    args: {
      name: program(false),
      pidfile,
      rolling: { type: "boolean", description: "One worker at a time (as USR2) instead of all at once (HUP)." },
      wait: { type: "boolean", description: "Wait for the outcome: exit 0 when the new generation serves, 1 when it was rolled back." },
    },
    examples: ["sup reload --pidfile app.pid --wait", "sup reload --pidfile app.pid --rolling", "sup --reload app.pid"],
  },
  stop: {
    summary: "stop a running master, gracefully or at once",
    description: "Stop a running master: gracefully (workers get their stop signal, then SIGKILL after the mercy), or at once.",
    args: { name: program(false), pidfile, now: { type: "boolean", description: "SIGKILL every worker group at once (as QUIT); the whole master only." } },
    examples: ["sup stop --pidfile app.pid", "sup stop --pidfile app.pid --now", "sup stop worker --pidfile app.pid", "sup --stop app.pid"],
  },
  start: {
    summary: "start a stopped (or finished) program",
    description: "Start a program of a running master that was stopped (sup stop NAME) or has finished.",
    args: { name: program(true), pidfile },
    examples: ["sup start worker --pidfile app.pid"],
  },
  restart: {
    summary: "stop a program's workers, then start it again",
    description: "Stop every worker of one program of a running master, then start the program again (a pause in its service; reload keeps serving).",
    args: { name: program(true), pidfile },
    examples: ["sup restart worker --pidfile app.pid"],
  },
  status: {
    summary: "list the workers of a running master",
    description: "The workers of a running master: id, pid, generation, state, uptime, restarts, RSS.",
    args: { pidfile, json: { type: "boolean", description: "One JSON object, for scripts." } },
    examples: ["sup status --pidfile app.pid", "sup status --pidfile app.pid --json"],
  },
  top: {
    summary: "the workers of a running master, live",
    description: "The workers of a running master, refreshed every second: program, id, pid, generation, state, uptime, CPU %, RSS of the group, restarts, and each program's last reload. Keys c m i u r sort; q or Ctrl-C quits. Off a terminal: one plain table.",
    args: { pidfile },
    examples: ["sup top --pidfile app.pid", "sup top --pidfile app.pid > workers.txt"],
  },
  "reopen-logs": {
    summary: "reopen the --logto file (after logrotate moved it)",
    description: "Ask a running master to reopen its --logto file, as logrotate's postrotate does (USR1 does it too, then logs the status table).",
    args: { pidfile },
    examples: ["sup reopen-logs --pidfile app.pid"],
  },
  config: {
    summary: "the effective config, and where each value came from",
    description: "The effective config (every layer: defaults, file, its environment section, SUP_* variables, flags), and where each value came from.",
    args: {
      json: { type: "boolean", description: "As JSON instead of TOML." },
      explain: { type: "string", valueHint: "key", description: "One key: its value and the layer (file:line) that set it." },
    },
    options: true,
    examples: ["sup config", "sup config --ini uwsgi.ini --explain processes", "sup config -c sup.toml --json"],
  },
  check: {
    summary: "check the config as the master would: every problem, exit 0 or 2",
    description: "Check the config as the master would before it starts anything: every problem at once, exit 0 or 2. For a [uwsgi] section, every key line: errors, decisions, not yet in sup, no-ops.",
    args: {},
    options: true,
    examples: ["sup check --ini uwsgi.ini", "sup check -c sup.toml -- gunicorn --preload app:app"],
  },
  migrate: {
    summary: "a uwsgi.ini as a sup config (sup migrate uwsgi FILE)",
    description: "The sup config a uwsgi.ini becomes, each key saying where it came from; the lines left out, and why, as comments (TODO for a decision).",
    args: {
      from: { type: "positional", description: "What to migrate from: uwsgi." },
      file: { type: "positional", description: "The file, FILE[:SECTION] (default section [uwsgi])." },
      format: { type: "string", valueHint: "toml|ini|json", default: "toml", description: "The output: a sup config, or JSON with every key line's verdict (mapped, no-op, decide, unsupported, error)." },
    },
    examples: ["sup migrate uwsgi uwsgi.ini > sup.toml", "sup migrate uwsgi uwsgi.ini --format json"],
  },
  "systemd-unit": {
    summary: "print a systemd unit that runs this master",
    description: "Print a systemd unit (Type=notify) that runs this master with these options and command.",
    args: {},
    options: true,
    examples: ["sup systemd-unit -p 4 --listen 127.0.0.1:8000 --ready notify -- gunicorn --preload proj.wsgi > /etc/systemd/system/app.service"],
  },
  help: {
    summary: "this help, or a verb's",
    description: "This help, or a verb's.",
    args: { verb: { type: "positional", required: false, description: "The verb to explain." } },
    examples: ["sup help reload", "sup reload --help"],
  },
};

const GROUPS: [OptionGroup, string][] = [
  ["workers", "Workers"],
  ["sockets", "Sockets"],
  ["readiness", "Readiness"],
  ["health", "Health and recycling"],
  ["reloads", "Reloads and triggers"],
  ["control", "Control"],
  ["logging", "Logging"],
  ["config", "Config files"],
];

const EXAMPLES = [
  "sup -p 4 --listen 127.0.0.1:8000 --ready notify -- gunicorn --preload proj.wsgi",
  "sup -p 4 --listen 127.0.0.1:8000 --ready notify --pidfile app.pid -- python3 app.py",
  "sup --ini uwsgi.ini                   # a uwsgi.ini as it is: the app under gunicorn",
  "sup check --ini uwsgi.ini             # every problem of it at once",
  "kill -HUP $(cat app.pid)              # reload; or: sup reload --pidfile app.pid --wait",
];

const hint = (o: OptionSpec) => (o.type === "boolean" ? "" : o.type === "enum" ? ` ${o.values!.join("|")}` : o.type === "int" || o.type === "number" ? " N" : o.type === "list" ? " X" : " V");
const defaultText = (o: OptionSpec) => {
  if (o.aliasOf) return ` (same as --${o.aliasOf})`;
  if (o.default === undefined || o.default === "" || (Array.isArray(o.default) && o.default.length === 0) || (typeof o.default === "object" && !Array.isArray(o.default))) return "";
  return ` (default ${o.type === "list" ? JSON.stringify(o.default) : String(o.default)})`;
};
const repeatable = (o: OptionSpec) => (o.type === "list" && !o.help.includes("repeatable") ? " Repeatable." : "");

/** The options of `group`, one line each: flag, value, what it does, its default. */
function optionLines(group: OptionGroup): string[] {
  return (OPTIONS as readonly OptionSpec[]).filter((o) => o.group === group && o.type !== "deps").map((o) => {
    const flag = `  ${o.short ? `-${o.short}, ` : "    "}--${o.name}${hint(o)}`;
    const text = `${o.help}${repeatable(o)}${defaultText(o)}`;
    // A long flag (an enum's values) gets the text on the next line.
    return flag.length > 34 ? `${flag}\n${" ".repeat(37)}${wrap(text, 100 - 37, 37)}` : `${flag.padEnd(36)} ${wrap(text, 100 - 37, 37)}`;
  });
}

type Command = Parameters<typeof import("citty").renderUsage>[0];

/** citty's command tree: the root with a command per verb (its summary), and each verb's own page (its description). */
async function commands() {
  const { defineCommand } = await import("citty");
  // A verb that reads the config lists the options that name the file; the rest are on sup --help.
  const fileOptions: Record<string, Arg> = Object.fromEntries(
    (OPTIONS as readonly OptionSpec[]).filter((o) => o.group === "config").map((o) => [o.name, { type: "string", description: o.help, valueHint: o.name === "env-name" ? "name" : "file", ...(o.short ? { alias: [o.short] } : {}) } satisfies Arg]),
  );
  const define = (name: string, description: string, args: Record<string, Arg>) =>
    defineCommand({ meta: { name, description }, args: (VERBS[name]?.options ? { ...args, ...fileOptions } : args) as never }) as unknown as Command;
  const tree = Object.fromEntries(Object.entries(VERBS).map(([name, v]) => [name, define(name, v.summary, v.args)]));
  const pages = Object.fromEntries(Object.entries(VERBS).map(([name, v]) => [name, define(name, v.description, v.args)]));
  const root = defineCommand({ meta: { name: "sup", description: "run a command as N supervised workers, reload them gracefully" }, subCommands: tree as never }) as unknown as Command;
  return { root, pages };
}

/** Words of `text` on lines of at most `width` characters, joined with a newline and `indent` blanks. */
function wrap(text: string, width: number, indent: number): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line].join(`\n${" ".repeat(indent)}`);
}

/** citty pads its columns to the longest line: no trailing blanks here, nor blank lines at the end. */
const trim = (text: string) => text.split("\n").map((l) => l.trimEnd()).join("\n").trimEnd();

/** citty colours its usage unless told not to; text piped or captured stays plain. */
function plainUnlessTerminal() {
  if (!process.stdout.isTTY) process.env.NO_COLOR = "1";
}

export async function helpText(verb?: string): Promise<string> {
  plainUnlessTerminal();
  const { renderUsage } = await import("citty");
  const { root, pages } = await commands();
  const doc = verb !== undefined ? VERBS[verb] : undefined;
  if (verb !== undefined && doc) {
    const usage = trim(await renderUsage(pages[verb]!, root));
    const more = doc.options ? ["", "", "It also takes every option of sup --help (workers, sockets, readiness, reloads, …):", "they are the top config layer, as when the master runs."] : [];
    return `${usage}${more.join("\n")}\n\nEXAMPLES\n\n${doc.examples.map((e) => `  ${e}`).join("\n")}\n`;
  }
  const usage = trim(await renderUsage(root));
  const groups = GROUPS.flatMap(([g, title]) => ["", `${title.toUpperCase()}`, "", ...optionLines(g)]);
  return `${usage}

RUN THE MASTER

  sup [OPTIONS] [--] COMMAND [ARG...]    run COMMAND as N workers under this master
  sup --reload PIDFILE | --stop PIDFILE  uWSGI's spellings of sup reload / sup stop
  sup --version | -h, --help

Every option is also a config key (sup.toml, sup.ini [sup], or a uwsgi.ini's
[uwsgi]: docs/uwsgi.md) and a SUP_<NAME> variable.
${groups.join("\n")}

SIGNALS

  HUP reload, USR2 rolling reload, TERM/INT graceful stop, QUIT immediate stop,
  USR1 reopen the log file and log the status, TTIN/TTOU one worker more/fewer (SIGNALS.md).

EXAMPLES

${EXAMPLES.map((e) => `  ${e}`).join("\n")}
`;
}
