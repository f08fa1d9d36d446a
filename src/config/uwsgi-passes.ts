// The three passes uWSGI makes over every option read, once all files are
// read (core/uwsgi.c uwsgi_setup): $(VAR) from the environment, @(FILE) with
// a file's content, then %(NAME) with another option's value. A ported
// uwsgi_apply_config_pass (core/utils.c), quirks included: what a pass
// cannot resolve stays as written (an unset $(VAR), an undefined %(name));
// options applied while reading (ini, listen, set-ph, …) are skipped; a
// placeholder takes the first value of its option, as it is at that moment;
// after a substitution the scan restarts at the value's second character.
//
// %(a b + 1) is uWSGI's placeholder arithmetic (core/config.c
// uwsgi_manage_placeholder): tokens joined, or +, -, *, / on 64-bit integers.

/** An option as the passes see it (values are byte strings). */
export interface PassOpt {
  key: string;
  value: string;
  configured: boolean;
}

/** A hook's answer: the text, or undefined to leave the reference as written. */
export type Hook = (name: string, opt: PassOpt) => string | undefined;

/** Past this a value is taken as a placeholder that contains itself (uWSGI would loop until memory runs out). */
const MAX_VALUE = 1 << 16;
const MAX_SUBSTITUTIONS = 10_000;

export class PlaceholderLoop extends Error {}

export function applyPass(opts: PassOpt[], symbol: "$" | "@" | "%", hook: Hook): void {
  for (const opt of opts) {
    if (opt.configured) continue;
    let value = opt.value;
    let has = 0;
    let depth = 0;
    let keyStart = -1;
    let substitutions = 0;
    for (let j = 0; j < value.length; j++) {
      const ch = value[j];
      if (ch === symbol) {
        has = 1;
      } else if (ch === "(" && has === 1) {
        has = 2;
        depth = 0;
        keyStart = j + 1;
      } else if (has > 1) {
        if (ch === "(") {
          has++;
          depth++;
        } else if (ch === ")") {
          if (depth > 0) {
            has++;
            depth--;
            continue;
          }
          if (has <= 2) {
            has = 0;
            continue;
          }
          const replacement = hook(value.slice(keyStart, keyStart + has - 2), opt);
          if (replacement === undefined) {
            has = 0;
            continue;
          }
          value = value.slice(0, keyStart - 2) + replacement + value.slice(keyStart + has - 1);
          opt.value = value; // a placeholder of the option itself sees the new text, as in uWSGI
          if (++substitutions > MAX_SUBSTITUTIONS || value.length > MAX_VALUE) throw new PlaceholderLoop(opt.key);
          has = 0;
          j = 0; // the loop's j++ makes it 1: uWSGI resumes at the second character
        } else {
          has++;
        }
      } else {
        has = 0;
      }
    }
    opt.value = value;
  }
}

/** The first option named `key` (core/config.c uwsgi_get_exported_opt). */
export const firstValue = (opts: PassOpt[], key: string) => opts.find((o) => o.key === key)?.value;

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);
const clamp = (n: bigint) => (n > INT64_MAX ? INT64_MAX : n < INT64_MIN ? INT64_MIN : n);

/** strtoll(s, NULL, 10): leading spaces, a sign, digits; the rest ignored. */
export function strtoll(s: string): bigint {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(s);
  return m ? clamp(BigInt(m[1]!)) : 0n;
}

/** %(…) as core/config.c uwsgi_manage_placeholder resolves it. */
export function placeholder(opts: PassOpt[], key: string): string | undefined {
  if (!key.includes(" ")) return firstValue(opts, key);
  type Op = "concat" | "+" | "-" | "*" | "/";
  let op: Op = "concat";
  let current: string | undefined;
  for (const tok of key.split(" ").filter((t) => t !== "")) {
    if (tok === "+" || tok === "-" || tok === "*" || tok === "/") {
      op = tok;
      continue;
    }
    if (tok === "++" || tok === "--") {
      if (current !== undefined) current = String(clamp(strtoll(current) + (tok === "++" ? 1n : -1n)));
      op = "concat";
      continue;
    }
    const value = /^\d*$/.test(tok) ? tok : (firstValue(opts, tok) ?? "");
    if (op === "concat") {
      current = (current ?? "") + value;
    } else {
      const a = current !== undefined ? strtoll(current) : 0n;
      const b = strtoll(value);
      // BigInt division truncates toward zero, as C's does; uWSGI turns x/0 into 0.
      const r = op === "+" ? a + b : op === "-" ? a - b : op === "*" ? a * b : b === 0n ? 0n : a / b;
      current = String(clamp(r));
    }
    op = "concat";
  }
  return current;
}
