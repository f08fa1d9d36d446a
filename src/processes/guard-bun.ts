// The guard as a second sup process, `sup __guard MASTERPID RUNDIR [--cgroup
// ROOT HOME] [--tree]`: what runs where the native guard (native/guard.c)
// cannot be built or forked. It does the same job the same way (guard.c's
// comment says what and why) for 26-34 MB of RSS instead of a few hundred
// kilobytes: it reads the master's pipe on stdin and, when the pipe ends
// without "bye", kills sup's cgroup subtree, every watched group and
// process, what it last saw below the master, and every process of a
// worker's session or marked with SUP_MASTER_PID=<master>; then it removes
// the cgroups and the runtime dir.
import { readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { killCgroup, populated, removeTree } from "./cgroup.ts";
import { childrenOf, procInfo } from "./reaper.ts";

const FAST_MS = 25;
const SLOW_MS = 1000;

function kill(target: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(target, sig);
    return true;
  } catch {
    return false; // gone already
  }
}

/** Start time of a process (proc(5) field 22): tells it from a later one with the same pid. */
function startOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** Every process below pid now, breadth first, with its start time. */
function tree(pid: number, self: number, known: Map<number, string | undefined>): Map<number, string | undefined> {
  const out = new Map<number, string | undefined>();
  const queue = childrenOf(pid).filter((p) => p !== self);
  for (let i = 0; i < queue.length && i < 4096; i++) {
    const p = queue[i]!;
    if (out.has(p)) continue;
    out.set(p, known.has(p) ? known.get(p) : startOf(p));
    queue.push(...childrenOf(p));
  }
  return out;
}

/** A process and all below it: stopped first so that none forks while its children are read. Those killed. */
function killBelow(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length && i < 4096; i++) if (kill(all[i]!, "SIGSTOP")) all.push(...childrenOf(all[i]!));
  return all.filter((p) => kill(p, "SIGKILL"));
}

/** Every process of the worker sessions, or with the master's pid in its environment. */
function strays(masterPid: number, sessions: Set<number>): number[] {
  const out: number[] = [];
  const mark = `SUP_MASTER_PID=${masterPid}\0`;
  for (const name of readdirSync("/proc")) {
    if (name.charCodeAt(0) > 57 || name === String(process.pid)) continue;
    const info = procInfo(Number(name));
    if (!info) continue;
    if (sessions.has(info.sid) || sessions.has(info.pgid)) {
      out.push(info.pid);
      continue;
    }
    try {
      const env = readFileSync(`/proc/${name}/environ`, "latin1");
      if (env.startsWith(mark) || env.includes(`\0${mark}`)) out.push(info.pid);
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

/** One line as the master writes them (output/log.ts): this guard's only report. */
function say(masterPid: number, json: boolean, msg: string, fields: Record<string, number>) {
  const time = new Date().toISOString();
  console.error(json ? JSON.stringify({ time, level: "warn", pid: masterPid, msg, event: "guard.kill", ...fields }) : `${time} sup[${masterPid}] warn: ${msg}`);
}

/** `sup __guard MASTERPID RUNDIR [--cgroup ROOT HOME] [--tree] [--json]`: returns when the master has gone. */
export async function runGuard(args: string[]): Promise<number> {
  const masterPid = Number(args[0]);
  const runtimeDir = args[1] ?? "";
  const at = args.indexOf("--cgroup");
  const [root, home] = at > 0 ? [args[at + 1] ?? "", args[at + 2] ?? ""] : ["", ""];
  if (!Number.isInteger(masterPid) || masterPid < 1 || (at > 0 && (!root || !home))) {
    console.error("sup: __guard is internal: sup __guard MASTERPID RUNDIR [--cgroup ROOT HOME] [--tree] [--json]");
    return 2;
  }
  // Out of sup's subtree, which it must be able to remove after the master.
  if (home) writeFileSync(join(home, "cgroup.procs"), "0", { flag: "r+" });
  const groups = new Set<number>();
  const pids = new Set<number>();
  let below = new Map<number, string | undefined>();
  let interval = FAST_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const look = () => {
    const next = tree(masterPid, process.pid, below);
    // News is a new process outside every watched group and session (guard.c, read_tree).
    const outside = (p: number) => {
      const info = procInfo(p);
      return info !== undefined && !groups.has(info.pgid) && !groups.has(info.sid);
    };
    const changed = [...next.keys()].some((p) => !below.has(p) && outside(p));
    below = next;
    interval = changed ? FAST_MS : Math.min(interval * 2, SLOW_MS);
    timer = setTimeout(look, interval);
  };
  if (args.includes("--tree")) look();
  let bye = false;
  let rest = "";
  for await (const chunk of Bun.stdin.stream()) {
    rest += new TextDecoder().decode(chunk);
    let nl: number;
    while ((nl = rest.indexOf("\n")) >= 0) {
      const line = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      if (line === "bye") bye = true;
      const m = /^([+-])([gp]) (\d+)$/.exec(line);
      if (!m) continue;
      const set = m[2] === "g" ? groups : pids;
      if (m[1] === "+") set.add(Number(m[3]));
      else set.delete(Number(m[3]));
    }
    if (timer && interval > FAST_MS) {
      clearTimeout(timer); // a worker came or went: look again soon
      interval = FAST_MS;
      timer = setTimeout(look, FAST_MS);
    }
  }
  clearTimeout(timer);
  if (bye) return 0;
  // The master died without saying goodbye. Three passes: a process may fork
  // between a scan and its kill.
  const killed = new Set<number>();
  const byPid = (p: number) => kill(p, "SIGKILL") && killed.add(p);
  for (let pass = 0; pass < 3; pass++) {
    if (root) killCgroup(root, true); // recursive: every worker's cgroup (this guard moved out at its start)
    for (const g of groups) kill(-g, "SIGKILL");
    for (const p of pids) byPid(p);
    for (const [p, start] of below) if (start !== undefined && startOf(p) === start) for (const q of killBelow(p)) killed.add(q);
    for (const p of strays(masterPid, groups)) byPid(p);
    await Bun.sleep(50);
  }
  if (root) {
    for (let i = 0; i < 20 && populated(root); i++) await Bun.sleep(50); // the exits (the master's too) go through
    removeTree(root);
  }
  // What a clean exit would have removed: the master's runtime dir (only
  // the sockets sup makes there, then the dir itself, which must be empty).
  if (runtimeDir) {
    for (const f of ["control.sock", "notify.sock"]) rmSync(join(runtimeDir, f), { force: true });
    try {
      rmdirSync(runtimeDir);
    } catch {
      // not empty, or gone: leave it to the next master's clean-up
    }
  }
  const n = killed.size;
  say(masterPid, args.includes("--json"), `guard pid ${process.pid}: the master died without a stop; killed what was left of its workers: ${root ? `cgroup.kill on ${root}, ` : ""}${n} process${n === 1 ? "" : "es"} by pid`, { guard: process.pid, processes: n });
  return 0;
}
