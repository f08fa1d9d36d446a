// What runs: the programs of a config. A file may declare several
// ([programs.web] in TOML and JSON, [program:web] in INI, as supervisord
// users write it), each with its own values on top of the top level's; a
// Procfile gives one program of one worker per line; and a config with
// neither is one program of the top level, exactly as a one-command sup has
// always run. The checks that span programs (names, depends-on and its
// cycles, two programs on one address) are here, so `sup check` sees them.
import { existsSync } from "node:fs";
import { readConfigText } from "./read.ts";
import { dirname, resolve } from "node:path";
import type { Cli } from "../verbs/cli.ts";
import { ConfigError, coerce } from "./coerce.ts";
import { parseDotenv } from "./dotenv.ts";
import type { FileRead } from "./file.ts";
import { EVENTS_SETTLE, setValue, type Source } from "./load.ts";
import { PROCFILE_PORT, PROCFILE_PORT_STEP, RELEASE, parseProcfile } from "./procfile.ts";
import { SPECS, autoreloadMode, type Config, type ProgramConfig } from "./schema.ts";

interface Input {
  cli: Cli;
  cwd: string;
  env: Record<string, string | undefined>;
  config: Config;
  sources: Record<string, Source>;
  read?: FileRead;
}

interface Output {
  programs: ProgramConfig[];
  programSources: Map<string, Record<string, Source>>;
}

export function programsOf(i: Input): Output {
  const procfile = procfilePath(i);
  const declared = i.read?.programs ?? [];
  if (procfile && declared.length > 0) throw new ConfigError(`${procfile.shown} and the programs of ${i.read!.programs[0]!.where.replace(/:\d+$/, "")} (${declared.map((d) => d.name).join(", ")}): use one or the other`);
  const programSources = new Map<string, Record<string, Source>>();
  let programs: ProgramConfig[];
  if (procfile) programs = fromProcfile(procfile, i, programSources);
  else if (declared.length > 0) programs = fromFile(i, programSources);
  else return { programs: [{ name: "", config: i.config, where: "", main: true }], programSources };
  checkPrograms(programs, programSources);
  return { programs, programSources };
}

/** --procfile FILE; or, with no config file and no command, a Procfile here. */
function procfilePath(i: Input): { path: string; shown: string } | undefined {
  const flag = i.cli.flags.findLast((f) => f.name === "procfile");
  if (flag) {
    const path = resolve(i.cwd, String(flag.value));
    if (!existsSync(path)) throw new ConfigError(`${flag.flag} ${flag.value}: ${path} does not exist`);
    return { path, shown: String(flag.value) };
  }
  const here = resolve(i.cwd, "Procfile");
  if (i.read || i.sources.command?.layer !== "default" || !existsSync(here)) return undefined;
  return { path: here, shown: "Procfile" };
}

/** A program: the top level, then its own keys (they beat every layer of the top level for it). */
function derive(i: Input, name: string, own: { key: string; value: unknown; where: string; layer: Source["layer"] }[], sources: Map<string, Record<string, Source>>): Config {
  const cfg = structuredClone(i.config) as unknown as Record<string, unknown>;
  const src: Record<string, Source> = { ...i.sources };
  const set = new Set<string>();
  for (const e of own) {
    const spec = SPECS.get(e.key)!;
    setValue(cfg, src, spec, coerce(spec, e.value, e.where), { layer: e.layer, where: e.where });
    set.add(spec.aliasOf ?? spec.name);
  }
  // The events engine's settle default follows the program's own autoreload.
  if (!set.has("autoreload-settle") && src["autoreload-settle"]?.layer === "default") {
    cfg["autoreload-settle"] = autoreloadMode(cfg as unknown as Config)?.engine === "events" ? EVENTS_SETTLE : SPECS.get("autoreload-settle")!.default;
  }
  sources.set(name, src);
  return cfg as unknown as Config;
}

function fromFile(i: Input, sources: Map<string, Record<string, Source>>): ProgramConfig[] {
  const read = i.read!;
  if (i.sources.command?.layer !== "default" && !read.topProgram) {
    throw new ConfigError(`${read.programs[0]!.where.replace(/:\d+$/, "")} declares programs (${read.programs.map((p) => p.name).join(", ")}), and a command is given too (${i.sources.command!.where}): put that command in a program of its own, or run it without this config`);
  }
  const names = new Set(read.programs.map((p) => p.name));
  for (const e of read.entries) {
    if (e.program !== undefined && !names.has(e.program)) throw new ConfigError(`${e.where}: the environment section sets program "${e.program}", which the file does not declare`);
  }
  return read.programs.map((p) => ({
    name: p.name,
    where: p.where,
    ...(p.name === read.topProgram ? { main: true, config: topLevel(i, p.name, sources) } : { config: derive(i, p.name, read.entries.filter((e) => e.program === p.name), sources) }),
  }));
}

/** The top level as a program of its own (a uwsgi.ini's app): its values as they are. */
function topLevel(i: Input, name: string, sources: Map<string, Record<string, Source>>): Config {
  sources.set(name, { ...i.sources });
  return structuredClone(i.config);
}

