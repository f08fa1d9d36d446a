// Liveness probes (`--health`): is a ready worker still serving? Each probe
// must reach the worker it checks, never whichever worker the kernel hands
// a connection on the shared socket:
//   http:/PATH         the worker's own socket: sup binds one 127.0.0.1 port
//                      per worker and passes it beside the shared ones
//                      (LISTEN_FDS, named "sup-worker"); gunicorn serves
//                      every socket it is given, others serve that fd too
//   http://HOST:{port}/PATH, tcp:HOST:{port}
//                      the worker's $PORT (--port-base)
//   exec:COMMAND       a command run with SUP_WORKER_PID, SUP_WORKER_ID, PORT
// A probe answers true for HTTP 200-399 (Kubernetes' httpGet), a tcp
// connection accepted, or exit 0, within --health-timeout.
import { ConfigError } from "../config/coerce.ts";
import { PRIVATE, checkUrl, parseTcp, tcpConnects } from "./probe.ts";
import { timerDelay } from "../core/timer.ts";

export type HealthSpec = { kind: "http"; url: string } | { kind: "tcp"; host: string; port: string } | { kind: "exec"; command: string };

const FORMS = "use http:/PATH (the worker's own socket), http://HOST:{port}/PATH or tcp:HOST:{port} (with --port-base), or exec:COMMAND";

export function parseHealth(s: string): HealthSpec {
  const bad = (why: string): never => {
    throw new ConfigError(`health ${JSON.stringify(s)}: ${why}; ${FORMS}`);
  };
  if (s.startsWith("exec:")) {
    const command = s.slice("exec:".length).trim();
    if (command === "") bad("no command");
    return { kind: "exec", command };
  }
  if (/^http:\/(?!\/)/.test(s)) return { kind: "http", url: `http://127.0.0.1:${PRIVATE}${s.slice("http:".length)}` };
  if (s.startsWith("http://") || s.startsWith("https://")) return { kind: "http", url: checkUrl(s, bad) };
  if (s.startsWith("tcp:")) return { kind: "tcp", ...parseTcp(s, bad) };
  return bad("unknown probe");
}

export interface ProbeTarget {
  id: number;
  pid: number;
  port: number;
  /** The worker's own socket's port (0: none). */
  privatePort: number;
}

const sub = (t: string, v: ProbeTarget) => t.replaceAll("{id}", String(v.id)).replaceAll("{port}", String(v.port)).replaceAll(PRIVATE, String(v.privatePort));

/** One probe of one worker, settled within timeoutMs: ok, and what failed in words. */
export async function probeHealth(spec: HealthSpec, v: ProbeTarget, timeoutMs: number): Promise<{ ok: boolean; detail: string }> {
  try {
    if (spec.kind === "http") {
      const url = sub(spec.url, v);
      const res = await fetch(url, { signal: AbortSignal.timeout(timerDelay(timeoutMs)), redirect: "manual", headers: { connection: "close" } });
      await res.body?.cancel();
      return { ok: res.status >= 200 && res.status < 400, detail: `${url} answered ${res.status}` };
    }
    if (spec.kind === "tcp") {
      const host = sub(spec.host, v);
      const port = Number(sub(spec.port, v));
      const ok = await tcpConnects(host, port, timeoutMs);
      return { ok, detail: ok ? `tcp ${host}:${port} accepted` : `tcp ${host}:${port} did not accept within ${timeoutMs / 1000}s` };
    }
    return await execProbe(spec.command, v, timeoutMs);
  } catch (e) {
    const err = e as Error;
    return { ok: false, detail: err.name === "TimeoutError" ? `no answer within ${timeoutMs / 1000}s` : err.message };
  }
}

/** exec:COMMAND through /bin/sh -c, in its own group (killed whole at the timeout), never inheriting the master's fds. */
async function execProbe(command: string, v: ProbeTarget, timeoutMs: number): Promise<{ ok: boolean; detail: string }> {
  const proc = Bun.spawn(["/bin/sh", "-c", command], {
    env: { ...process.env, SUP_WORKER_PID: String(v.pid), SUP_WORKER_ID: String(v.id), ...(v.port ? { PORT: String(v.port) } : {}) },
    stdio: ["ignore", "ignore", "pipe"],
    detached: true,
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-proc.pid, "SIGKILL");
    } catch {}
  }, timerDelay(timeoutMs));
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr as ReadableStream).text()]);
  clearTimeout(timer);
  if (timedOut) return { ok: false, detail: `exec ${command}: no exit within ${timeoutMs / 1000}s` };
  const last = err.trim().split("\n").at(-1)?.slice(0, 200) ?? "";
  return { ok: code === 0, detail: code === 0 ? `exec ${command}: exit 0` : `exec ${command}: exit ${code}${last ? ` (${last})` : ""}` };
}
