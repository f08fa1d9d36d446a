// The control socket: `sup reload|stop|status` talk to the master here, one
// JSON request and one JSON answer per line. Requests become events; only
// the arbiter loop acts on them.
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import type { Queue } from "../master/queue.ts";
import type { Event } from "../master/events.ts";

export interface Request {
  cmd: "ping" | "status" | "reload" | "stop";
  rolling?: boolean;
  wait?: boolean;
  now?: boolean;
}

export function startControl(dir: string, path: string, queue: Queue<Event>, version: string): { close(): void } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  rmSync(path, { force: true });
  const server = Bun.listen<{ buf: string }>({
    unix: path,
    socket: {
      open(s) {
        s.data = { buf: "" };
      },
      data(s, chunk) {
        s.data.buf += chunk.toString();
        const nl = s.data.buf.indexOf("\n");
        if (nl < 0) return;
        const line = s.data.buf.slice(0, nl);
        s.data.buf = "";
        const answer = (obj: unknown) => {
          s.write(JSON.stringify(obj) + "\n");
          s.end();
        };
        let req: Request;
        try {
          req = JSON.parse(line) as Request;
        } catch {
          return answer({ ok: false, error: "bad request" });
        }
        switch (req.cmd) {
          case "ping":
            return answer({ ok: true, sup: true, pid: process.pid, version });
          case "status":
            return queue.push({ type: "status", reply: (r) => answer({ ok: true, status: r }) });
          case "reload":
            queue.push({ type: "reload", reason: `control: sup reload${req.rolling ? " --rolling" : ""}`, rolling: !!req.rolling, reply: req.wait ? (r) => answer(r) : undefined });
            if (!req.wait) answer({ ok: true, message: "reload requested" });
            return;
          case "stop":
            queue.push({ type: "stop", reason: `control: sup stop${req.now ? " --now" : ""}`, now: !!req.now });
            return answer({ ok: true, message: "stop requested" });
          default:
            return answer({ ok: false, error: `unknown command ${JSON.stringify(req.cmd)}` });
        }
      },
      error() {},
    },
  });
  return {
    close() {
      server.stop(true);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
