// Reading a config file, and nothing but a regular file. open(2) of a FIFO
// without O_NONBLOCK waits for a writer for ever (fifo(7)), and /dev/zero or
// a tty never ends: `sup check` hung, and so did a master re-reading its
// config on HUP. So: stat, refuse what is not a regular file, open
// non-blocking, fstat the descriptor and refuse again if the file is not the
// one stat saw (swapped in between), read at most MAX_CONFIG_BYTES.
import { closeSync, constants, fstatSync, openSync, readSync, readlinkSync, statSync, type Stats } from "node:fs";
import { ConfigError } from "./coerce.ts";

/** Larger than any sane config; a bigger file is refused with its size. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

// Linux's O_CLOEXEC (fcntl.h); node:fs has no constant for it. Bun sets it
// on every open anyway; saying so keeps a worker from inheriting the fd if
// that ever changes.
const O_CLOEXEC = 0o2000000;
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | O_CLOEXEC;

/** What a path is, when it is not a regular file. */
function kindOf(st: Stats): string | undefined {
  if (st.isFile()) return undefined;
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isSocket()) return "a unix socket";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  return "not a regular file";
}

/** "NAME: config file WHY"; `why` alone for readers that say it their own way (uwsgi-host.ts). */
export class ConfigFileError extends ConfigError {
  constructor(
    name: string,
    readonly why: string,
  ) {
    super(`${name}: config file ${why}`);
  }
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
const tooBig = (name: string, size: number): ConfigError =>
  new ConfigFileError(name, `is ${mib(size)} (${size} bytes); sup reads config files of at most ${mib(MAX_CONFIG_BYTES)}: is this the right file?`);

function notAFile(name: string, st: Stats): ConfigError {
  const kind = kindOf(st)!;
  return new ConfigFileError(name, `is ${kind}, not a file${kind === "a directory" ? "; give the path of the config file in it (sup.toml, sup.ini, uwsgi.ini, …)" : "; sup reads a config file whole and never waits on one: give the path of a regular file"}`);
}

/** errno of a failed stat/open, in words. */
function failure(name: string, path: string | Buffer, e: unknown): ConfigError {
  const code = (e as NodeJS.ErrnoException).code;
  let why: string;
  if (code === "ENOENT") {
    let target: string | undefined;
    try {
      target = readlinkSync(path, "utf8");
    } catch {}
    why = target === undefined ? "does not exist" : `is a symlink to ${target}, which does not exist`;
  } else if (code === "ELOOP") why = "is a symlink loop (ELOOP: too many levels of symbolic links)";
  else if (code === "EACCES") why = "cannot be read (EACCES: permission denied)";
  else if (code === "ENOTDIR") why = "cannot be read (ENOTDIR: a component of its path is not a directory)";
  else if (code === "ENXIO") why = "is not a file (ENXIO: a socket or a device without a driver)";
  else why = `cannot be read (${code ?? (e as Error).message})`;
  return new ConfigFileError(name, why);
}

/** Throws what readConfigText would about the path itself (missing, a loop, a directory, a FIFO …), before anything is read. */
export function checkConfigPath(path: string | Buffer, name: string): Stats {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (e) {
    throw failure(name, path, e);
  }
  if (!st.isFile()) throw notAFile(name, st);
  return st;
}

/**
 * The text of the config file at `path` (bytes, for a name that is not
 * UTF-8; `name` as shown in messages), without a UTF-8 byte order mark
 * (editors on Windows write one; JSON.parse and the TOML parser reject it).
 * Throws ConfigError naming the file.
 */
export function readConfigText(path: string | Buffer, name: string): string {
  const bytes = readConfigBytes(path, name);
  const text = bytes.toString("utf8");
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** The bytes of the config file at `path`, read as readConfigText reads them (for readers that decode it their own way). */
export function readConfigBytes(path: string | Buffer, name: string): Buffer {
  const before = checkConfigPath(path, name);
  if (before.size > MAX_CONFIG_BYTES) throw tooBig(name, before.size);
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (e) {
    throw failure(name, path, e);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw notAFile(name, st);
    if (st.dev !== before.dev || st.ino !== before.ino) throw new ConfigFileError(name, "was replaced while sup read it; try again");
    // Read to the end, not to st.size: the file may grow meanwhile. One
    // byte more than allowed tells a file past the limit.
    let buf = Buffer.allocUnsafe(Math.min(st.size, MAX_CONFIG_BYTES) + 1);
    let length = 0;
    for (;;) {
      if (length === buf.length) {
        if (length > MAX_CONFIG_BYTES) throw tooBig(name, Math.max(length, fstatSync(fd).size));
        const bigger = Buffer.allocUnsafe(Math.min(2 * buf.length, MAX_CONFIG_BYTES + 1));
        buf.copy(bigger, 0, 0, length);
        buf = bigger;
      }
      const n = readSync(fd, buf, length, buf.length - length, null);
      if (n === 0) break;
      length += n;
    }
    return buf.subarray(0, length);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw failure(name, path, e);
  } finally {
    closeSync(fd);
  }
}
