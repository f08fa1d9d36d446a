// uWSGI's configuration logic (core/config.c uwsgi_logic_opt_*): `if-env =
// VAR` … `endif`, `for = a b c` … `endfor`. While a block is open, every
// key read goes to its test instead of being set: a true `if-` sets it once
// (with %(_) the tested value), a `for` once per item (%(_) the item). The
// test runs again for each key, as in uWSGI.
import { fromBytes, toBytes } from "./uwsgi-magic.ts";
import { firstValue, type PassOpt } from "./uwsgi-passes.ts";

/** What the tests need from the machine (byte-string paths and values). */
export interface LogicHost {
  env: Record<string, string | undefined>;
  hostname: string;
  /** access(R_OK) */
  exists(path: string): boolean;
  isFile(path: string): boolean;
  isDir(path: string): boolean;
  /** glob(3) with GLOB_MARK|GLOB_NOCHECK: sorted matches, directories with a "/", the pattern itself when none. */
  glob(pattern: string): string[];
  /** The lines of a file, or undefined when it cannot be read. */
  lines(path: string): string[] | undefined;
  /** Plugins loaded (`plugin = …` lines so far, and sup's stand-ins). */
  plugins: Set<string>;
}

/** One item per time the block's keys are set, or null when the test is false. */
type Test = (arg: string, opts: PassOpt[], host: LogicHost) => (string | undefined)[] | null;

/** `VAR` or `VAR=VALUE` tests (if-env, if-opt): the value found, and whether it counts. */
function lookup(arg: string, get: (name: string) => string | undefined, negate: boolean): (string | undefined)[] | null {
  const eq = arg.indexOf("=");
  const name = eq < 0 ? arg : arg.slice(0, eq);
  const found = get(name);
  const matches = found !== undefined && (eq < 0 || found === arg.slice(eq + 1));
  if (!negate) return matches ? [found] : null;
  // if-not-env/if-not-opt pass the value on, which is only there when VAR=VALUE did not match.
  return matches ? null : [found];
}

const env = (host: LogicHost) => (name: string) => {
  const v = host.env[fromBytes(name)];
  return v === undefined ? undefined : toBytes(v);
};
const path = (test: (p: string, host: LogicHost) => boolean, negate: boolean): Test => (arg, _o, host) => (test(arg, host) !== negate ? [arg] : null);

/** The tests by option name, aliases included (core/uwsgi.c option table). */
const TESTS: Record<string, Test> = {
  for: (arg) => arg.split(" ").filter((t) => t !== ""),
  "for-glob": (arg, _o, host) => host.glob(arg),
  "for-times": (arg) => Array.from({ length: Math.max(0, parseInt(arg, 10) || 0) }, (_, i) => String(i + 1)),
  "for-readline": (arg, _o, host) => host.lines(arg) ?? [],
  "if-env": (arg, _o, host) => lookup(arg, env(host), false),
  ifenv: (arg, _o, host) => lookup(arg, env(host), false),
  "if-not-env": (arg, _o, host) => lookup(arg, env(host), true),
  "if-opt": (arg, opts) => lookup(arg, (n) => firstValue(opts, n), false),
  "if-not-opt": (arg, opts) => lookup(arg, (n) => firstValue(opts, n), true),
  "if-exists": path((p, h) => h.exists(p), false),
  ifexists: path((p, h) => h.exists(p), false),
  "if-not-exists": path((p, h) => h.exists(p), true),
  "if-file": path((p, h) => h.isFile(p), false),
  "if-not-file": path((p, h) => h.isFile(p), true),
  "if-dir": path((p, h) => h.isDir(p), false),
  ifdir: path((p, h) => h.isDir(p), false),
  "if-directory": path((p, h) => h.isDir(p), false),
  "if-not-dir": path((p, h) => h.isDir(p), true),
  "if-hostname": (arg, _o, host) => (arg === toBytes(host.hostname) ? [arg] : null),
  "if-not-hostname": (arg, _o, host) => (arg !== toBytes(host.hostname) ? [arg] : null),
  "if-hostname-match": (arg, _o, host) => (safeRegExp(arg)?.test(host.hostname) ? [arg] : null),
  "if-not-hostname-match": (arg, _o, host) => (safeRegExp(arg)?.test(host.hostname) ? null : [arg]),
  "if-plugin": (arg, _o, host) => (host.plugins.has(fromBytes(arg)) ? [arg] : null),
  ifplugin: (arg, _o, host) => (host.plugins.has(fromBytes(arg)) ? [arg] : null),
  "if-not-plugin": (arg, _o, host) => (host.plugins.has(fromBytes(arg)) ? null : [arg]),
  // sup's start is never a uWSGI reload.
  "if-reload": () => null,
  "if-not-reload": () => [undefined],
};

function safeRegExp(src: string): RegExp | undefined {
  try {
    return new RegExp(fromBytes(src));
  } catch {
    return undefined;
  }
}

export interface Logic {
  name: string;
  arg: string;
}

/** The block a key opens, if it is one of the if-/for- options. */
export function startLogic(key: string, arg: string): Logic | undefined {
  return key in TESTS ? { name: key, arg } : undefined;
}

/** Runs the block's test for one key read inside it; `set` adds the key (with %(_) replaced). */
export function runLogic(logic: Logic, key: string, value: string, opts: PassOpt[], host: LogicHost, set: (key: string, value: string) => void): void {
  const items = TESTS[logic.name]!(logic.arg, opts, host);
  for (const item of items ?? []) set(key, item === undefined ? value : value.replaceAll("%(_)", item));
}
