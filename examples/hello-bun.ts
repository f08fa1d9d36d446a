// A hello HTTP worker for sup on Bun.
//
// Serves on the socket sup hands over as fd 3 (LISTEN_FDS), or on
// 127.0.0.1:$PORT without one; says READY=1 on $NOTIFY_SOCKET; on SIGTERM
// stops accepting, finishes in-flight requests and exits.
//   sup --listen 127.0.0.1:8000 --ready notify -- bun examples/hello-bun.ts
// Bun.serve cannot take an fd, so node:net accepts and feeds node:http.
import http from "node:http";
import net from "node:net";
import { sdNotify } from "./sd-notify.ts";

const greeting = `hello from worker ${process.env.SUP_WORKER_ID ?? "?"} pid ${process.pid} generation ${process.env.SUP_GENERATION ?? "?"}\n`;
let stopping = false;

const app = http.createServer((req, res) => {
  if (stopping) res.setHeader("Connection", "close");
  res.setHeader("Content-Type", "text/plain");
  res.end(greeting);
});
const front = net.createServer((sock) => app.emit("connection", sock));
const inherited = process.env.LISTEN_FDS && process.env.LISTEN_PID === String(process.pid);
front.listen(inherited ? { fd: 3 } : { host: "127.0.0.1", port: Number(process.env.PORT ?? 8000) }, () => sdNotify("READY=1"));

// Drain: stop accepting (new connections wait in the backlog the master and
// the other workers share), answer each kept-alive connection's next request
// with "Connection: close", and close the ones that stay silent for a second.
// Closing idle connections at once would cut requests already on their way:
// a busy client writes its next request as soon as it reads a response, and
// such a request, closed without an answer, fails (RFC 9112 section 9.6).
process.on("SIGTERM", () => {
  stopping = true;
  front.close();
  setTimeout(() => app.closeIdleConnections(), 1000).unref();
});
