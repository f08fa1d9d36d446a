// Shared by the net tests: a tiny server child on an inherited fd, and a
// bounded TCP read.
import { connect } from "node:net";

/** A python child that answers each connection on fd 3 with "pid N\n". */
export const PY_FD3_SERVER = `
import os, socket
s = socket.socket(fileno=3)
while True:
    c, _ = s.accept()
    c.sendall(b"pid %d\\n" % os.getpid())
    c.close()
`;

export function spawnOnFd(fd: number, code = PY_FD3_SERVER, env: Record<string, string> = {}) {
  return Bun.spawn(["python3", "-c", code], {
    stdio: ["ignore", "pipe", "pipe", fd],
    env: { ...process.env, ...env },
  });
}

/** Connects to host:port and resolves with all it sends, or rejects after ms. */
export function readAll(port: number, host = "127.0.0.1", ms = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    let data = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer from ${host}:${port} within ${ms} ms`));
    }, ms);
    sock.on("data", (d) => (data += d));
    sock.on("end", () => {
      clearTimeout(timer);
      resolve(data);
    });
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Polls until check() is true or ms pass. */
export async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (check()) return true;
    await Bun.sleep(20);
  }
  return check();
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
