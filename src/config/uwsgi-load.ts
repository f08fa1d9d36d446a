// A [uwsgi] section as a config layer: read it as uWSGI does, translate it,
// and, once every layer is in, build the app command (src/config/uwsgi-app.ts)
// when no layer gave one. src/config/file.ts and load.ts call these.
import { accessSync, constants, globSync, statSync } from "node:fs";
import { delimiter, resolve } from "node:path";
import { appCommand, hasApp, type AppCommand } from "./uwsgi-app.ts";
import { realHost } from "./uwsgi-host.ts";
import { UwsgiReader } from "./uwsgi-read.ts";
import { translate, type Translation } from "./uwsgi-translate.ts";

/** Which reader a section of an INI file gets: sup's own dialect, or uWSGI's. */
export function iniDialect(text: string, section: string | undefined): { dialect: "sup" | "uwsgi"; section: string } | { error: string } {
  const headers = new Set(text.split("\n").map((l) => l.replace(/^[ \t\r\uFEFF]+/, "")).filter((l) => l.startsWith("[")).map((l) => l.replace(/[ \t\r]+$/, "").replace(/^\[|\]$/g, "")));
  if (section !== undefined) return { dialect: section === "sup" ? "sup" : "uwsgi", section };
  if (headers.has("sup") || headers.size === 0) return { dialect: "sup", section: "sup" };
  if (headers.has("uwsgi")) return { dialect: "uwsgi", section: "uwsgi" };
  // supervisord's [program:NAME] sections are sup's dialect (src/config/ini.ts).
  if ([...headers].some((h) => h.startsWith("program:"))) return { dialect: "sup", section: "sup" };
  return { error: "no [sup] or [uwsgi] section (nor [program:NAME] sections)" };
}

export interface UwsgiFile {
  path: string;
  name: string;
  section: string;
}

/** Reads FILE's [section] (and [section:envName]) as uWSGI 2.0 does, then translates every key. */
export function readUwsgi(file: UwsgiFile, envName: string, env: Record<string, string | undefined>, cwd: string): Translation {
  const host = realHost(cwd, env, ["python3", "python", "http"]);
  const shown = (p: string) => (p === file.path ? file.name : p);
  const reader = new UwsgiReader(host, shown);
  reader.readEnvironment(env);
  const given = file.section === "uwsgi" ? file.path : `${file.path}:${file.section}`;
  const found = reader.readFile(given, "uwsgi");
  if (envName !== "") {
    const envSection = `${file.section}:${envName}`;
    if (!reader.readEnvSection(file.path, envSection)) reader.problems.push({ file: file.name, line: 0, message: `no [${envSection}] section for environment "${envName}" (from --env-name or SUP_ENV)` });
  }
  reader.finish(env);
  const t = translate(reader);
  if (!found && !reader.problems.some((p) => p.line === 0)) t.problems.unshift({ where: file.name, message: `no [${file.section}] section` });
  return t;
}

const isExecutable = (path: string) => {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

/**
 * The worker command for the app the file names, when no layer set one.
 * `chdir` is the workers' directory, `PATH` the one the workers get.
 */
export function uwsgiAppCommand(t: Translation, processes: number, chdir: string, PATH: string, elsewhere = false): AppCommand | { error: string } | undefined {
  if (!hasApp(t.app)) return undefined;
  const which = (name: string) => PATH.split(delimiter).map((d) => resolve(chdir, d, name)).find(isExecutable);
  const glob = (pattern: string) => {
    const found = globSync(pattern, { cwd: chdir }).sort();
    return found.length > 0 ? found : [pattern];
  };
  return appCommand(t.app, processes, chdir, { which, isExecutable, elsewhere, glob });
}
