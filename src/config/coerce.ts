// Turns a raw value from any layer (flag text, SUP_* variable, file value)
// into the option's type, or throws a ConfigError naming where it came from.
import { DEPENDS_ON, type DependsOn, type OptionSpec } from "./schema.ts";

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** A value quoted in a message, cut to a line's worth (a config may hold a 4 MiB string). */
export function clip(text: string, max = 100): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Splits a list given as one string (SUP_* variables): newlines or commas. */
export function splitList(raw: string): string[] {
  return raw.split(raw.includes("\n") ? "\n" : ",").map((s) => s.trim()).filter((s) => s !== "");
}

const TRUE = new Set(["1", "true", "yes", "on", ""]);
const FALSE = new Set(["0", "false", "no", "off"]);

export function coerce(spec: OptionSpec, raw: unknown, where: string): unknown {
  const bad = (what: string): never => {
    throw new ConfigError(`${where}: ${spec.name} ${what}, got ${clip(JSON.stringify(raw) ?? String(raw))}`);
  };
  switch (spec.type) {
    case "int":
    case "number": {
      const n = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : NaN;
      if (!Number.isFinite(n)) bad(`must be a ${spec.type === "int" ? "whole number" : "number"}`);
      if (spec.type === "int" && !Number.isInteger(n)) bad("must be a whole number");
      if (spec.min !== undefined && n < spec.min) bad(`must be at least ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) bad(`must be at most ${spec.max}`);
      return n;
    }
    case "boolean":
      if (typeof raw === "boolean") return raw;
      if (typeof raw === "string" && TRUE.has(raw.toLowerCase())) return true;
      if (typeof raw === "string" && FALSE.has(raw.toLowerCase())) return false;
      return bad("must be true or false");
    case "string":
      if (typeof raw === "string") return raw;
      if (typeof raw === "number") return String(raw);
      return bad("must be a string");
    case "enum":
      if (typeof raw === "string" && spec.values!.includes(raw)) return raw;
      return bad(`must be one of ${spec.values!.join(", ")}`);
    case "list":
      if (Array.isArray(raw) && raw.every((x) => typeof x === "string" || typeof x === "number")) return raw.map(String);
      if (typeof raw === "string") return [raw];
      return bad("must be a list of strings");
    case "deps":
      return dependsOn(raw, bad);
  }
}

/**
 * depends-on in its three spellings: a table { migrate = "completed" }, a
 * list of names (each must be ready), or INI's "migrate:completed db" (and
 * each of a repeated key's values spelled so).
 */
function dependsOn(raw: unknown, bad: (what: string) => never): Record<string, DependsOn> {
  const out: Record<string, DependsOn> = {};
  const add = (name: string, cond: unknown) => {
    if (!/^[\w.-]+$/.test(name)) bad(`names a program ${JSON.stringify(name)}, which is not a program name`);
    if (typeof cond !== "string" || !DEPENDS_ON.includes(cond as DependsOn)) bad(`: ${name} must be one of ${DEPENDS_ON.join(", ")}`);
    out[name] = cond as DependsOn;
  };
  const words = (s: string) => {
    for (const w of s.split(/[\s,]+/).filter(Boolean)) {
      const colon = w.lastIndexOf(":");
      if (colon > 0) add(w.slice(0, colon), w.slice(colon + 1));
      else add(w, "ready");
    }
  };
  if (typeof raw === "string") words(raw);
  else if (Array.isArray(raw) && raw.every((x) => typeof x === "string")) raw.forEach((x) => words(x as string));
  else if (typeof raw === "object" && raw !== null && !Array.isArray(raw)) for (const [k, v] of Object.entries(raw)) add(k, v);
  else bad("must be a table of program = condition, a list of programs, or \"name:condition ...\"");
  return out;
}
