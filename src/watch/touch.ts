// --touch-reload / --touch-chain-reload: uWSGI's rule, a reload when the
// file's mtime changes, or it appears, or it disappears. Unlike uWSGI
// (whole-second mtimes, core/master_checks.c), the mtime is compared to the
// nanosecond, and a replaced file (new inode) counts even with an old mtime.
// The baseline is taken at start: the first check never reloads.
import { resolve } from "node:path";
import { compareStat, type FileStat } from "./snapshot.ts";
import { FILE, MISSING, newStatOut, stater } from "../native/statx.ts";
import { timerDelay } from "../core/timer.ts";

export interface TouchEvent {
  file: string; // as the user wrote it
  rolling: boolean;
  why: "modified" | "created" | "deleted";
}

interface Watched {
  readonly file: string;
  readonly abs: string;
  readonly rolling: boolean;
  last: FileStat | undefined;
}

export function watchTouchFiles(
  /** option: the name in log lines (touch-reload and touch-chain-reload by default). */
  opts: { files: string[]; chainFiles: string[]; interval: number; cwd: string; option?: string },
  emit: (ev: TouchEvent) => void,
  log: (msg: string) => void,
): { stop(): void } {
  const st = stater();
  const out = newStatOut();
  const current = (abs: string): FileStat | undefined => {
    st.stat(abs, out);
    return out.kind === MISSING ? undefined : { mtimeSec: out.mtimeSec, mtimeNsec: out.mtimeNsec, size: out.size, ino: out.ino };
  };
  const watched: Watched[] = [
    ...opts.files.map((file) => ({ file, rolling: false })),
    ...opts.chainFiles.map((file) => ({ file, rolling: true })),
  ].map(({ file, rolling }) => {
    const abs = resolve(opts.cwd, file);
    const last = current(abs);
    const option = opts.option ?? (rolling ? "touch-chain-reload" : "touch-reload");
    if (!last) log(`${option} ${file}: not there yet, will ${opts.option ? "act" : "reload"} when it is created`);
    else if (out.kind !== FILE) log(`${option} ${file}: not a regular file; its mtime is watched all the same`);
    return { file, abs, rolling, last };
  });

  const check = () => {
    for (const w of watched) {
      const now = current(w.abs);
      const kind = compareStat(w.last, now);
      w.last = now;
      if (kind) emit({ file: w.file, rolling: w.rolling, why: kind === "replaced" ? "modified" : kind }); // a save by rename is a touch too
    }
  };
  const timer = setInterval(check, timerDelay(opts.interval * 1000));
  return { stop: () => clearInterval(timer) };
}
