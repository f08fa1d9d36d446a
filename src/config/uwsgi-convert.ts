// A uWSGI value as uWSGI's handler reads it, turned into sup's. uWSGI has no
// comments after a value: `processes = 4 ; four` is the text "4 ; four",
// which its number handler (atoi) reads as 4 and its text handlers keep
// whole. sup reads numbers and flags the same way, and refuses text that
// carries such a comment, since the path or name would be wrong under uWSGI too.
import type { Conversion } from "./uwsgi-options.ts";

export interface Converted {
  value?: unknown;
  /** Why the line is refused (an error). */
  error?: string;
  /** What the user should know (the line is still taken). */
  note?: string;
  /** Why this value of the option is not in sup yet (the line is ignored). */
  notYet?: string;
}

/** core/uwsgi.c uwsgi_opt_true: anything but false/off/no (any case) and "0" is true. */
export const uwsgiBool = (s: string) => !/^(false|off|no)$/i.test(s) && s !== "0";

const COMMENT = /\s[#;]/;
const commentError = (v: string) =>
  `the value is ${JSON.stringify(v)}: uWSGI keeps text after " #" or " ;" as part of the value (it has no comments after a value), so it reads this wrong too; move the comment to a line of its own`;

function int(v: string): Converted {
  const m = /^[ \t\n\v\f\r]*[+-]?\d+/.exec(v);
  if (!m) return { value: 0, note: v === "" ? "no value: uWSGI reads 0" : `${JSON.stringify(v)} is not a number: uWSGI reads 0` };
  const n = Number(m[0]);
  const rest = v.slice(m[0].length).trim();
  return { value: n, note: rest === "" ? undefined : `uWSGI reads ${n} and ignores ${JSON.stringify(rest)}; so does sup` };
}

/**
 * A uWSGI address as a sup listen address: HOST:PORT, :PORT and [IPV6]:PORT
 * stay, a path (no colon) is a unix socket, relative to the start directory
 * as uWSGI binds it. An abstract socket (@name) or an fd (=N) has no sup form.
 */
function address(v: string): Converted {
  if (COMMENT.test(v)) return { error: commentError(v) };
  if (v.startsWith("@")) return { error: `${v} is an abstract unix socket; sup binds sockets that are files: use a path` };
  if (v.startsWith("=")) return { error: `${v} is an inherited fd; sup binds its sockets itself (or takes systemd's: run it socket-activated)` };
  const addr = v.split(",")[0]!; // uWSGI's "ADDR,modifier" forms
  if (!addr.includes(":")) return { value: `unix:${addr}` };
  if (!/^(?:\[[0-9A-Fa-f:.]+\]|[^:[\]\s]*):\d{1,5}$/.test(addr)) return { error: `${JSON.stringify(v)} is not an address sup can bind: use HOST:PORT, :PORT or a unix socket path${/\$\(/.test(v) ? " (an environment variable in it is not set)" : ""}` };
  return { value: addr.startsWith("*:") ? addr.slice(1) : addr };
}

/**
 * An attached daemon's command: attach-daemon's value is the command line;
 * attach-daemon2's is uWSGI's key=value list (core/daemons.c), whose `cmd`
 * is; smart-attach-daemon's starts with the pidfile it watches.
 */
function daemon(as: Conversion, v: string): Converted {
  let command = v.trim();
  const kv = /^(?:[\w-]+=[^,]*,)*[\w-]+=/.test(command) && /(^|,)cmd=/.test(command);
  if (kv) command = /(?:^|,)cmd=(.*?)(?:,[\w-]+=|$)/.exec(command)?.[1] ?? "";
  else if (as === "daemon-smart") command = command.replace(/^\S+\s+/, "");
  if (command === "") return { error: "no command" };
  return { value: { command, control: as === "daemon-control" } };
}

/**
 * A logger as the log file it writes: `file:PATH` and the logfile plugin's
 * `file:logfile=PATH,maxsize=BYTES` (uWSGI's log, all of it, to that file,
 * as logto). A named logger (`NAME file:PATH`) gets only what log-route
 * sends it, and syslog, socket, redis … are other plugins: not sup's yet.
 */
function logger(v: string): Converted {
  const file = /^file:(.+)$/.exec(v.trim())?.[1];
  if (file === undefined) {
    return /^[\w-]+\s+\S/.test(v.trim())
      ? { notYet: "a logger named for log-route: sup has no log routing yet (an unnamed file:PATH logger is sup's logto)" }
      : { notYet: "sup writes its log to stderr or to one logto file (an unnamed file:PATH logger is that file); this logger is not there yet" };
  }
  if (!file.startsWith("logfile=")) return COMMENT.test(file) ? { error: commentError(v) } : { value: { path: file } };
  const kv = Object.fromEntries(file.split(",").map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]));
  const maxsize = kv.maxsize === undefined ? undefined : Number(int(kv.maxsize).value);
  return { value: { path: kv.logfile ?? "", ...(maxsize ? { maxsize } : {}) } };
}

export function convert(as: Conversion, v: string): Converted {
  switch (as) {
    case "daemon":
    case "daemon-control":
    case "daemon-smart":
      return daemon(as, v);
    case "int":
      return int(v);
    case "bool":
      return { value: uwsgiBool(v) };
    case "address":
    case "socket":
      return address(v);
    case "mode": {
      const mode = v === "" ? "666" : v;
      return /^[0-7]{3,4}$/.test(mode) ? { value: mode } : { error: `${JSON.stringify(v)} is not an octal permission such as 660` };
    }
    case "logger":
      return logger(v);
    case "env":
      if (COMMENT.test(v)) return { error: commentError(v) };
      if (!/^[^=]+=/.test(v)) return { error: `${JSON.stringify(v)}: uWSGI unsets a variable given without "="; sup cannot: unset it before starting sup` };
      return { value: v };
    case "mib": {
      // log-maxsize: uWSGI's bytes, sup's MB (MiB).
      const c = int(v);
      return { ...c, value: Number(c.value) / 1048576 };
    }
    case "text":
    case "owner":
    case "user":
      if (COMMENT.test(v)) return { error: commentError(v) };
      if (v === "") return { error: "no value" };
      return { value: v };
  }
}
