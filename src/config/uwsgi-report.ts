// What sup makes of a uwsgi.ini, for people: every key line, grouped as
// `sup check` prints it (errors, decisions, not yet in sup, no-ops, notes),
// each with its file:line. Errors include decisions sup cannot start without.
import type { KeyReport, Translation } from "./uwsgi-translate.ts";

export interface Problem {
  where: string;
  message: string;
}

const shortValue = (v: string) => (v.length > 60 ? `${v.slice(0, 57)}...` : v);
const line = (k: KeyReport) => `${k.file}:${k.line}: ${k.key}${k.value === "" ? "" : ` = ${shortValue(k.value)}`}: ${k.message}`;

/** Errors: the reading's, the keys', the blocking decisions', and `extra` (the app command, values sup refuses). */
export function uwsgiErrors(t: Translation, extra: Problem[] = []): string[] {
  return [
    ...t.problems.filter((p) => !p.warning).map((p) => `${p.where}: ${p.message}`),
    ...t.keys.filter((k) => k.verdict === "error" || k.blocks).map(line),
    ...extra.map((p) => `${p.where}: ${p.message}`),
  ];
}

export function uwsgiReport(name: string, t: Translation, extra: Problem[] = []): string {
  const count = (v: KeyReport["verdict"]) => t.keys.filter((k) => k.verdict === v).length;
  const errors = uwsgiErrors(t, extra);
  const groups: [string, string[]][] = [
    ["errors (sup will not start until they are fixed)", errors],
    ["decisions", t.keys.filter((k) => k.verdict === "decide" && !k.blocks).map(line)],
    ["not yet in sup (ignored)", t.keys.filter((k) => k.verdict === "unsupported").map(line)],
    ["no-ops", t.keys.filter((k) => k.verdict === "no-op").map(line)],
    ["notes", [...t.problems.filter((p) => p.warning).map((p) => `${p.where}: ${p.message}`), ...t.keys.filter((k) => k.verdict === "mapped" && k.message.includes("uWSGI reads")).map(line)]],
  ];
  const head = `${name}: ${t.keys.length} key lines read as uWSGI reads them: ${count("mapped")} mapped, ${errors.length} error${errors.length === 1 ? "" : "s"}, ${count("decide")} to decide, ${count("unsupported")} not yet in sup, ${count("no-op")} no-ops`;
  return [head, ...groups.filter(([, l]) => l.length > 0).flatMap(([title, l]) => ["", `${title}:`, ...l.map((s) => `  ${s}`)])].join("\n");
}
