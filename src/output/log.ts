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
import { Output } from "./writer.ts";

export type Fields = Record<string, string | number | boolean | null | undefined>;
export type LogFormat = "text" | "json";

let format: LogFormat = "text";
const masterPid = process.pid;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
let outputs: { stdout: Output; stderr: Output } | undefined;

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

/** From now on the log and worker output go through bounded writers on fd 1 and 2. */
export function useOutputs(): void {
  if (outputs) return;
  outputs = { stdout: new Output(1), stderr: new Output(2) };
  for (const [name, o] of Object.entries(outputs)) {
    o.onDrop = (n) => log.warn(`output: dropped ${n.toLocaleString("en-US")} line${n === 1 ? "" : "s"} since the last report: ${name} is not read fast enough`, { event: "output.drop", stream: name, lines: n });
  }
}

/** At exit: one last non-blocking attempt to write what is queued. */
export function endOutputs(): void {
  outputs?.stdout.end();
  outputs?.stderr.end();
  outputs = undefined;
}

const CUT = encoder.encode(" [line cut at 64 KiB]");

const tags = new Map<number, Uint8Array>();

/** One line a worker wrote: prefixed with its id (or as JSON), through the bounded writer. */
export function workerLine(stream: "stdout" | "stderr", id: number, gen: number, line: Uint8Array, cut: boolean, prefix: boolean): void {
  const out = outputs?.[stream];
  if (!out) return;
  // A flood into a full queue: count the line without building it.
  if (out.full(line.length + 16)) return out.skip();
  if (format === "json") {
    const text = decoder.decode(line) + (cut ? decoder.decode(CUT) : "");
    out.write(encoder.encode(JSON.stringify({ time: new Date().toISOString(), stream, worker: id, gen, line: text }) + "\n"));
    return;
  }
  let tag = tags.get(id);
  if (!tag) tags.set(id, (tag = encoder.encode(`[${id}] `)));
  const head = prefix ? tag.length : 0;
  const bytes = new Uint8Array(head + line.length + (cut ? CUT.length : 0) + 1);
  if (prefix) bytes.set(tag, 0);
  bytes.set(line, head);
  if (cut) bytes.set(CUT, head + line.length);
  bytes[bytes.length - 1] = 10;
  out.write(bytes);
}
