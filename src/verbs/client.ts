// `sup reload|stop|status` and `sup --reload F|--stop F`: find the master by
// its pidfile, make sure that pid really is a sup master (never signal a
// stale or reused pid, never trust a socket someone else planted), then talk
// to it over its control socket.
import { readFileSync } from "node:fs";
import { UsageError, type Cli } from "./cli.ts";
import { peerCred, socketFd } from "../net/peercred.ts";
import { PermissionDenied } from "../control/errors.ts";
import { locateControl } from "../control/locate.ts";
import { isAlive, readPidfile } from "../control/pidfile.ts";
import type { Request } from "../control/request.ts";
import { statusTable, type StatusReport } from "../control/status.ts";

/** Largest answer read (a status report of many workers); a longer one is an error, not a memory sink. */
const MAX_ANSWER = 16 << 20;

/**
 * One request, one JSON answer; rejects on timeout or a closed socket. With
 * `pid`, the process listening on path must be that pid (SO_PEERCRED).
 */
export async function ask(path: string, req: Request, timeoutMs: number, pid?: number): Promise<Record<string, unknown>> {
  return await new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`no answer from ${path} within ${timeoutMs / 1000}s`)), timeoutMs);
    const fail = (e: Error) => {
      clearTimeout(timer);
      reject(e);
    };
    Bun.connect({
      unix: path,
      socket: {
        open(s) {
          if (pid !== undefined) {
            let holder: number;
            try {
              holder = peerCred(socketFd(s)).pid;
            } catch (e) {
              fail(new Error(`cannot tell who listens on ${path}: ${(e as Error).message}`));
              s.end(); // after fail: end() runs close(), whose reason would win
              return;
            }
            if (holder !== pid) {
              fail(Object.assign(new Error(`${path} is held by pid ${holder}, not by ${pid}`), { holder }));
              s.end();
              return;
            }
          }
          s.write(JSON.stringify(req) + "\n");
        },
        data(s, chunk) {
          buf += chunk.toString();
          const nl = buf.indexOf("\n");
          if (nl < 0) {
            if (buf.length > MAX_ANSWER) {
              fail(new Error(`${path} sent more than ${MAX_ANSWER} bytes without a line end`));
              s.end();
            }
            return;
          }
          clearTimeout(timer);
          try {
            resolve(JSON.parse(buf.slice(0, nl)));
          } catch (e) {
            reject(e);
          }
        },
        close() {
          fail(new Error(`${path} closed without an answer`));
        },
        error(_s, e) {
          fail(e);
        },
      },
    }).catch(fail);
  });
}

