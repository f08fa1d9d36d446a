// Every option read from a [uwsgi] section (src/config/uwsgi-read.ts) through
// the table (src/config/uwsgi-options.ts, uwsgi-families.ts): one report per
// key line with its verdict, the sup options the mapped ones become, and the
// parts of the app command (module, callable, home, …) for uwsgi-app.ts.
import { didYouMean, distance, nearest } from "../core/suggest.ts";
import { convert } from "./uwsgi-convert.ts";
import { APP_SERVER } from "./uwsgi-options.ts";
import { ruleFor } from "./uwsgi-families.ts";
import { fromBytes } from "./uwsgi-magic.ts";
import { UWSGI_NAMES } from "./uwsgi-names.ts";
import type { UwsgiRead } from "./uwsgi-read.ts";
import { SPECS } from "./schema.ts";
import { hasApp, type AppSpec } from "./uwsgi-app.ts";

export type KeyVerdict = "mapped" | "no-op" | "decide" | "unsupported" | "error";

export interface KeyReport {
  file: string;
  line: number;
  key: string;
  /** The value as uWSGI reads it. */
  value: string;
  verdict: KeyVerdict;
  /** What it became, why it is dropped, what to decide or what is wrong. */
  message: string;
  /** A decision sup cannot start without (the uwsgi protocol, TLS). */
  blocks?: boolean;
  /** Part of the app command sup builds (module, callable, home, …). */
  app?: boolean;
}

export interface SupEntry {
  key: string;
  value: unknown;
  where: string;
  layer: "file" | "env-section";
  /** The uWSGI lines it comes from: "file:line key = value". */
  from: string[];
}

/** An attached daemon: a program of one worker beside the app (docs/programs.md). */
export interface Daemon {
  name: string;
  command: string;
  /** attach-control-daemon: its exit stops the master. */
  control: boolean;
  where: string;
  from: string;
}

export interface Translation {
  keys: KeyReport[];
  /** attach-daemon lines, each a program beside the app. */
  daemons: Daemon[];
  /** Problems of the reading itself (an include that is missing, a malformed line …). */
  problems: { where: string; message: string; warning?: boolean }[];
  entries: SupEntry[];
  app: AppSpec;
}

const KEY = /^[\w.-]+$/;

/**
 * "did you mean" for a key that is no uWSGI option, only when it looks like
 * a typo: a short name is often a custom variable (`base`, `app`), so it
 * must be one edit away; a longer one may be two (process, vaccum).
 */
function typo(key: string): string {
  const near = nearest(key, Object.keys(UWSGI_NAMES));
  if (!near) return "";
  return key.length > 5 || distance(key, near) <= 1 ? ` (did you mean ${near}?)` : "";
}
/** The conversions whose values are paths, addresses, names or numbers: never a Python format. */
const PLACEHOLDER_AS = new Set(["text", "address", "socket", "user", "owner", "int", "mode"]);
const SPACED = /^[\w.-]+(?:[ \t]+[\w.-]+)+$/;

/**
 * "did you mean" for a key of words: `env LANG = C` meant `env = LANG=C`
 * (its first word an option), `post buffering` meant post-buffering.
 */
function spaced(key: string, value: string): string | undefined {
  if (!SPACED.test(key)) return undefined;
  const [first, ...rest] = key.split(/[ \t]+/);
  if (UWSGI_NAMES[first!] !== undefined) return ` (did you mean ${first} = ${rest.join(" ")}${first === "env" ? "=" : " "}${value}?)`;
  const dashed = key.replace(/[ \t]+/g, "-");
  return UWSGI_NAMES[dashed] !== undefined ? ` (did you mean ${dashed}?)` : undefined;
}
const issueText = (n?: number) => (n ? ` (issue ${n})` : "");

