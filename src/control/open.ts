// What the master sets up for its clients, in order: the runtime dir, the
// control socket in it, then the pidfile. Any failure is a StartError (exit
// 2) after undoing what was already made, so a master that did not start
// leaves nothing behind; close() undoes it all at exit.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Event } from "../supervisor/events.ts";
import type { Queue } from "../core/queue.ts";
import { UsageError } from "../verbs/cli.ts";
import { isAlive, readPidfile, removePidfile, writePidfile } from "./pidfile.ts";
import { CONTROL_SOCKET, makeRuntimeDir, removeRuntimeDir } from "./rundir.ts";
import { startControl } from "../sources/control.ts";

export interface Control {
  /** sup-PID: a real directory, ours, mode 0700; notify sockets may go straight in. */
  readonly dir: string;
  close(): void;
}

/** pidfile is absolute, or "" for none. */
export function openControl(pid: number, pidfile: string, queue: Queue<Event>, version: string): Control {
  const dir = makeRuntimeDir(pid, process.env, process.cwd());
  let server: { close(): void } | undefined;
  try {
    server = startControl(join(dir, CONTROL_SOCKET), queue, version);
    if (pidfile) writePidfile(pidfile, pid);
  } catch (e) {
    server?.close();
    removeRuntimeDir(dir);
    throw e;
  }
  return {
    dir,
    close() {
      server.close();
      if (pidfile) removePidfile(pidfile, pid);
      removeRuntimeDir(dir);
    },
  };
}

/**
 * Refuses to start when the pidfile names a running process (exit 2), as
 * gunicorn's arbiter does: a live sup master, or another program whose
 * pidfile this is (a supervisord.conf's pidfile = while supervisord still
 * runs: its init script would then stop sup). A pidfile whose pid is gone
 * is stale and ours to overwrite.
 */
export async function refuseRunningMaster(pidfile: string) {
  let pid: number;
  try {
    pid = readPidfile(pidfile);
  } catch {
    return; // missing or malformed
  }
  if (pid === process.pid || !isAlive(pid)) return;
  const { findMaster } = await import("../verbs/client.ts");
  const running = await findMaster(pidfile).then(() => true, () => false);
  if (running) throw new UsageError(`another sup master (pid ${pid}) is running with pidfile ${pidfile}; stop it first (sup stop --pidfile ${pidfile}) or choose another pidfile`);
  if (!isAlive(pid)) return; // it exited meanwhile
  let what = "";
  try {
    what = ` (${readFileSync(`/proc/${pid}/comm`, "utf8").trim()})`;
  } catch {}
  throw new UsageError(`pidfile ${pidfile} names pid ${pid}${what}, a running process that is not a sup master answering on it: another program's pidfile, or a stale one whose pid was taken since; stop that program or choose another pidfile, or remove the file if it is stale`);
}
