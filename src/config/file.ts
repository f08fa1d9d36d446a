// Config files: finding one and reading it into (key, value, file:line) entries.
// PLACEHOLDER until the config issue lands: only explicit JSON without line numbers.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Cli } from "../cli.ts";
import { ConfigError } from "./coerce.ts";

export interface FoundFile {
  path: string;
  format: "ini" | "toml" | "json" | "yaml";
  section?: string;
}

export interface Entry {
  key: string;
  value: unknown;
  where: string; // file:line
  layer: "file" | "env-section";
}

export function findConfigFile(cli: Cli, cwd: string): FoundFile | undefined {
  const given = cli.flags.findLast((f) => ["config", "ini", "toml", "json"].includes(f.name));
  if (!given) return undefined;
  const path = resolve(cwd, String(given.value));
  if (!existsSync(path)) throw new ConfigError(`${given.flag}: config file ${path} does not exist`);
  return { path, format: "json" };
}

export async function readConfigFile(found: FoundFile, _envName: string, _env: Record<string, string | undefined>): Promise<Entry[]> {
  const data = JSON.parse(readFileSync(found.path, "utf8")) as Record<string, unknown>;
  return Object.entries(data).map(([key, value]) => ({ key, value, where: found.path, layer: "file" as const }));
}
