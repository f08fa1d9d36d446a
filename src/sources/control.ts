// The control socket: `sup reload|stop|status` talk to the master here, one
// JSON request and one JSON answer per connection. Requests become events;
// only the arbiter loop acts on them.
//
// Who may ask: the master's own uid and root, told by SO_PEERCRED, read from
// the accepted socket's fd the moment Bun hands it over (getsockopt never
// blocks). The 0700 runtime dir already keeps other users from connecting;
// this holds even if that dir were opened up. Every connection is bounded:
// a request line of at most MAX_REQUEST bytes, 1 s to send it (sup's own
// client sends it at once), at most MAX_CONNECTIONS at a time, and a new
// client takes the place of the oldest idle one: 100 clients that connect
// and say nothing never keep `sup status` out.
import type { Socket } from "bun";
import { dirname } from "node:path";
import type { Event } from "../supervisor/events.ts";
import type { Queue } from "../core/queue.ts";
import { peerCred, socketFd } from "../net/peercred.ts";
import { describeUid, fsFailure } from "../control/errors.ts";
import { MAX_REQUEST, parseRequest, type Request } from "../control/request.ts";

export type { Request } from "../control/request.ts";

const MAX_CONNECTIONS = 32;
const REQUEST_TIMEOUT_S = 1;

interface Conn {
  buf: string;
  bytes: number;
  done: boolean; // the one request was taken (or refused)
  refused?: Answer; // the answer to whatever this peer sends
}

type Answer = Record<string, unknown>;

/** Whether uid may control a master run by owner, and if not, what the client is told. */
export function refusal(uid: number, owner: number, pid: number): string | undefined {
  if (uid === 0 || uid === owner) return undefined;
  return `permission denied: ${describeUid(uid)} may not control sup master pid ${pid}, which runs as ${describeUid(owner)}; only that user and root may`;
}

export function startControl(path: string, queue: Queue<Event>, version: string): { close(): void } {
  const owner = process.geteuid?.() ?? 0;
  const open = new Set<object>();
  const dispatch = (req: Request, answer: (a: Answer) => void, keep: () => void) => {
    switch (req.cmd) {
      case "ping":
        return answer({ ok: true, sup: true, pid: process.pid, version });
      case "status":
        return queue.push({ type: "status", memory: req.memory, reply: (r) => answer({ ok: true, status: r }) });
      case "reload": {
        // --wait: the answer comes when the reload is over, however long it takes.
        if (req.wait) keep();
        const reason = `control: sup reload${req.rolling ? " --rolling" : ""}${req.program ? ` ${req.program}` : ""}`;
        queue.push({ type: "reload", reason, rolling: !!req.rolling, targets: req.program ? [req.program] : "all", reply: req.wait ? (r) => answer(r as unknown as Answer) : undefined });
        if (!req.wait) answer({ ok: true, message: "reload requested" });
        return;
      }
      case "stop":
        if (req.program) return queue.push({ type: "program", op: "stop", name: req.program, reply: (r) => answer(r) });
        queue.push({ type: "stop", reason: `control: sup stop${req.now ? " --now" : ""}`, now: !!req.now });
        return answer({ ok: true, message: "stop requested" });
      case "reopen-logs":
        return queue.push({ type: "reopen", reason: "control: sup reopen-logs", reply: (r) => answer(r) });
      case "start":
      case "restart":
        return queue.push({ type: "program", op: req.cmd, name: req.program!, reply: (r) => answer(r) });
    }
  };

  let server: ReturnType<typeof Bun.listen<Conn>>;
  try {
    server = Bun.listen<Conn>({
      unix: path,
      socket: {
        open(s) {
          s.data = { buf: "", bytes: 0, done: false };
          if (open.size >= MAX_CONNECTIONS) {
            // Idle clients never starve new ones: the oldest that has not sent
            // its request yet makes room. Only requests in flight (a reload
            // --wait) are never dropped.
            const idle = [...open].find((x) => !(x as Socket<Conn>).data.done) as Socket<Conn> | undefined;
            if (idle) {
              idle.data.done = true;
              idle.end(JSON.stringify({ ok: false, error: `closed: no request sent, and ${MAX_CONNECTIONS} control connections were open` }) + "\n");
              open.delete(idle);
            } else {
              s.data.done = true;
              s.end(JSON.stringify({ ok: false, error: `busy: ${MAX_CONNECTIONS} control requests are in progress; try again` }) + "\n");
              return;
            }
          }
          open.add(s);
          let why: string | undefined;
          try {
            why = refusal(peerCred(socketFd(s)).uid, owner, process.pid);
          } catch (e) {
            why = `permission denied: cannot tell who is connecting (${(e as Error).message})`;
          }
          // A refused peer is answered once its request arrived: closing with
          // its bytes unread would reset the connection before it read why.
          if (why) s.data.refused = { ok: false, denied: true, error: why };
          s.timeout(why ? 2 : REQUEST_TIMEOUT_S);
        },
        data(s, chunk) {
          const c = s.data;
          if (c.done) return; // one request per connection; the rest is ignored
          const answer = (a: Answer) => {
            s.end(JSON.stringify(a) + "\n");
          };
          if (c.refused) {
            c.done = true;
            return answer(c.refused);
          }
          c.bytes += chunk.length;
          c.buf += chunk.toString("utf8");
          const nl = c.buf.indexOf("\n");
          if (nl < 0) {
            if (c.bytes > MAX_REQUEST) {
              c.done = true;
              answer({ ok: false, error: `bad request: longer than ${MAX_REQUEST} bytes` });
            }
            return;
          }
          c.done = true;
          const parsed = parseRequest(c.buf.slice(0, nl));
          c.buf = "";
          if ("error" in parsed) return answer({ ok: false, error: `bad request: ${parsed.error}` });
          dispatch(parsed.req, answer, () => s.timeout(0));
        },
        timeout(s) {
          s.end(JSON.stringify(s.data.refused ?? { ok: false, error: `bad request: no complete request within ${REQUEST_TIMEOUT_S}s` }) + "\n");
        },
        close(s) {
          open.delete(s);
        },
        error(s) {
          open.delete(s);
        },
      },
    });
  } catch (e) {
    // The fix (space, permissions) is in the runtime dir's parent, TMPDIR.
    throw fsFailure(`cannot listen on the control socket ${path}`, e, dirname(dirname(path)));
  }
  return {
    close() {
      server.stop(true);
    },
  };
}
