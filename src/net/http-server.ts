// A small HTTP/1.1 server for the master's stats endpoints (sources/stats.ts),
// on Bun.listen over a socket listen.ts bound: GET and HEAD only, no
// request bodies, keep-alive, one request at a time per connection (a
// pipelined one waits its turn). Every connection is bounded, so a hostile
// client costs the master a few microseconds and never a stall:
// - at most MAX_CONNECTIONS open; a new one takes the place of the oldest
//   that is not being answered (slowloris connections go first), or is
//   refused with 503 when every one is;
// - a request head of at most MAX_HEAD bytes (431 past it), complete within
//   HEAD_TIMEOUT_S of its first byte (408: a client trickling bytes is cut
//   off when its next byte comes late, a silent one by the socket timeout);
// - an idle keep-alive connection is closed after IDLE_TIMEOUT_S, and a
//   client that does not read its answer within ANSWER_TIMEOUT_S too.
import type { Socket, TCPSocketListenOptions, TCPSocketListener } from "bun";

export const MAX_CONNECTIONS = 128;
export const MAX_HEAD = 8192;
export const HEAD_TIMEOUT_S = 5;
const IDLE_TIMEOUT_S = 30;
export const ANSWER_TIMEOUT_S = 5;

export interface Request {
  method: string;
  path: string;
  headers: Map<string, string>;
}

export interface Response {
  status: number;
  body: string;
  type?: string;
}

/** A request's handler answers by calling `respond`, now or later (after the loop answered). */
export type Handler = (req: Request, respond: (r: Response) => void) => void;

interface Conn {
  buf: string;
  /** When the head being read began (ms). */
  since: number;
  busy: boolean;
  keep: boolean;
  head: boolean;
  out?: Uint8Array;
  closed: boolean;
}