export function translate(read: UwsgiRead): Translation {
  const t: Translation = { keys: [], daemons: [], problems: [], entries: [], app: { pythonpath: [] } };
  for (const p of read.problems) t.problems.push({ where: `${p.file}:${p.line}`, message: p.message, warning: p.severity === "warning" });
  const values = new Map<string, SupEntry>();
  const sockets: KeyReport[] = [];
  let protocol: string | undefined;
  const put = (to: string, value: unknown, where: string, layer: SupEntry["layer"], from: string) => {
    const spec = SPECS.get(to);
    const prev = values.get(to);
    if (spec?.type === "list" && to !== "command") {
      if (prev) {
        (prev.value as unknown[]).push(value);
        prev.from.push(from);
      } else values.set(to, { key: to, value: [value], where, layer, from: [from] });
    } else {
      values.delete(to); // file order by the last line that set it
      values.set(to, { key: to, value, where, layer, from: [from] });
    }
  };

  for (const o of read.opts) {
    const key = fromBytes(o.key);
    const value = fromBytes(o.value);
    const where = `${o.file}:${o.line}`;
    const from = `${where} ${key}${value === "" ? "" : ` = ${value}`}`;
    const report = (verdict: KeyVerdict, message: string, blocks?: boolean) => {
      const r: KeyReport = { file: o.file, line: o.line, key, value, verdict, message, ...(blocks ? { blocks } : {}) };
      t.keys.push(r);
      return r;
    };
    // A key of words (`post buffering = 1`, `env LANG = C`) is a key uWSGI
    // looks up, finds no option of that name and ignores: it goes on as one.
    if (!KEY.test(key) && (o.bare || !SPACED.test(key))) {
      report("error", o.bare || key === "" ? `expected "key = value", got ${JSON.stringify(key || "= " + value)}` : `bad key name ${JSON.stringify(key)}`);
      continue;
    }
    const rule = ruleFor(key);
    // An option only uWSGI's master branch (2.1) has: uWSGI 2.0 ignores it.
    const newer = UWSGI_NAMES[key]?.includes(" 2.1") ? " (an option of uWSGI 2.1: uWSGI 2.0 ignores it)" : "";
    if (!rule) {
      const own = SPECS.get(key);
      if (own && !own.flagOnly) {
        put(own.aliasOf ?? key, value, where, o.layer, from);
        report("mapped", `sup's own option ${key} (uWSGI ignores it)`);
      } else if (read.strict) {
        report("error", `not a uWSGI option: with strict = true uWSGI refuses it${didYouMean(key, Object.keys(UWSGI_NAMES))}`);
      } else if (read.placeholders.has(key) || read.referenced.has(key)) {
        report("no-op", `a placeholder (used as %(${key}))`);
      } else {
        const near = spaced(key, value) ?? typo(key);
        if (near) report("error", `not a uWSGI option${near}; uWSGI ignores it without a word, so what you meant is not set under uWSGI either`);
        else report("no-op", "not a uWSGI option: uWSGI ignores it, and nothing uses it as a placeholder");
      }
      continue;
    }
    // A value sup uses (a mapped option, a part of the app command) must not still say $(VAR).
    const unset = [...value.matchAll(/\$\(([^)]*)\)/g)].map((m) => m[1]!).find((n) => read.unsetEnv.has(n));
    if (unset !== undefined && rule.to !== undefined && (rule.verdict === "mapped" || rule.verdict === "decide")) {
      report("error", `environment variable ${unset} is not set, so uWSGI would read the text "$(${unset})"; set it before starting sup`);
      continue;
    }
    // Nor %(name): a path, an address or a part of the app still saying it
    // (a template's placeholder no line defines) is that text under uWSGI.
    // An env value or a daemon's command may mean Python's %(name)s.
    const literal = PLACEHOLDER_AS.has(rule.as ?? "") && (rule.verdict === "mapped" || rule.verdict === "decide") ? /%\(([\w.-]+)\)/.exec(value)?.[1] : undefined;
    if (literal !== undefined) {
      report("error", `the value still says %(${literal}) after uWSGI's placeholders, so uWSGI would read that text (nothing sets ${literal} where uWSGI looks); set ${literal} = … in the file`);
      continue;
    }
    if (rule.noopWhen?.value.test(value)) {
      report("no-op", rule.noopWhen.why);
      continue;
    }
    const to = rule.to;
    if (rule.verdict === "not-yet") {
      report("unsupported", `not in sup yet${issueText(rule.issue)}: ${rule.why}${newer}`);
      continue;
    }
    const root = key === "mount" ? rootMount(value) : undefined;
    if (root && !hasApp(t.app)) {
      setApp(t.app, root.part, root.value, where);
      report("decide", `the app at the root URL, as ${root.part} = ${root.value} would load it: ${APP_SERVER}`).app = true;
      continue;
    }
    if (!to) {
      report(rule.verdict, `${rule.why}${newer}`, rule.blocks);
      continue;
    }
    if (key === "protocol" || key === "socket-protocol") {
      protocol = value;
      // Another protocol is one of the socket lines only, which stop sup
      // themselves: an emperor's `protocol = uwsgi` (uWSGI's default) beside
      // no socket at all blocks nothing.
      report(value === "http" ? "mapped" : "decide", value === "http" ? `the socket lines speak HTTP: they become listen addresses` : `protocol ${value}: the protocol of the socket lines; only http sockets can be handed to an HTTP server (see socket)`);
      continue;
    }
    const c = convert(rule.as!, value);
    if (c.error !== undefined) {
      report("error", c.error);
      continue;
    }
    if (c.notYet !== undefined) {
      report("unsupported", `not in sup yet${issueText(22)}: ${c.notYet}`);
      continue;
    }
    const note = c.note ? ` (${c.note})` : "";
    if (rule.as === "logger") {
      const l = c.value as { path: string; maxsize?: number };
      put("logto", l.path, where, o.layer, from);
      if (l.maxsize !== undefined) put("log-maxsize", l.maxsize / 1048576, where, o.layer, from);
      report(rule.verdict, `logto = ${JSON.stringify(l.path)}${l.maxsize === undefined ? "" : `, log-maxsize = ${l.maxsize / 1048576}`}: ${rule.why}`);
    } else if (to === "program") {
      const d = c.value as { command: string; control: boolean };
      const name = daemonName(d.command, t.daemons);
      t.daemons.push({ name, command: d.command, control: d.control, where, from });
      report(rule.verdict, `program ${name}: ${rule.why}`);
    } else if (rule.as === "socket") {
      sockets.push(report("decide", rule.why, rule.blocks));
      put("listen", c.value, where, o.layer, from);
    } else if (to.startsWith("app.")) {
      setApp(t.app, to.slice(4), c.value, where);
      report(rule.verdict, `${rule.why}${note}`).app = true;
    } else {
      put(to, c.value, where, o.layer, from);
      report(rule.verdict, `${to} = ${JSON.stringify(c.value)}: ${rule.why}${note}`);
    }
  }
  // `protocol = http` makes the `socket` lines HTTP listeners (core/socket.c).
  if (protocol === "http") {
    for (const s of sockets) Object.assign(s, { verdict: "mapped", message: "an HTTP listener (protocol = http)", blocks: undefined });
  }
  t.entries = [...values.values()];
  return t;
}

