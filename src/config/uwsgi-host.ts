// The machine as the uWSGI reader sees it: files, the environment, the
// hostname, CPUs and user (for %h %k %u %U %g %G). Paths and values cross
// as byte strings (src/config/uwsgi-magic.ts), relative paths from `cwd` as
// uWSGI opens them from its working directory.
import { accessSync, constants, globSync, lstatSync, readFileSync, realpathSync, statSync } from "node:fs";
import { ConfigFileError, readConfigBytes } from "./read.ts";
import { cpus, hostname, userInfo } from "node:os";
import { resolve } from "node:path";
import { fromBytes, toBytes } from "./uwsgi-magic.ts";
import type { ReadHost } from "./uwsgi-read.ts";

/** uWSGI's own version (core/uwsgi.h UWSGI_VERSION) is what %V gives there; sup says its own. */
declare const SUP_VERSION: string;

/** Only regular files are read, through sup's config reader (read.ts): a FIFO or a device would block the master. */
function readBytes(path: string): { bytes: string } | { error: string } {
  try {
    return { bytes: readConfigBytes(path, path).toString("latin1") };
  } catch (e) {
    if (e instanceof ConfigFileError) return { error: e.why };
    throw e;
  }
}

/**
 * exec://COMMAND, as uWSGI's uwsgi_open_and_read (core/utils.c) reads it:
 * what the command prints, run by the shell from the working directory
 * (`logto = app-@(exec://date +%%F).log`). Bounded: a reload reads the
 * config again, and a command that hangs must not hold it.
 */
function runBytes(command: string, cwd: string, env: Record<string, string | undefined>): { bytes: string } | { error: string } {
  const p = Bun.spawnSync(["/bin/sh", "-c", command], { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: 5000 });
  if (p.signalCode) return { error: `did not finish in 5 s (${p.signalCode})` };
  const out = p.stdout.toString("latin1");
  if (p.exitCode !== 0 && out === "") return { error: `exited ${p.exitCode}${p.stderr.length > 0 ? `: ${p.stderr.toString().trim().split("\n")[0]}` : ""}` };
  return { bytes: out };
}

function groupName(gid: number): string | undefined {
  try {
    const line = readFileSync("/etc/group", "utf8").split("\n").find((l) => l.split(":")[2] === String(gid));
    return line?.split(":")[0];
  } catch {
    return undefined;
  }
}

export function realHost(cwd: string, env: Record<string, string | undefined>, plugins: Iterable<string> = []): ReadHost {
  const at = (p: string) => resolve(cwd, fromBytes(p));
  const ok = (f: () => unknown) => {
    try {
      f();
      return true;
    } catch {
      return false;
    }
  };
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  let user: string | undefined;
  try {
    user = userInfo().username;
  } catch {}
  return {
    cwd,
    env,
    hostname: hostname(),
    cpus: cpus().length || 1,
    uid,
    gid,
    user,
    group: groupName(gid),
    now: () => Date.now() / 1000,
    binary: process.execPath,
    version: typeof SUP_VERSION === "string" ? `sup-${SUP_VERSION}` : "sup-dev",
    realpath: (p) => (ok(() => statSync(resolve(cwd, p))) ? realpathSync(resolve(cwd, p)) : undefined),
    isSymlink: (p) => lstatSync(resolve(cwd, p), { throwIfNoEntry: false })?.isSymbolicLink() ?? false,
    inode: (p) => lstatSync(resolve(cwd, p), { throwIfNoEntry: false })?.ino,
    read: (p) => (p.startsWith("exec://") ? runBytes(p.slice(7), cwd, env) : readBytes(resolve(cwd, p))),
    exists: (p) => ok(() => accessSync(at(p), constants.R_OK)),
    isFile: (p) => statSync(at(p), { throwIfNoEntry: false })?.isFile() ?? false,
    isDir: (p) => statSync(at(p), { throwIfNoEntry: false })?.isDirectory() ?? false,
    glob: (pattern) => {
      const found = globSync(fromBytes(pattern), { cwd }).sort();
      if (found.length === 0) return [pattern];
      return found.map((f) => toBytes(statSync(resolve(cwd, f), { throwIfNoEntry: false })?.isDirectory() ? `${f}/` : f));
    },
    lines: (p) => {
      const got = readBytes(at(p));
      return "error" in got ? undefined : got.bytes.split("\n").filter((l, i, all) => l !== "" || i < all.length - 1);
    },
    plugins: new Set(plugins),
  };
}
