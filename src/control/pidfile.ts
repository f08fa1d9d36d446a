// The pidfile: the master's pid and nothing else (`kill -HUP $(cat app.pid)`
// keeps working), written atomically once the master is up, removed at exit
// only if it still holds our pid (a newer master may have taken it over).
import { closeSync, constants, existsSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { UsageError } from "../verbs/cli.ts";
import { StartError, errnoWords, fsFailure, whatIsAt } from "./errors.ts";

/**
 * unicorn's clobber_pid: the pid goes to a fresh file with a random name,
 * opened O_CREAT|O_EXCL|O_NOFOLLOW, which is then renamed over the pidfile.
 * A symlink planted at any name we use is never followed: O_EXCL fails on
 * it, and rename(2) replaces a symlink at the pidfile's path, not its target.
 */
export function writePidfile(path: string, pid: number) {
  const dir = dirname(path);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  for (let attempt = 0; ; attempt++) {
    const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
    let fd: number;
    try {
      fd = openSync(tmp, flags, 0o644);
    } catch (e) {
      // EEXIST for a random name: someone is guessing; draw again, a few times.
      if ((e as NodeJS.ErrnoException).code === "EEXIST" && attempt < 5) continue;
      throw fsFailure(`cannot write the pidfile ${path}`, e, dir);
    }
    try {
      writeSync(fd, `${pid}\n`);
      closeSync(fd);
      renameSync(tmp, path);
      return;
    } catch (e) {
      try {
        closeSync(fd);
      } catch {}
      try {
        unlinkSync(tmp);
      } catch {}
      // The rename failed: what stands at the path is the reason (a directory, another user's link in /tmp), not the directory.
      const there = whatIsAt(path);
      if (there) throw new StartError(`cannot write the pidfile ${path}: ${errnoWords(e)}; ${path} is ${there}, which sup does not replace: remove it, or choose another path`);
      throw fsFailure(`cannot write the pidfile ${path}`, e, dir);
    }
  }
}

export function removePidfile(path: string, pid: number) {
  try {
    if (readFileSync(path, "utf8").trim() === String(pid)) unlinkSync(path);
  } catch {
    // already gone
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The pid a pidfile names (its first line; 1 is a master that is PID 1 of a
 * container); a missing or malformed file is a UsageError naming it.
 */
export function readPidfile(path: string): number {
  if (!existsSync(path)) throw new UsageError(`pidfile ${path} does not exist; is the master running? (start it with --pidfile ${path})`);
  let text: string;
  try {
    text = readFileSync(path, "utf8").split("\n")[0]!.trim();
  } catch (e) {
    throw new UsageError(`pidfile ${path} cannot be read: ${(e as Error).message}`);
  }
  const pid = Number(text);
  if (!/^\d+$/.test(text) || pid < 1 || pid > 4194304) throw new UsageError(`pidfile ${path} does not hold a pid (it says ${JSON.stringify(text.slice(0, 40))}); remove it`);
  return pid;
}