function fromProcfile(pf: { path: string; shown: string }, i: Input, sources: Map<string, Record<string, Source>>): ProgramConfig[] {
  const entries = parseProcfile(readConfigText(pf.path, pf.shown), pf.shown);
  // foreman reads .env from the working directory into every process's environment.
  const dotenvPath = resolve(i.cwd, ".env");
  const pairs = existsSync(dotenvPath) ? parseDotenv(readConfigText(dotenvPath, ".env"), ".env") : [];
  const dotenv = pairs.map(([k, v]) => `${k}=${v}`);
  // foreman's base_port: the .env file's PORT first, then the environment's (a .env with PORT=3000 serves web on 3000).
  const port = [pairs.findLast(([k]) => k === "PORT")?.[1], i.env.PORT].find((p) => /^\d+$/.test(p ?? ""));
  const base = port ? Number(port) : PROCFILE_PORT;
  const release = entries.some((e) => e.name === RELEASE);
  // foreman runs each process in the Procfile's directory (its --root default): `sup --procfile app/Procfile` as `foreman start -f app/Procfile`.
  const root = dirname(pf.path);
  const chdir = i.sources.chdir?.layer === "default" && root !== resolve(i.cwd) ? [{ key: "chdir", value: root, where: pf.shown, layer: "file" as const }] : [];
  return entries.map((e, n) => {
    const where = `${pf.shown}:${e.line}`;
    const phase = e.name === RELEASE ? [{ key: "restart", value: "never", where, layer: "file" as const }] : release ? [{ key: "depends-on", value: { [RELEASE]: "completed" }, where, layer: "file" as const }] : [];
    const own = [
      ...phase,
      { key: "command", value: [e.command], where, layer: "file" as const },
      { key: "shell", value: true, where, layer: "file" as const },
      { key: "processes", value: 1, where, layer: "file" as const },
      { key: "reload-strategy", value: "stop-first", where, layer: "file" as const },
      // foreman's processes share its stdin (a terminal): watchers that exit at EOF (esbuild, tailwindcss --watch) run.
      { key: "stdin-open", value: true, where, layer: "file" as const },
      ...chdir,
      { key: "env", value: [...dotenv, `PORT=${base + PROCFILE_PORT_STEP * n}`, ...i.config.env], where, layer: "file" as const },
    ];
    return { name: e.name, where, config: derive(i, e.name, own, sources) };
  });
}

/** What spans programs: depends-on names and cycles, completions that cannot come, one address per program. */
function checkPrograms(programs: ProgramConfig[], sources: Map<string, Record<string, Source>>) {
  const byName = new Map(programs.map((p) => [p.name, p]));
  const whereDeps = (p: ProgramConfig) => sources.get(p.name)?.["depends-on"]?.where ?? p.where;
  for (const p of programs) {
    if (p.config.command.length === 0) throw new ConfigError(`${p.where}: program ${p.name} has no command; set command in it`);
    for (const [dep, cond] of Object.entries(p.config["depends-on"])) {
      const d = byName.get(dep);
      if (!d) throw new ConfigError(`${whereDeps(p)}: program ${p.name} depends on "${dep}", which is not a program here (${programs.map((x) => x.name).join(", ")})`);
      if (dep === p.name) throw new ConfigError(`${whereDeps(p)}: program ${p.name} depends on itself`);
      if (cond === "completed" && d.config.restart === "always") {
        throw new ConfigError(`${whereDeps(p)}: program ${p.name} waits for ${dep} to complete, but ${dep} has restart = "always" and never completes; set restart = "never" (or "on-failure") in ${dep}`);
      }
    }
  }
  const cycle = findCycle(programs);
  if (cycle) throw new ConfigError(`${whereDeps(byName.get(cycle[0]!)!)}: depends-on has a cycle: ${cycle.join(" → ")}; no program of it could ever start`);
  const owner = new Map<string, string>();
  for (const p of programs) {
    for (const addr of p.config.listen) {
      const other = owner.get(addr);
      if (other && other !== p.name) throw new ConfigError(`${p.where}: programs ${other} and ${p.name} both listen on ${addr}; each address belongs to one program`);
      owner.set(addr, p.name);
    }
  }
}

/** A depends-on cycle as names (first repeated last), or undefined. */
export function findCycle(programs: { name: string; config: Pick<Config, "depends-on"> }[]): string[] | undefined {
  const deps = new Map(programs.map((p) => [p.name, Object.keys(p.config["depends-on"])]));
  const state = new Map<string, "visiting" | "done">();
  const path: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === "done") return undefined;
    if (state.get(n) === "visiting") return [...path.slice(path.indexOf(n)), n];
    state.set(n, "visiting");
    path.push(n);
    for (const d of deps.get(n) ?? []) {
      const c = visit(d);
      if (c) return c;
    }
    path.pop();
    state.set(n, "done");
    return undefined;
  };
  for (const p of programs) {
    const c = visit(p.name);
    if (c) return c;
  }
  return undefined;
}
