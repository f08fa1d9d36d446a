// A hello HTTP worker for sup on Node (node: modules only).
//
// Serves on the socket sup hands over as fd 3 (LISTEN_FDS), or on
// 127.0.0.1:$PORT without one. On SIGTERM it stops accepting, finishes
// in-flight requests and exits. Node has no unix datagram sockets for
// sd_notify, so it says READY=1 as a line on the pipe sup gives it
// ($SUP_NOTIFY_FD) once it listens:
//   sup --listen 127.0.0.1:8000 --ready notify -- node examples/hello-node.mjs
// (Under Bun, http listen({ fd }) does not take the fd: see hello-bun.ts.)
import { writeSync } from "node:fs";
import http from "node:http";
import net from "node:net";

const greeting = `hello from worker ${process.env.SUP_WORKER_ID ?? "?"} pid ${process.pid} generation ${process.env.SUP_GENERATION ?? "?"}\n`;

// READY=1 as one line on the pipe sup hands over with --ready notify
// ($SUP_NOTIFY_FD): Node has no unix datagram sockets for sd_notify.
const ready = () => process.env.SUP_NOTIFY_FD && writeSync(Number(process.env.SUP_NOTIFY_FD), "READY=1\n");

let stopping = false;

const app = http.createServer((req, res) => {
  if (stopping) res.setHeader("Connection", "close");
  res.setHeader("Content-Type", "text/plain");
  res.end(greeting);
});
const inherited = process.env.LISTEN_FDS && process.env.LISTEN_PID === String(process.pid);
app.listen(inherited ? { fd: 3 } : { host: "127.0.0.1", port: Number(process.env.PORT ?? 8000) }, ready);

// Drain: stop accepting (new connections wait in the backlog the master and
// the other workers share), answer each kept-alive connection's next request
// with "Connection: close", and close the ones that stay silent for a second;
// then the process exits. Closing idle connections at once, as
// http.Server.close() does since Node 19, would cut requests already on their
// way: a busy client writes its next request as soon as it reads a response,
// and such a request, closed without an answer, fails (RFC 9112 section 9.6).
// So net.Server's close, which only stops accepting.
process.on("SIGTERM", () => {
  stopping = true;
  net.Server.prototype.close.call(app);
  setTimeout(() => app.closeIdleConnections(), 1000).unref();
});
