// Readiness specs (`--ready`): how the master learns that a new worker can
// take traffic. `notify` and `delay` are decided by the master (a READY=1
// datagram, time alive); `tcp` and `http` are probes run here.
import { ConfigError } from "../config/coerce.ts";
import { timerDelay } from "../core/timer.ts";

/** The address sup gives every worker of its own when a probe needs it (`http:/PATH`, `{private}`). */
export const PRIVATE = "{private}";
/** Whether a probe of this kind needs the worker's own socket. */
export const needsPrivate = (s: string) => /^http:\/(?!\/)/.test(s) || s.includes(PRIVATE);

export type ReadySpec =
  | { kind: "notify" }
  | { kind: "tcp"; host: string; port: string }
  /** strict: only 200-399 counts (http:/PATH on the worker's own socket, to catch an app that answers 500). */
  | { kind: "http"; url: string; strict?: boolean }
  | { kind: "delay"; seconds: number };

const FORMS = "use notify, tcp:HOST:PORT, tcp:PORT, http://HOST:PORT/PATH, http:/PATH (the worker's own socket) or delay:SECONDS ({id} and {port} are replaced per worker)";

/** One probe attempt's bound: a worker that answers slower is not ready yet. */
const PROBE_MS = 1000;

export function parseReady(s: string): ReadySpec {
  const bad = (why: string): never => {
    throw new ConfigError(`ready ${JSON.stringify(s)}: ${why}; ${FORMS}`);
  };
  const unknown = s.replaceAll("{id}", "").replaceAll("{port}", "").replaceAll(PRIVATE, "").match(/\{[^}]*\}/);
  if (unknown) bad(`unknown placeholder ${unknown[0]}`);
  if (s === "notify") return { kind: "notify" };
  // http:/PATH: the worker's own socket (PRIVATE), where only this worker answers.
  if (/^http:\/(?!\/)/.test(s)) return { kind: "http", url: `http://127.0.0.1:${PRIVATE}${s.slice("http:".length)}`, strict: true };
  if (s.startsWith("delay:")) {
    const text = s.slice("delay:".length);
    const seconds = Number(text);
    if (text.trim() === "" || !Number.isFinite(seconds) || seconds < 0) bad("delay must be a number of seconds, 0 or more");
    return { kind: "delay", seconds };
  }
  if (s.startsWith("tcp:")) return { kind: "tcp", ...parseTcp(s, bad) };
  if (s.startsWith("http://") || s.startsWith("https://")) return { kind: "http", url: checkUrl(s, bad) };
  return bad("unknown readiness check");
}

/** An http(s) probe's URL as given, once it parses with its placeholders filled in. `bad` throws. */
export function checkUrl(s: string, bad: (why: string) => never): string {
  try {
    new URL(s.replaceAll("{id}", "1").replaceAll("{port}", "1").replaceAll(PRIVATE, "1"));
  } catch {
    bad("not a valid URL");
  }
  return s;
}

/** `tcp:HOST:PORT` or `tcp:PORT` (127.0.0.1); the port a number, or {port}/{id} placeholders. `bad` throws. */
export function parseTcp(s: string, bad: (why: string) => never): { host: string; port: string } {
  const m = /^tcp:(?:(\[[^\]]+\]|[^:\[\]]+):)?([^:]+)$/.exec(s) ?? bad("not a tcp probe");
  const port = m[2]!;
  if (!/^(?:\d|\{id\}|\{port\})+$/.test(port)) bad(`port ${port} must be a number`);
  if (/^\d+$/.test(port) && (Number(port) < 1 || Number(port) > 65535)) bad("port must be 1..65535");
  return { host: (m[1] ?? "127.0.0.1").replace(/^\[(.*)\]$/, "$1"), port };
}

/** The spec for one worker: {id} and {port} replaced by its values. */
export function expandReady(spec: ReadySpec, vars: { id: number; port: number; privatePort?: number }): ReadySpec {
  const sub = (t: string) => t.replaceAll("{id}", String(vars.id)).replaceAll("{port}", String(vars.port)).replaceAll(PRIVATE, String(vars.privatePort ?? 0));
  switch (spec.kind) {
    case "tcp":
      return { kind: "tcp", host: sub(spec.host), port: sub(spec.port) };
    case "http":
      return { kind: "http", url: sub(spec.url), strict: spec.strict };
    default:
      return spec;
  }
}

/**
 * One attempt, settled within about a second. tcp: a connection is accepted;
 * http: any answer below 500 (a 404 still means the server runs). Always
 * false for notify and delay, which the master decides itself.
 */
export async function probeOnce(spec: ReadySpec): Promise<boolean> {
  if (spec.kind === "tcp") return tcpConnects(spec.host, Number(spec.port));
  if (spec.kind !== "http") return false;
  try {
    // Connection: close, so no pooled connection outlives the probe and
    // keeps a retiring worker busy.
    const res = await fetch(spec.url, {
      signal: AbortSignal.timeout(PROBE_MS),
      redirect: "manual",
      headers: { connection: "close" },
    });
    await res.body?.cancel();
    return spec.strict ? res.status >= 200 && res.status < 400 : res.status < 500;
  } catch {
    return false;
  }
}

/** True when host:port accepts a TCP connection within timeoutMs (closed at once). */
export async function tcpConnects(host: string, port: number, timeoutMs = PROBE_MS): Promise<boolean> {
  // Imported here: node:net costs the master ~3.7 MB and only tcp probes use it.
  const { connect } = await import("node:net");
  return await new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timerDelay(timeoutMs));
    sock.once("connect", () => done(true));
    sock.once("error", () => done(false));
  });
}