const REASONS: Record<number, string> = { 200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout", 413: "Content Too Large", 431: "Request Header Fields Too Large", 503: "Service Unavailable" };
const encoder = new TextEncoder();

export interface HttpServer {
  close(): void;
  /** Connections turned away (every slot busy) or cut off (bounds), since start. */
  readonly rejected: number;
}

export function serveHttp(fd: number, handler: Handler, onStuck: () => Response): HttpServer {
  const open = new Set<Socket<Conn>>();
  let rejected = 0;

  const send = (s: Socket<Conn>, status: number, body: string, type = "text/plain; charset=utf-8") => {
    const c = s.data;
    if (c.closed) return;
    const bytes = encoder.encode(body);
    const head = `HTTP/1.1 ${status} ${REASONS[status] ?? "Error"}\r\nContent-Type: ${type}\r\nContent-Length: ${bytes.length}\r\nCache-Control: no-store\r\n${c.keep ? "" : "Connection: close\r\n"}\r\n`;
    // One write of head and body: two would meet Nagle's algorithm and the peer's delayed ACK (40 ms).
    const out = new Uint8Array(head.length + (c.head ? 0 : bytes.length));
    encoder.encodeInto(head, out);
    if (!c.head) out.set(bytes, head.length);
    c.out = out;
    flush(s);
  };

  const flush = (s: Socket<Conn>) => {
    const c = s.data;
    if (!c.out || c.closed) return;
    const n = s.write(c.out);
    if (n < c.out.length) {
      c.out = c.out.subarray(Math.max(0, n));
      s.timeout(ANSWER_TIMEOUT_S);
      return;
    }
    c.out = undefined;
    c.busy = false;
    if (!c.keep) return void s.end();
    c.since = performance.now();
    s.timeout(c.buf.length ? HEAD_TIMEOUT_S : IDLE_TIMEOUT_S);
    if (c.buf.length) next(s);
  };

  const refuse = (s: Socket<Conn>, status: number, why: string) => {
    rejected++;
    s.data.keep = false;
    s.data.busy = true;
    send(s, status, `${why}\n`);
  };

  /** Takes the next complete request head from the buffer, if there is one. */
  const next = (s: Socket<Conn>) => {
    const c = s.data;
    const m = /\r?\n\r?\n/.exec(c.buf);
    if (!m) {
      if (c.buf.length > MAX_HEAD) return refuse(s, 431, `request head longer than ${MAX_HEAD} bytes`);
      if (performance.now() - c.since > HEAD_TIMEOUT_S * 1000) return refuse(s, 408, `request head not complete within ${HEAD_TIMEOUT_S}s`);
      return;
    }
    if (m.index > MAX_HEAD) return refuse(s, 431, `request head longer than ${MAX_HEAD} bytes`);
    const lines = c.buf.slice(0, m.index).split(/\r?\n/);
    c.buf = c.buf.slice(m.index + m[0].length);
    c.busy = true;
    const start = /^([A-Z]+) (\S+) HTTP\/1\.([01])$/.exec(lines[0]!);
    if (!start) return refuse(s, 400, "not an HTTP/1.x request line");
    const headers = new Map<string, string>();
    for (const l of lines.slice(1)) {
      const colon = l.indexOf(":");
      if (colon > 0) headers.set(l.slice(0, colon).trim().toLowerCase(), l.slice(colon + 1).trim());
    }
    const conn = headers.get("connection")?.toLowerCase() ?? "";
    c.keep = start[3] === "1" ? !conn.includes("close") : conn.includes("keep-alive");
    c.head = start[1] === "HEAD";
    if (headers.has("transfer-encoding") || Number(headers.get("content-length") ?? 0) > 0) return refuse(s, 413, "no request body is accepted here");
    if (start[1] !== "GET" && start[1] !== "HEAD") return refuse(s, 405, "only GET and HEAD");
    s.timeout(ANSWER_TIMEOUT_S);
    handler({ method: start[1]!, path: start[2]!.split("?")[0]!, headers }, (r) => {
      if (s.data === c && c.busy && !c.out) send(s, r.status, r.body, r.type);
    });
  };

  // Bun.listen takes a bound socket's fd (DESIGN.md §7), which its types do not declare.
  const listener: TCPSocketListener<Conn> = Bun.listen<Conn>({
    fd,
    socket: {
      open(s: Socket<Conn>) {
        s.data = { buf: "", since: performance.now(), busy: false, keep: true, head: false, closed: false };
        if (open.size >= MAX_CONNECTIONS) {
          const idle = [...open].find((x) => !x.data.busy);
          if (!idle) return refuse(s, 503, `busy: ${MAX_CONNECTIONS} requests are being answered`);
          rejected++;
          idle.data.closed = true;
          open.delete(idle);
          idle.end();
        }
        open.add(s);
        s.timeout(HEAD_TIMEOUT_S);
      },
      data(s: Socket<Conn>, chunk: Buffer) {
        const c = s.data;
        if (c.closed) return;
        if (c.buf.length === 0 && !c.busy) c.since = performance.now();
        c.buf += chunk.toString("latin1");
        if (!c.busy) next(s);
        else if (c.buf.length > MAX_HEAD) s.end(); // pipelining past every bound while being answered
      },
      drain: flush,
      timeout(s: Socket<Conn>) {
        const c = s.data;
        if (c.busy && !c.out) {
          // The loop did not answer in time (a stuck master): say so rather than hang.
          const r = onStuck();
          return send(s, r.status, r.body, r.type);
        }
        if (!c.busy && c.buf.length) return refuse(s, 408, `request head not complete within ${HEAD_TIMEOUT_S}s`);
        rejected += c.out ? 1 : 0;
        c.closed = true;
        s.end();
      },
      close(s: Socket<Conn>) {
        s.data.closed = true;
        open.delete(s);
      },
      error(s: Socket<Conn>) {
        s.data.closed = true;
        open.delete(s);
      },
    },
  } as unknown as TCPSocketListenOptions<Conn>);
  return {
    close() {
      listener.stop(true);
    },
    get rejected() {
      return rejected;
    },
  };
}
