// The master's log. Lines are an interface (tests and users grep them): one
// event per line, with worker id, pid and generation where they apply.
// consola carries the level filtering; our reporter writes the line, because
// consola's own reporters collapse repeats and change format with the TTY.
//
// Once the master runs (useOutputs), every line, its own and its workers',
// goes through a bounded non-blocking writer (output.ts): a stdout or stderr
// nobody reads drops lines and counts them, it never stops the master.
// Before that (errors at start, client verbs) lines go to console.error,
// which writes at once.
import { createConsola, type ConsolaInstance, type LogObject } from "consola/core";
import { LogFile } from "./logfile.ts";
import { Output } from "./writer.ts";

export type Fields = Record<string, string | number | boolean | null | undefined>;
export type LogFormat = "text" | "json";

let format: LogFormat = "text";
const masterPid = process.pid;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Where lines go once the master runs: fd 1 and 2, or with --logto one file for both (and fd 2 for its drop reports). */
let outputs: { stdout: Output; stderr: Output; file?: LogFile; console?: Output } | undefined;

function emit(text: string) {
  if (outputs) outputs.stderr.write(encoder.encode(text + "\n"), true);
  else console.error(text);
}

function write(obj: LogObject) {
  const [msg, fields] = obj.args as [string, Fields | undefined];
  const time = obj.date.toISOString();
  const level = obj.type === "log" ? "info" : obj.type;
  if (format === "json") emit(JSON.stringify({ time, level, pid: masterPid, msg, ...fields }));
  else emit(`${time} sup[${masterPid}] ${level === "info" ? "" : `${level}: `}${msg}`);
}

const consola: ConsolaInstance = createConsola({
  level: 3, // info; set explicitly: consola drops to warn under `bun test`
  throttle: 0, // never collapse repeated lines: each is an event
  reporters: [{ log: write }],
});

export function setLogFormat(f: LogFormat) {
  format = f;
}

export const log = {
  info: (msg: string, fields?: Fields) => consola.info(msg, fields),
  warn: (msg: string, fields?: Fields) => consola.warn(msg, fields),
  error: (msg: string, fields?: Fields) => consola.error(msg, fields),
};

/**
 * From now on the log and worker output go through bounded writers on fd 1
 * and 2, or into the --logto file (opened by the caller: LogFile.open).
 * uWSGI's logto takes both stdout and stderr, and so does sup's: one file
 * holds the whole story in order.
 */
export function useOutputs(file?: LogFile): void {
  if (outputs) return;
  const dropped = (what: string, n: number, why: string) => `output: dropped ${n.toLocaleString("en-US")} line${n === 1 ? "" : "s"} since the last report: ${what} ${why}`;
  if (file) {
    // A full disk is said on fd 2 too (the journal, kubectl logs): the file may not take it.
    const terminal = new Output(2);
    outputs = { stdout: file, stderr: file, file, console: terminal };
    const both = (text: string, fields: Fields) => {
      terminal.write(encoder.encode(`${new Date().toISOString()} sup[${masterPid}] warn: ${text}\n`), true);
      log.warn(text, fields);
    };
    file.onDrop = (n, error) => both(dropped(`logto ${file.path}`, n, error ? `cannot be written: ${error}` : "is not written fast enough"), { event: "output.drop", stream: "logfile", lines: n, error });
    file.onError = (message) => both(message, { event: "output.error", stream: "logfile" });
    return;
  }
  outputs = { stdout: new Output(1), stderr: new Output(2) };
  for (const [name, o] of Object.entries(outputs)) {
    o.onDrop = (n, error) => log.warn(dropped(name, n, error ? `cannot be written: ${error}` : "is not read fast enough"), { event: "output.drop", stream: name, lines: n, error });
  }
}

/** USR1, `sup reopen-logs`, --touch-logreopen: the --logto file opened again (logrotate moved it). */
export function reopenLogs(): { ok: boolean; message: string } {
  if (!outputs?.file) return { ok: true, message: "no log file to reopen (no --logto): sup writes to stdout and stderr" };
  return outputs.file.reopen();
}

/** Lines lost so far, by stream (for /metrics). */
export function droppedLines(): Record<string, number> {
  if (outputs?.file) return { logfile: outputs.file.droppedTotal, stderr: outputs.console!.droppedTotal };
  return outputs ? { stdout: outputs.stdout.droppedTotal, stderr: outputs.stderr.droppedTotal } : {};
}

/** At exit: one last non-blocking attempt to write what is queued. */
export function endOutputs(): void {
  outputs?.stdout.end();
  if (outputs?.stderr !== outputs?.stdout) outputs?.stderr.end();
  outputs?.console?.end();
  outputs = undefined;
}

const CUT = encoder.encode(" [line cut at 64 KiB]");

const tags = new Map<string, Uint8Array>();
/** foreman's and overmind's palette: a stable colour per program on a terminal. */
const COLOURS = [36, 33, 32, 35, 34, 31, 96, 93, 92, 95, 94];
const colour = (() => {
  const on = process.stdout.isTTY === true && process.env.NO_COLOR === undefined && process.env.TERM !== "dumb";
  return (program: string, text: string) => {
    if (!on) return text;
    let h = 0;
    for (const c of program) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    return `\x1b[${COLOURS[h % COLOURS.length]}m${text}\x1b[0m`;
  };
})();

/**
 * The prefix of a worker's line: "[2 g3] " (worker 2 of generation 3), or
 * with several programs "web.2 g3 | " in the program's colour on a terminal,
 * so the old and the new generation's lines tell apart during a reload.
 */
function tagOf(program: string | undefined, id: number, gen: number): Uint8Array {
  const key = `${program ?? ""}\0${id}\0${gen}`;
  let tag = tags.get(key);
  if (!tag) {
    if (tags.size > 512) tags.clear(); // generations come and go: keep the cache small (64 workers of a few generations fit)
    tags.set(key, (tag = encoder.encode(program === undefined ? `[${id} g${gen}] ` : `${colour(program, `${program}.${id} g${gen} |`)} `)));
  }
  return tag;
}

/** One line a worker wrote: prefixed with its program, id and generation (or as JSON), through the bounded writer. */
export function workerLine(stream: "stdout" | "stderr", id: number, gen: number, line: Uint8Array, cut: boolean, prefix: boolean, program?: string): void {
  const out = outputs?.[stream];
  if (!out) return;
  // A flood into a full queue: count the line without building it.
  if (out.full(line.length + 16)) return out.skip();
  if (format === "json") {
    const text = decoder.decode(line) + (cut ? decoder.decode(CUT) : "");
    out.write(encoder.encode(JSON.stringify({ time: new Date().toISOString(), stream, ...(program === undefined ? {} : { program }), worker: id, gen, line: text }) + "\n"));
    return;
  }
  const tag = prefix ? tagOf(program, id, gen) : undefined;
  const head = tag ? tag.length : 0;
  const bytes = new Uint8Array(head + line.length + (cut ? CUT.length : 0) + 1);
  if (tag) bytes.set(tag, 0);
  bytes.set(line, head);
  if (cut) bytes.set(CUT, head + line.length);
  bytes[bytes.length - 1] = 10;
  out.write(bytes);
}
