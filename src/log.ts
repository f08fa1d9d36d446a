// The master's log. Lines are an interface (tests and users grep them): one
// event per line, with worker id, pid and generation where they apply.
// consola carries the level filtering; our reporter writes the line, because
// consola's own reporters collapse repeats and change format with the TTY.
// Lines go out through console.error/console.log, never process.stderr or
// process.stdout: those getters build Node stream objects that cost the idle
// master about 1 MB of RSS (BENCHMARKS.md). Bun's console writes each line at
// once, unbuffered, and prints a lone string argument as is (no % formats).
import { createConsola, type ConsolaInstance, type LogObject } from "consola/core";

export type Fields = Record<string, string | number | boolean | null | undefined>;
export type LogFormat = "text" | "json";

let format: LogFormat = "text";
const masterPid = process.pid;

function write(obj: LogObject) {
  const [msg, fields] = obj.args as [string, Fields | undefined];
  const time = obj.date.toISOString();
  const level = obj.type === "log" ? "info" : obj.type;
  if (format === "json") {
    console.error(JSON.stringify({ time, level, pid: masterPid, msg, ...fields }));
  } else {
    const tag = level === "info" ? "" : `${level}: `;
    console.error(`${time} sup[${masterPid}] ${tag}${msg}`);
  }
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

/** A line a worker wrote, passed through with its id (or as JSON). */
export function workerLine(stream: "stdout" | "stderr", id: number, gen: number, line: string, prefix: boolean) {
  const out = stream === "stdout" ? console.log : console.error;
  out(format === "json" ? JSON.stringify({ time: new Date().toISOString(), stream, worker: id, gen, line }) : prefix ? `[${id}] ${line}` : line);
}
