// `sup migrate uwsgi FILE`: the sup config a uwsgi.ini becomes, as TOML
// (default), INI or JSON. Every key line of the file (and of what it
// includes) is accounted for: a mapped key carries a comment naming its
// line; every other line is listed as a comment, `TODO` for a decision,
// `ERROR` for what sup refuses, with why. JSON gives the same as data: the
// config, and `keys`: {file, line, key, value, verdict} per key line.
import type { AppCommand } from "./uwsgi-app.ts";
import type { KeyReport, SupEntry, Translation } from "./uwsgi-translate.ts";
import { SPECS } from "./schema.ts";

export type MigrateFormat = "toml" | "ini" | "json";

interface Setting {
  key: string;
  value: unknown;
  from: string;
}

/** The sup settings: the mapped entries, and the app command with the keys it needs. */
function settings(t: Translation, app: AppCommand | { error: string } | undefined, problems: string[]): Setting[] {
  const out: Setting[] = t.entries.map((e: SupEntry) => ({ key: e.key, value: e.value, from: e.from.join("; ") }));
  if (app && !("error" in app) && !t.entries.some((e) => e.key === "command")) {
    const where = t.app.where ?? "";
    const processes = out.find((s) => s.key === "processes");
    const workers = processes ? Number(processes.value) : 1;
    if (processes) processes.value = app.processes;
    else out.unshift({ key: "processes", value: app.processes, from: "uWSGI's default, 1" });
    if (processes && app.processes !== workers) processes.from += `: gunicorn --workers ${workers} in command`;
    const parts = t.keys.filter((k) => k.app).map((k) => `${k.key} = ${k.value}`);
    out.push({ key: "command", value: app.argv, from: `${where}: the app command sup builds from ${parts.join(", ")}` });
    if (!out.some((s) => s.key === "ready")) out.push({ key: "ready", value: "notify", from: "gunicorn --preload says READY=1 once the app is imported" });
  } else if (app && "error" in app) {
    problems.push(`${t.app.where ?? ""}: ${app.error}`);
  }
  return out;
}

const line = (k: KeyReport) => `${k.file}:${k.line} ${k.key}${k.value === "" ? "" : ` = ${k.value}`}: ${k.message}`;

function commentLines(t: Translation, problems: string[]): { title: string; lines: string[] }[] {
  const errors = [...t.problems.filter((p) => !p.warning).map((p) => `${p.where}: ${p.message}`), ...problems, ...t.keys.filter((k) => k.verdict === "error").map(line)];
  return [
    { title: "ERROR: sup refuses these; the config above leaves them out", lines: errors },
    { title: "TODO: decide", lines: t.keys.filter((k) => k.verdict === "decide").map(line) },
    { title: "not yet in sup: left out", lines: t.keys.filter((k) => k.verdict === "unsupported").map(line) },
    { title: "no-ops: left out", lines: [...t.keys.filter((k) => k.verdict === "no-op").map(line), ...t.problems.filter((p) => p.warning).map((p) => `${p.where}: ${p.message}`)] },
  ].filter((g) => g.lines.length > 0);
}

const toml = (v: unknown): string => (Array.isArray(v) ? `[${v.map(toml).join(", ")}]` : typeof v === "string" ? JSON.stringify(v) : String(v));

/** One word of a command line as a shell would need it (sup's INI `command` is split like a shell). */
const shellWord = (w: string) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replaceAll("'", `'\\''`)}'`);

function iniLines(s: Setting): string[] {
  if (s.key === "command" && typeof s.value === "string") return [`command = ${s.value}`];
  if (s.key === "command") return [`command = ${(s.value as string[]).map(shellWord).join(" ")}`];
  if (Array.isArray(s.value)) return s.value.map((v) => `${s.key} = ${v}`);
  return [`${s.key} = ${s.value}`];
}

/**
 * With attached daemons the config has programs: the app's own settings go
 * in program "app", what every program shares (the master's files, chdir,
 * env, users, the stop signal) stays at the top, and each daemon is a
 * program of its command, run by /bin/sh -c as uWSGI runs it.
 */
const SHARED = new Set(["pidfile", "log-format", "chdir", "env", "uid", "gid", "stop-signal", "worker-reload-mercy", "backoff-max", "give-up-after"]);
/** Shared, or the master's alone (stats, logto…: a program may not set them). */
const atTop = (key: string) => SHARED.has(key) || SPECS.get(key)?.scope === "master";

interface Program {
  name: string;
  from: string;
  sets: Setting[];
}

function programs(t: Translation, sets: Setting[]): { top: Setting[]; programs: Program[] } {
  if (t.daemons.length === 0) return { top: sets, programs: [] };
  const top = sets.filter((s) => atTop(s.key));
  const app: Program = { name: "app", from: "the app's workers", sets: sets.filter((s) => !atTop(s.key)) };
  const daemons = t.daemons.map((d): Program => ({
    name: d.name,
    from: d.from,
    sets: [
      { key: "command", value: d.command, from: d.from },
      { key: "shell", value: true, from: "uWSGI runs a daemon's line through /bin/sh -c" },
      ...(d.control ? [{ key: "on-exit", value: "stop-all", from: "attach-control-daemon: its exit stops the master" }] : []),
    ],
  }));
  return { top, programs: [app, ...daemons] };
}

export function migrate(name: string, t: Translation, app: AppCommand | { error: string } | undefined, format: MigrateFormat, version: string): string {
  const problems: string[] = [];
  const { top: sets, programs: progs } = programs(t, settings(t, app, problems));
  if (format === "json") {
    const config: Record<string, unknown> = Object.fromEntries(sets.map((s) => [s.key, s.value]));
    if (progs.length) config.programs = Object.fromEntries(progs.map((p) => [p.name, Object.fromEntries(p.sets.map((s) => [s.key, s.value]))]));
    const keys = t.keys.map((k) => ({ file: k.file, line: k.line, key: k.key, value: k.value, verdict: k.verdict, message: k.message, ...(k.blocks ? { blocks: true } : {}) }));
    const errors = [...t.problems.filter((p) => !p.warning).map((p) => `${p.where}: ${p.message}`), ...problems];
    return JSON.stringify({ from: name, config, keys, problems: errors }, null, 2);
  }
  const c = format === "toml" ? "#" : ";";
  const out = [
    `${c} sup config from ${name} (sup migrate uwsgi, sup ${version}). Each key names the uWSGI line it`,
    `${c} came from; the comments at the end list every other line and why it is left out.`,
  ];
  if (format === "ini") out.push("[sup]");
  const put = (list: Setting[]) => {
    for (const s of list) {
      out.push(`${c} ${s.from}`);
      out.push(...(format === "toml" ? [`${s.key} = ${toml(s.value)}`] : iniLines(s)));
    }
  };
  put(sets);
  for (const p of progs) {
    const key = /^[\w-]+$/.test(p.name) ? p.name : JSON.stringify(p.name); // a TOML bare key has no dots
    out.push("", `${c} program ${p.name}: ${p.from}`, format === "toml" ? `[programs.${key}]` : `[program:${p.name}]`);
    put(p.sets);
  }
  for (const g of commentLines(t, problems)) out.push("", `${c} ${g.title}:`, ...g.lines.map((l) => `${c}   ${l.replaceAll("\n", " ")}`));
  return out.join("\n") + "\n";
}
