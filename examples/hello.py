#!/usr/bin/env python3
"""A hello HTTP worker for sup, Python standard library only.

Serves HTTP/1.1 with keep-alive on the socket sup hands over as fd 3 (the
systemd protocol: LISTEN_FDS, LISTEN_PID), or on 127.0.0.1:$PORT without one;
says READY=1 on $NOTIFY_SOCKET; on SIGTERM drains and exits 0 (see drain()).
   sup --listen 127.0.0.1:8000 --ready notify -- python3 examples/hello.py
"""
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GREETING = "hello from worker {} pid {} generation {}\n".format(
    os.environ.get("SUP_WORKER_ID", "?"), os.getpid(), os.environ.get("SUP_GENERATION", "?")
).encode()
IDLE_GRACE = 1.0  # seconds a kept-alive connection may stay silent once draining

stopping = threading.Event()
connections = set()  # open Hello handlers
connections_lock = threading.Lock()


class Hello(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; the default HTTP/1.0 closes after each response
    # Buffered, so headers and body leave in one send(): as two small writes
    # on a kept-alive connection, Nagle's algorithm holds the second until the
    # client's delayed ACK, 40 ms per request (tcp(7), TCP_NODELAY).
    wbufsize = -1

    def setup(self):
        super().setup()
        self.idle = True
        with connections_lock:
            connections.add(self)

    def finish(self):
        with connections_lock:
            connections.discard(self)
        super().finish()

    def handle_one_request(self):
        self.idle = True  # waiting for the next request line
        super().handle_one_request()

    def parse_request(self):
        self.idle = False  # a request line arrived: it gets an answer
        return super().parse_request()

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(GREETING)))
        if stopping.is_set():
            self.send_header("Connection", "close")  # also sets close_connection
        self.end_headers()
        self.wfile.write(GREETING)

    do_POST = do_PUT = do_DELETE = do_GET

    def log_message(self, *args):
        pass  # one line per request is noise in sup's log


class Server(ThreadingHTTPServer):
    daemon_threads = False  # so server_close() waits for in-flight requests

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up is no error
            super().handle_error(request, client_address)


def drain():
    """Stop accepting (connections wait in the listen backlog, which the
    master and the other workers share), answer each kept-alive connection's
    next request with "Connection: close", and close the connections that
    stay silent for IDLE_GRACE. Closing idle connections at once would cut
    the requests already on their way to us: a busy client writes its next
    request as soon as it reads a response, and such a request, closed
    without an answer, is a failed request (RFC 9112 section 9.6)."""
    stopping.set()
    server.shutdown()  # serve_forever() returns; main thread then joins handlers
    time.sleep(IDLE_GRACE)
    with connections_lock:
        silent = [h for h in connections if h.idle]
    for h in silent:
        try:
            h.connection.shutdown(socket.SHUT_RD)  # its blocked readline() sees EOF
        except OSError:
            pass  # closed meanwhile


def sd_notify(message):
    addr = os.environ.get("NOTIFY_SOCKET")
    if addr:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.sendto(message, "\0" + addr[1:] if addr.startswith("@") else addr)


if os.environ.get("LISTEN_FDS") and os.environ.get("LISTEN_PID") == str(os.getpid()):
    server = Server(("", 0), Hello, bind_and_activate=False)
    server.socket.close()
    server.socket = socket.socket(fileno=3)
    # Non-blocking, as every worker on a shared socket must be: all workers
    # waiting in poll() wake for one connection, one accept()s it, and a
    # blocking accept() in the others would wait for the next connection,
    # deaf to SIGTERM's shutdown() and still taking connections after its
    # reload is done. socketserver treats the BlockingIOError as "no request".
    server.socket.setblocking(False)
else:
    server = Server(("127.0.0.1", int(os.environ.get("PORT", "8000"))), Hello)

# shutdown() waits for serve_forever() to return, so not from this thread.
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=drain, daemon=True).start())
sd_notify(b"READY=1")
server.serve_forever()
server.server_close()