/**
 * `mount = /=pkg.app:app`: the one app at the root URL is the app `module`
 * names (uWSGI's first app serves what no mount point claims); a file
 * (.py, .wsgi) or config: (PasteDeploy) as uwsgi_python_mount_app loads it.
 */
function rootMount(value: string): { part: "module" | "wsgi-file" | "paste"; value: string } | undefined {
  const app = /^\/?=(\S+)$/.exec(value)?.[1];
  if (app === undefined) return undefined;
  if (app.startsWith("config:")) return { part: "paste", value: app };
  return /\.(py|wsgi)$/.test(app) ? { part: "wsgi-file", value: app } : { part: "module", value: app };
}

function setApp(app: AppSpec, part: string, value: unknown, where: string): void {
  if (part === "module" || part === "wsgi-file" || part === "paste") app.where ??= where;
  if (part === "pythonpath") app.pythonpath.push(String(value));
  else (app as unknown as Record<string, unknown>)[part] = value;
}

/** Words that only run the command that follows them: the program is named after that. */
const RUNNERS = new Set(["exec", "env", "nice", "nohup", "setsid", "stdbuf", "ionice", "chpst", "sh", "bash", "python", "python3", "node", "bun", "php", "ruby", "perl", "manage", "manage.py"]);

/**
 * A daemon's program name, from its command: the first word that is not a
 * runner (nice, setsid, python, ./manage.py …), an option or a number, as a
 * file name without its extension, plus the subcommand after manage.py
 * ("sendalerts"); made unique, and never "app" (the app's own program).
 */
function daemonName(command: string, taken: Daemon[]): string {
  const words = command.split(/\s+/).filter((w) => w !== "" && !/^[\w]+=/.test(w));
  let base = "daemon";
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const file = (w.split("/").pop() ?? "").replace(/\.(py|sh|js|mjs|rb|pl|php)$/, "");
    if (w.startsWith("-") || /^\d+$/.test(w) || /^\$\(|^%/.test(w)) continue;
    if (RUNNERS.has(file) || RUNNERS.has(w.split("/").pop() ?? "")) continue;
    base = file.replace(/[^\w-]/g, "") || "daemon";
    break;
  }
  let name = base === "app" ? "app-daemon" : base;
  for (let i = 2; taken.some((d) => d.name === name); i++) name = `${base}-${i}`;
  return name;
}