/** A process's pid in its own (innermost) pid namespace, from /proc/PID/status NSpid; undefined when unreadable. */
function innermostPid(pid: number): number | undefined {
  try {
    const line = /^NSpid:\s*(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return line ? Number(line.trim().split(/\s+/).at(-1)) : undefined;
  } catch {
    return undefined;
  }
}

/** A refusal from the master (another uid) becomes PermissionDenied: exit 2, and not "not a sup master". */
function checkDenied(r: Record<string, unknown>) {
  if (r.denied === true) throw new PermissionDenied(`${String(r.error)}; nothing was signalled`);
  return r;
}

/** The sup master behind a pidfile and its control socket, or a UsageError saying why not. */
export async function findMaster(pidfile: string): Promise<{ pid: number; sock: string }> {
  const pid = readPidfile(pidfile);
  if (!isAlive(pid)) throw new UsageError(`stale pidfile ${pidfile}: pid ${pid} is not running; remove the file (nothing was signalled)`);
  const { socket: sock } = locateControl(pid, pidfile);
  const notSup = (why: string) => new UsageError(`pid ${pid} (from ${pidfile}) is not a sup master: ${why}; nothing was signalled`);
  let pong: Record<string, unknown>;
  try {
    pong = await ask(sock, { cmd: "ping" }, 3000, pid);
  } catch (e) {
    const holder = (e as { holder?: number }).holder;
    if (holder !== undefined && innermostPid(holder) === pid) {
      // A master that is PID 1 (or N) of a container writes its own pid; seen from the host, that pid is someone else.
      throw new UsageError(`pidfile ${pidfile} names pid ${pid} of another pid namespace: the master there is pid ${holder} here (its control socket is ${sock}); run sup inside that namespace (nsenter -t ${holder} -p -m sup …), or signal pid ${holder}; nothing was signalled`);
    }
    throw notSup(holder === undefined ? `its control socket does not answer (${(e as Error).message})` : `${(e as Error).message}`);
  }
  checkDenied(pong);
  // The master answered, but not the ping (it is busy): say what it said, not "not a sup master".
  if (pong.ok === false) throw new UsageError(`sup master pid ${pid} (from ${pidfile}) did not take the request: ${String(pong.error)}`);
  if (pong.sup !== true || pong.pid !== pid) throw notSup(`the control socket answered for pid ${String(pong.pid)}`);
  return { pid, sock };
}

/** What the master said of a program's stop, start or restart. */
function programAnswer(r: Record<string, unknown>): number {
  const msg = String(r.message ?? r.error ?? "");
  if (r.ok) console.log(`sup: ${msg}`);
  else console.error(`sup: ${msg}`);
  return r.ok ? 0 : 1;
}

export async function pidfileOf(cli: Cli): Promise<string> {
  if (cli.pidfile) return cli.pidfile;
  // No --pidfile: use the one the config in this directory names.
  const { loadConfig } = await import("../config/load.ts");
  const { config } = await loadConfig({ ...cli, flags: [], command: [] }, process.env, process.cwd());
  if (config.pidfile) return config.pidfile;
  throw new UsageError(`sup ${cli.verb}: which master? pass --pidfile FILE (or set pidfile in the config)`);
}

export async function runClientVerb(cli: Cli): Promise<number> {
  const pidfile = await pidfileOf(cli);
  const { pid, sock } = await findMaster(pidfile);
  switch (cli.verb) {
    case "status": {
      const r = checkDenied(await ask(sock, { cmd: "status" }, 5000, pid));
      const report = r.status as StatusReport;
      console.log(cli.json ? JSON.stringify(report, null, 2) : statusTable(report).join("\n"));
      return 0;
    }
    case "reload": {
      // --wait: the master answers when the new generation serves or was rolled back.
      const r = checkDenied(await ask(sock, { cmd: "reload", rolling: cli.rolling, wait: cli.wait, ...(cli.program ? { program: cli.program } : {}) }, cli.wait ? 3_600_000 : 5000, pid));
      const msg = String(r.message ?? r.error ?? "");
      if (r.ok) console.log(`sup: ${cli.wait ? `reloaded: ${msg}` : `reload requested (master pid ${pid})`}`);
      else console.error(`sup: reload failed: ${msg}`);
      // 1: rolled back, the old code serves; 3: failed with nothing serving (stop-first).
      return r.ok ? 0 : r.outage ? 3 : 1;
    }
    case "reopen-logs":
      return programAnswer(checkDenied(await ask(sock, { cmd: "reopen-logs" }, 5000, pid)));
    case "start":
    case "restart":
      return programAnswer(checkDenied(await ask(sock, { cmd: cli.verb, program: cli.program! }, 5000, pid)));
    case "stop": {
      if (cli.program) return programAnswer(checkDenied(await ask(sock, { cmd: "stop", program: cli.program }, 5000, pid)));
      const r = checkDenied(await ask(sock, { cmd: "stop", now: cli.now }, 5000, pid));
      if (!r.ok) {
        console.error(`sup: stop failed: ${String(r.error ?? "")}`);
        return 1;
      }
      // Wait for the master to finish, as systemd's ExecStop expects.
      const deadline = Date.now() + 120_000;
      while (isAlive(pid) && Date.now() < deadline) await Bun.sleep(50);
      if (isAlive(pid)) {
        console.error(`sup: master pid ${pid} is still stopping after 120s`);
        return 1;
      }
      console.log(`sup: master pid ${pid} stopped`);
      return 0;
    }
    default:
      throw new UsageError(`sup ${cli.verb}: not a control verb`);
  }
}
