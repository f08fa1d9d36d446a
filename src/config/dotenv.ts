// A .env file as foreman reads it (its Foreman::Env, the dotenv format):
// KEY=VALUE lines, `export ` allowed before the key, # comments, values in
// '…' taken literally, in "…" with \n \t \" \\ unescaped, bare values
// trimmed and cut at " #". Every malformed line is reported with its line.
import { ConfigError } from "./coerce.ts";

const LINE = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$/;

export function parseDotenv(text: string, name: string): [string, string][] {
  const out: [string, string][] = [];
  const problems: string[] = [];
  text.replace(/^\uFEFF/, "").split(/\r?\n/).forEach((raw, i) => {
    const s = raw.trim();
    if (s === "" || s.startsWith("#")) return;
    const m = LINE.exec(s);
    if (!m) return void problems.push(`${name}:${i + 1}: expected KEY=VALUE, got ${JSON.stringify(s.slice(0, 80))}`);
    let v = m[2]!;
    if (v.startsWith("'")) {
      const end = v.indexOf("'", 1);
      if (end < 0) return void problems.push(`${name}:${i + 1}: unterminated ' quote`);
      v = v.slice(1, end);
    } else if (v.startsWith('"')) {
      let j = 1;
      let t = "";
      for (; j < v.length && v[j] !== '"'; j++) {
        if (v[j] === "\\" && j + 1 < v.length) {
          const e = v[++j]!;
          t += e === "n" ? "\n" : e === "t" ? "\t" : e === "r" ? "\r" : e;
        } else t += v[j];
      }
      if (j >= v.length) return void problems.push(`${name}:${i + 1}: unterminated " quote`);
      v = t;
    } else {
      const hash = v.search(/\s#/);
      v = (hash >= 0 ? v.slice(0, hash) : v).trim();
    }
    out.push([m[1]!, v]);
  });
  if (problems.length) throw new ConfigError(problems.join("\n"));
  return out;
}
