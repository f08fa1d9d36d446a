// supervisord's %(process_num)d (and an [fcgi-program:x]'s socket on fd 0): each process of a numprocs > 1 program gets
// its own number (numprocs_start, then one more each), and real configs use
// it where processes must differ: a port (--port=80%(process_num)02d), a
// socket (daphne%(process_num)d.sock), an INSTANCE variable. sup's workers
// of one program share one command, so the number cannot be written into it
// when the file is read: the command runs through /bin/sh, which computes it
// from the worker's SUP_WORKER_ID (1, 2, …) when the worker starts. Every
// other word is single-quoted, so the shell changes nothing else of the
// argv supervisord would have split (shlex) from the same line.
import { splitWords } from "../core/words.ts";

/** %(process_num)d, %(process_num)02d, %(process_num)s: the one name whose value differs per worker. */
const PROCESS_NUM = /%\(process_num\)([-#0 +]*\d*)([sd])/g;

export const usesProcessNum = (v: string) => /%\(process_num\)[-#0 +]*\d*[sd]/.test(v);

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** One word (or value) with its %(process_num) parts as shell arithmetic on SUP_WORKER_ID; `start` is numprocs_start. */
function shellWord(text: string, start: number): string {
  const offset = start - 1; // SUP_WORKER_ID counts from 1, process_num from numprocs_start
  const n = offset === 0 ? "$SUP_WORKER_ID" : `$((SUP_WORKER_ID ${offset < 0 ? "-" : "+"} ${Math.abs(offset)}))`;
  let out = "";
  let last = 0;
  for (const m of text.matchAll(PROCESS_NUM)) {
    if (m.index! > last) out += quote(text.slice(last, m.index));
    // A width or flags (02d) is printf's, as Python's % formats it.
    out += m[1] ? `"$(printf '%${m[1]}d' "${n}")"` : `"${n}"`;
    last = m.index! + m[0].length;
  }
  if (last < text.length || out === "") out += quote(text.slice(last));
  return out;
}

/**
 * The /bin/sh -c line for a command (and environment values) that use
 * %(process_num): `export K=…; exec word …`. `command` is the value after
 * every other expansion; `env` the KEY=VALUE pairs that hold the name.
 * `fd0`: an [fcgi-program:x]'s, whose socket supervisord gives as fd 0 and
 * sup as fd 3 (LISTEN_FDS), so the shell makes fd 3 its stdin.
 */
export function perWorkerShell(command: string, env: string[], start: number, fd0 = false): string {
  const exports = env.map((kv) => {
    const eq = kv.indexOf("=");
    return `export ${kv.slice(0, eq)}=${shellWord(kv.slice(eq + 1), start)}; `;
  });
  return `${exports.join("")}exec ${splitWords(command).map((w) => shellWord(w, start)).join(" ")}${fd0 ? " <&3" : ""}`;
}
