// argv → what to do. Options are scanned by hand rather than with citty or
// parseArgs: options may repeat (lists), the command after the options is
// never re-parsed (`sup -p 2 python app.py --port 3` gives python its
// --port), and every typo gets a "did you mean".
import { OPTIONS, SPECS, type OptionSpec } from "../config/schema.ts";
import { ConfigError, coerce } from "../config/coerce.ts";
import { didYouMean } from "../core/suggest.ts";

export type Verb = "run" | "reload" | "stop" | "start" | "restart" | "status" | "config" | "check" | "version" | "help" | "systemd-unit" | "migrate" | "reopen-logs" | "top";

/** A value given on the command line, in the order given. */
export interface FlagValue {
  name: string;
  value: unknown;
  flag: string; // as typed, for messages
}

export interface Cli {
  verb: Verb;
  flags: FlagValue[];
  command: string[];
  // verb switches
  rolling: boolean;
  wait: boolean;
  now: boolean;
  json: boolean;
  explain?: string;
  pidfile?: string; // from --reload F / --stop F / --pidfile F
  /** sup reload|stop|start|restart NAME: the program it is for. */
  program?: string;
  /** sup migrate: what from (uwsgi), the file, and --format; sup help: the verb. */
  args: string[];
  format?: string;
  /** -h or --help: this verb's help (the global help for a plain `sup`). */
  help: boolean;
}

const VERBS = new Set(["reload", "stop", "start", "restart", "status", "config", "check", "help", "version", "systemd-unit", "migrate", "reopen-logs", "top"]);
/** Verbs that take a program name (start and restart need one). */
const PROGRAM_VERBS = new Set<Verb>(["reload", "stop", "start", "restart"]);
const SWITCHES: Record<string, readonly Verb[]> = {
  rolling: ["reload"],
  wait: ["reload"],
  now: ["stop"],
};
const SHORT = new Map<string, OptionSpec>(OPTIONS.filter((o) => "short" in o).map((o) => [(o as OptionSpec).short!, o]));

export class UsageError extends ConfigError {
  override name = "UsageError";
}

export function parseCli(argv: string[]): Cli {
  const cli: Cli = { verb: "run", flags: [], command: [], rolling: false, wait: false, now: false, json: false, args: [], help: false };
  let i = 0;
  if (argv[0] !== undefined && VERBS.has(argv[0])) cli.verb = argv[i++] as Verb;

  while (i < argv.length) {
    const tok = argv[i++]!;
    if (tok === "--") {
      cli.command = argv.slice(i);
      break;
    }
    if (tok === "-h" || tok === "--help") {
      cli.help = true;
      continue;
    }
    if (cli.verb === "help") {
      cli.args.push(tok);
      continue;
    }
    if (cli.verb === "migrate") {
      if (tok === "--format" || tok.startsWith("--format=")) {
        cli.format = tok.includes("=") ? tok.slice(9) : argv[i++];
        if (cli.format === undefined) throw new UsageError("option --format needs a value: toml, ini or json");
      } else if (tok.startsWith("-") && tok !== "-") {
        throw new UsageError(`sup migrate: unknown option ${tok}${didYouMean(tok.replace(/^-+/, ""), ["format", "help"], "--")}`);
      } else {
        cli.args.push(tok);
      }
      continue;
    }
    if (!tok.startsWith("-") || tok === "-") {
      if (PROGRAM_VERBS.has(cli.verb) && cli.program === undefined && /^[\w.-]+(:([\w.-]+|\*))?$/.test(tok)) {
        cli.program = tok;
        continue;
      }
      if (cli.verb !== "run" && cli.verb !== "systemd-unit") throw new UsageError(`sup ${cli.verb}: unexpected argument ${JSON.stringify(tok)}`);
      cli.command = argv.slice(i - 1);
      break;
    }
    let name: string;
    let inline: string | undefined;
    if (tok.startsWith("--")) {
      const eq = tok.indexOf("=");
      name = eq > 0 ? tok.slice(2, eq) : tok.slice(2);
      inline = eq > 0 ? tok.slice(eq + 1) : undefined;
    } else {
      const spec = SHORT.get(tok[1]!);
      if (!spec) throw new UsageError(`unknown option ${tok}; see sup --help`);
      name = spec.name;
      inline = tok.length > 2 ? tok.slice(2).replace(/^=/, "") : undefined;
    }
    const next = () => {
      if (inline !== undefined) return inline;
      if (i >= argv.length) throw new UsageError(`option ${tok} needs a value`);
      return argv[i++]!;
    };

    // Verb-level switches and the uWSGI spellings.
    if (name === "version") {
      cli.verb = name;
      continue;
    }
    if ((name === "reload" || name === "stop") && cli.verb === "run") {
      cli.verb = name;
      cli.pidfile = next();
      continue;
    }
    if (name in SWITCHES) {
      if (!SWITCHES[name]!.includes(cli.verb)) throw new UsageError(`option --${name} only applies to sup ${SWITCHES[name]!.join("/")}`);
      (cli as unknown as Record<string, boolean>)[name] = true;
      continue;
    }
    if (name === "explain" && cli.verb === "config") {
      cli.explain = next();
      continue;
    }
    // `sup status --json`, `sup config --json`: the output switch, unless a
    // file name follows (`sup config --json sup.json` names the config file).
    if (name === "json" && inline === undefined && (cli.verb === "status" || (cli.verb === "config" && (i >= argv.length || argv[i]!.startsWith("-"))))) {
      cli.json = true;
      continue;
    }
    if (cli.verb === "status" || cli.verb === "reopen-logs" || cli.verb === "top" || PROGRAM_VERBS.has(cli.verb)) {
      if (name !== "pidfile") throw new UsageError(`sup ${cli.verb}: unknown option ${tok}${didYouMean(name, ["pidfile", ...Object.keys(SWITCHES).filter((k) => SWITCHES[k]!.includes(cli.verb))], "--")}`);
      cli.pidfile = next();
      continue;
    }

    let negated = false;
    let spec = SPECS.get(name);
    if (!spec && name.startsWith("no-") && SPECS.get(name.slice(3))?.type === "boolean") {
      spec = SPECS.get(name.slice(3));
      negated = true;
    }
    if (!spec) throw new UsageError(`unknown option --${name}${didYouMean(name, SPECS.keys(), "--")}; see sup --help`);
    const where = `option ${tok}`;
    let value: unknown;
    if (spec.type === "boolean") {
      value = negated ? false : inline === undefined ? true : coerce(spec, inline, where);
    } else {
      value = coerce(spec, next(), where);
    }
    cli.flags.push({ name: spec.aliasOf ?? spec.name, value, flag: tok });
  }
  if (cli.help) return cli;
  if ((cli.verb === "start" || cli.verb === "restart") && cli.program === undefined) throw new UsageError(`sup ${cli.verb} needs the program's name: sup ${cli.verb} NAME [--pidfile F]`);
  if (cli.now && cli.program !== undefined) throw new UsageError("sup stop NAME stops one program gracefully; --now is for stopping the whole master");
  return cli;
}
