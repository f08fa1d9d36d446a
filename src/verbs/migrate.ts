// `sup migrate uwsgi FILE[:SECTION] [--format toml|ini|json]`: the sup config
// a uwsgi.ini becomes, printed (src/config/uwsgi-migrate.ts says how). Exit
// 0 when it was read, whatever it holds: the output lists what sup refuses.
import { resolve } from "node:path";
import { UsageError, type Cli } from "./cli.ts";
import { ConfigError } from "../config/coerce.ts";
import { iniDialect, readUwsgi, uwsgiAppCommand } from "../config/uwsgi-load.ts";
import { migrate, type MigrateFormat } from "../config/uwsgi-migrate.ts";
import { existsSync, readFileSync } from "node:fs";

declare const SUP_VERSION: string;
const FORMATS = ["toml", "ini", "json"];

export function runMigrate(cli: Cli): number {
  const [from, given, extra] = cli.args;
  if (from !== "uwsgi") throw new UsageError(from === undefined ? "sup migrate: what from? sup migrate uwsgi FILE [--format toml|ini|json]" : `sup migrate: sup migrates from uwsgi only, not ${JSON.stringify(from)}: sup migrate uwsgi FILE`);
  if (given === undefined) throw new UsageError("sup migrate uwsgi: which file? sup migrate uwsgi uwsgi.ini");
  if (extra !== undefined) throw new UsageError(`sup migrate uwsgi: one file at a time (got ${JSON.stringify(extra)} too)`);
  const format = cli.format ?? "toml";
  if (!FORMATS.includes(format)) throw new UsageError(`sup migrate: --format ${format}: use toml, ini or json`);
  const cwd = process.cwd();
  // FILE:SECTION, as uWSGI spells it; a file whose own name has a colon wins.
  const colon = given.lastIndexOf(":");
  const split = colon > 0 && !existsSync(resolve(cwd, given));
  const file = split ? given.slice(0, colon) : given;
  const path = resolve(cwd, file);
  let text: string;
  try {
    text = readFileSync(path, "latin1");
  } catch (e) {
    throw new ConfigError(`${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : `cannot be read (${(e as NodeJS.ErrnoException).code})`}`);
  }
  const dialect = iniDialect(text, split ? given.slice(colon + 1) || "uwsgi" : "uwsgi");
  if ("error" in dialect) throw new ConfigError(`${file}: ${dialect.error}`);
  const t = readUwsgi({ path, name: file, section: dialect.section }, "", process.env, cwd);
  const processes = t.entries.find((e) => e.key === "processes")?.value;
  const chdir = String(t.entries.find((e) => e.key === "chdir")?.value ?? ".");
  const env = (t.entries.find((e) => e.key === "env")?.value as string[] | undefined) ?? [];
  const PATH = env.findLast((e) => e.startsWith("PATH="))?.slice(5) ?? process.env.PATH ?? "";
  const workers = typeof processes === "number" ? processes : 1;
  let app = t.entries.some((e) => e.key === "command") ? undefined : uwsgiAppCommand(t, workers, resolve(cwd, chdir), PATH);
  // The config may run elsewhere: without the server here, the command is
  // written all the same, and a TODO says to install it.
  if (app && "error" in app && /install gunicorn/.test(app.error)) {
    t.keys.push({ file, line: 0, key: "command", value: "", verdict: "decide", message: `gunicorn is not installed here: ${app.error}` });
    app = uwsgiAppCommand(t, workers, resolve(cwd, chdir), PATH, true);
  }
  // A server found on PATH is written by its name, so the config works where PATH finds another copy.
  if (app && !("error" in app) && t.app.home === undefined) app.argv[0] = "gunicorn";
  process.stdout.write(migrate(file, t, app, format as MigrateFormat, typeof SUP_VERSION === "string" ? SUP_VERSION : "dev"));
  return 0;
}
