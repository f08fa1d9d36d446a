// The pidfile: written atomically once the master is up, removed at exit only
// if it still holds our pid (a newer master may have taken it over).
import { existsSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../cli.ts";

/** Per-master runtime directory: control socket and per-worker notify sockets. */
export const runtimeDir = (pid: number) => join(tmpdir(), `sup-${pid}`);
export const controlPath = (pid: number) => join(runtimeDir(pid), "control.sock");

export function writePidfile(path: string, pid: number) {
  const tmp = `${path}.${pid}.tmp`;
  writeFileSync(tmp, `${pid}\n`);
  renameSync(tmp, path);
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

/** The pid a pidfile names; a missing or malformed file is a UsageError naming it. */
export function readPidfile(path: string): number {
  if (!existsSync(path)) throw new UsageError(`pidfile ${path} does not exist; is the master running? (start it with --pidfile ${path})`);
  let text: string;
  try {
    text = readFileSync(path, "utf8").trim();
  } catch (e) {
    throw new UsageError(`pidfile ${path} cannot be read: ${(e as Error).message}`);
  }
  const pid = Number(text);
  if (!/^\d+$/.test(text) || pid <= 1) throw new UsageError(`pidfile ${path} does not hold a pid (it says ${JSON.stringify(text.slice(0, 40))}); remove it`);
  return pid;
}
