// `sup reload|stop|status` and `sup --reload F|--stop F`: find the master by
// its pidfile, make sure that pid really is a sup master (never signal a
// stale or reused pid), then talk to it over its control socket.
import { existsSync } from "node:fs";
import { UsageError, type Cli } from "../cli.ts";
import { controlPath, isAlive, readPidfile } from "./pidfile.ts";
import type { Request } from "./server.ts";
import { statusTable, type StatusReport } from "./status.ts";

/** One request, one JSON answer; rejects on timeout or a closed socket. */
export async function ask(path: string, req: Request, timeoutMs: number): Promise<Record<string, unknown>> {
  return await new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`no answer from ${path} within ${timeoutMs / 1000}s`)), timeoutMs);
    Bun.connect({
      unix: path,
      socket: {
        open(s) {
          s.write(JSON.stringify(req) + "\n");
        },
        data(_s, chunk) {
          buf += chunk.toString();
          const nl = buf.indexOf("\n");
          if (nl < 0) return;
          clearTimeout(timer);
          try {
            resolve(JSON.parse(buf.slice(0, nl)));
          } catch (e) {
            reject(e);
          }
        },
        close() {
          clearTimeout(timer);
          reject(new Error(`${path} closed without an answer`));
        },
        error(_s, e) {
          clearTimeout(timer);
          reject(e);
        },
      },
    }).catch((e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** The pid of the sup master behind a pidfile, or a UsageError saying why not. */
export async function findMaster(pidfile: string): Promise<number> {
  const pid = readPidfile(pidfile);
  if (!isAlive(pid)) throw new UsageError(`stale pidfile ${pidfile}: pid ${pid} is not running; remove the file (nothing was signalled)`);
  const sock = controlPath(pid);
  const notSup = (why: string) => new UsageError(`pid ${pid} (from ${pidfile}) is not a sup master: ${why}; nothing was signalled`);
  if (!existsSync(sock)) throw notSup(`it has no control socket at ${sock}`);
  let pong: Record<string, unknown>;
  try {
    pong = await ask(sock, { cmd: "ping" }, 3000);
  } catch (e) {
    throw notSup(`its control socket does not answer (${(e as Error).message})`);
  }
  if (pong.sup !== true || pong.pid !== pid) throw notSup(`the control socket answered for pid ${String(pong.pid)}`);
  return pid;
}

async function pidfileOf(cli: Cli): Promise<string> {
  if (cli.pidfile) return cli.pidfile;
  // No --pidfile: use the one the config in this directory names.
  const { loadConfig } = await import("../config/load.ts");
  const { config } = await loadConfig({ ...cli, flags: [], command: [] }, process.env, process.cwd());
  if (config.pidfile) return config.pidfile;
  throw new UsageError(`sup ${cli.verb}: which master? pass --pidfile FILE (or set pidfile in the config)`);
}

export async function runClientVerb(cli: Cli): Promise<number> {
  const pidfile = await pidfileOf(cli);
  const pid = await findMaster(pidfile);
  const sock = controlPath(pid);
  switch (cli.verb) {
    case "status": {
      const r = await ask(sock, { cmd: "status" }, 5000);
      const report = r.status as StatusReport;
      console.log(cli.json ? JSON.stringify(report, null, 2) : statusTable(report).join("\n"));
      return 0;
    }
    case "reload": {
      // --wait: the master answers when the new generation serves or was rolled back.
      const r = await ask(sock, { cmd: "reload", rolling: cli.rolling, wait: cli.wait }, cli.wait ? 3_600_000 : 5000);
      const msg = String(r.message ?? r.error ?? "");
      if (r.ok) console.log(`sup: ${cli.wait ? `reloaded: ${msg}` : `reload requested (master pid ${pid})`}`);
      else console.error(`sup: reload failed: ${msg}`);
      return r.ok ? 0 : 1;
    }
    case "stop": {
      await ask(sock, { cmd: "stop", now: cli.now }, 5000);
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
