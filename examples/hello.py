#!/usr/bin/env python3
"""A hello HTTP worker for sup, Python standard library only.

Serves on the socket sup hands over as fd 3 (the systemd protocol: LISTEN_FDS,
LISTEN_PID), or on 127.0.0.1:$PORT without one; says READY=1 on
$NOTIFY_SOCKET; on SIGTERM stops accepting, finishes in-flight requests and
exits 0.   sup --listen 127.0.0.1:8000 --ready notify -- python3 examples/hello.py
"""
import os
import signal
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GREETING = "hello from worker {} pid {} generation {}\n".format(
    os.environ.get("SUP_WORKER_ID", "?"), os.getpid(), os.environ.get("SUP_GENERATION", "?")
).encode()


class Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(GREETING)))
        self.end_headers()
        self.wfile.write(GREETING)

    do_POST = do_PUT = do_DELETE = do_GET

    def log_message(self, *args):
        pass  # one line per request is noise in sup's log


class Server(ThreadingHTTPServer):
    daemon_threads = False  # so server_close() waits for in-flight requests


def sd_notify(message):
    addr = os.environ.get("NOTIFY_SOCKET")
    if addr:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.sendto(message, "\0" + addr[1:] if addr.startswith("@") else addr)


if os.environ.get("LISTEN_FDS") and os.environ.get("LISTEN_PID") == str(os.getpid()):
    server = Server(("", 0), Hello, bind_and_activate=False)
    server.socket.close()
    server.socket = socket.socket(fileno=3)
else:
    server = Server(("127.0.0.1", int(os.environ.get("PORT", "8000"))), Hello)

# shutdown() waits for serve_forever() to return, so not from this thread.
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
sd_notify(b"READY=1")
server.serve_forever()
server.server_close()
