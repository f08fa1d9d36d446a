// The guard: a small second process (`sup __guard MASTERPID`) that outlives
// a master killed by SIGKILL and takes its workers' trees with it.
//
// The exec shim's PR_SET_PDEATHSIG kills each worker itself when the master
// dies, but not the rest of its process group (the kernel signals only the
// child), nor what it setsid'ed: those are reparented away from the dead
// master and would run forever. A dying process cannot clean up after
// itself, so the guard does: it reads, on a pipe from the master, which
// process groups and escaped processes the workers have, and when that pipe
// ends without a "bye" (the master is gone, however it died), it SIGKILLs
// them, then every process of a worker's session and every process whose
// environment says SUP_MASTER_PID=<the master> (a setsid'ed daemon of a
// worker still alive at that moment). The guard costs one idle process
// blocked in read(2): its RSS is measured in BENCHMARKS.md.
import { readFileSync, readdirSync, rmSync, rmdirSync } from "node:fs";
import { join } from "node:path";

type Kind = "g" | "p"; // a process group, or one process

// --- in the master ---

export interface GuardLink {
  readonly pid: number;
  watch(kind: Kind, n: number): void;
  unwatch(kind: Kind, n: number): void;
  /** A clean exit: the guard leaves everything alone and ends. */
  close(): void;
}

/** Starts the guard, and starts it again (with what it watched) if it ever dies while the master runs. */
export function startGuard(argv: string[], masterPid: number, runtimeDir: string, onRestart: (why: string) => void): GuardLink {
  const watched = new Set<string>();
  let closed = false;
  let proc: ReturnType<typeof spawn>;
  const send = (line: string) => {
    try {
      proc.stdin.write(line + "\n");
      void proc.stdin.flush();
    } catch {
      // the guard is gone; its onExit starts another
    }
  };
  function spawn() {
    const p = Bun.spawn([...argv, String(masterPid), runtimeDir], {
      stdin: "pipe",
      stdout: "ignore",
      stderr: "inherit",
      // Its own session: a Ctrl-C or a signal to the master's group never reaches it.
      detached: true,
      onExit: (_p, code, signal) => {
        if (closed) return;
        onRestart(`the guard pid ${p.pid} exited ${signal ? `on ${signal}` : `code ${code}`}; starting another`);
        proc = spawn();
        for (const w of watched) send(`+${w[0]} ${w.slice(1)}`);
      },
    });
    return p;
  }
  proc = spawn();
  return {
    get pid() {
      return proc.pid;
    },
    watch(kind, n) {
      if (watched.has(kind + n)) return;
      watched.add(kind + n);
      send(`+${kind} ${n}`);
    },
    unwatch(kind, n) {
      if (watched.delete(kind + n)) send(`-${kind} ${n}`);
    },
    close() {
      closed = true;
      send("bye");
      void proc.stdin.end();
    },
  };
}

// --- in the guard process ---

function kill(target: number, sig: NodeJS.Signals): void {
  try {
    process.kill(target, sig);
  } catch {
    // gone already
  }
}

/** Every process of the worker sessions, or with the master's pid in its environment. */
function strays(masterPid: number, sessions: Set<number>): number[] {
  const out: number[] = [];
  const mark = `SUP_MASTER_PID=${masterPid}\0`;
  for (const name of readdirSync("/proc")) {
    if (name.charCodeAt(0) > 57 || name === String(process.pid)) continue;
    const pid = Number(name);
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "latin1");
      const [, , pgrp, session] = stat.slice(stat.lastIndexOf(")") + 2).split(" ", 4);
      if (sessions.has(Number(session)) || sessions.has(Number(pgrp))) {
        out.push(pid);
        continue;
      }
      const env = readFileSync(`/proc/${name}/environ`, "latin1");
      if (env.startsWith(mark) || env.includes(`\0${mark}`)) out.push(pid);
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

/** `sup __guard MASTERPID RUNDIR`: returns when the master has gone. */
export async function runGuard(args: string[]): Promise<number> {
  const masterPid = Number(args[0]);
  const runtimeDir = args[1] ?? "";
  if (!Number.isInteger(masterPid) || masterPid < 1) {
    console.error("sup: __guard is internal: sup __guard MASTERPID RUNDIR");
    return 2;
  }
  const groups = new Set<number>();
  const pids = new Set<number>();
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
  }
  if (bye) return 0;
  // The master died without saying goodbye. Three passes: a process may fork
  // between a scan and its kill.
  for (let pass = 0; pass < 3; pass++) {
    for (const g of groups) kill(-g, "SIGKILL");
    for (const p of pids) kill(p, "SIGKILL");
    for (const p of strays(masterPid, groups)) kill(p, "SIGKILL");
    await Bun.sleep(50);
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
  return 0;
}
