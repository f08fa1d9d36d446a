import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../src/config/coerce.ts";
import { NotifyServer, isReady, sdNotify } from "../../src/net/notify.ts";
import { waitFor } from "./helpers.ts";

const sockets: NotifyServer[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function open(): NotifyServer {
  const dir = mkdtempSync(join(tmpdir(), "sup-notify-"));
  dirs.push(dir);
  const s = NotifyServer.open(join(dir, "notify.sock"));
  sockets.push(s);
  return s;
}

async function pollUntil(s: NotifyServer, n: number): Promise<string[]> {
  const got: string[] = [];
  await waitFor(() => got.push(...s.drain().map((m) => m.text)) >= n, 5000);
  return got;
}

describe("NotifyServer", () => {
  test("receives READY=1 sent by a python child", async () => {
    const s = open();
    const child = Bun.spawn(
      ["python3", "-c", `import os, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"STATUS=booting", os.environ["NOTIFY_SOCKET"])
s.sendto(b"READY=1\\nMAINPID=%d" % os.getpid(), os.environ["NOTIFY_SOCKET"])`],
      { env: { ...process.env, NOTIFY_SOCKET: s.path }, stdio: ["ignore", "inherit", "inherit"] },
    );
    try {
      expect(await child.exited).toBe(0);
    } finally {
      child.kill(9);
    }
    const got = await pollUntil(s, 2);
    expect(got).toEqual(["STATUS=booting", `READY=1\nMAINPID=${child.pid}`]);
    expect(got.map(isReady)).toEqual([false, true]);
  });

  test("poll returns nothing, at once, when nothing was sent", () => {
    const s = open();
    const t0 = performance.now();
    expect(s.drain().map((m) => m.text)).toEqual([]);
    expect(performance.now() - t0).toBeLessThan(50);
  });

  test("close removes the socket file", () => {
    const s = open();
    expect(existsSync(s.path)).toBe(true);
    s.close();
    expect(existsSync(s.path)).toBe(false);
    expect(s.drain().map((m) => m.text)).toEqual([]);
  });

  test("a path too long for sockaddr_un is refused clearly", () => {
    expect(() => NotifyServer.open(`/tmp/${"d".repeat(110)}/notify-1-1.sock`)).toThrow(ConfigError);
    expect(() => NotifyServer.open(`/tmp/${"d".repeat(110)}/notify-1-1.sock`)).toThrow("at most 107 fit in sockaddr_un");
  });
});

describe("sdNotify", () => {
  test("delivers to a NotifyServer", async () => {
    const s = open();
    expect(sdNotify("READY=1\nSTATUS=serving", { NOTIFY_SOCKET: s.path })).toBe(true);
    expect(await pollUntil(s, 1)).toEqual(["READY=1\nSTATUS=serving"]);
  });

  test("is false without NOTIFY_SOCKET or with nobody listening", () => {
    expect(sdNotify("READY=1", {})).toBe(false);
    expect(sdNotify("READY=1", { NOTIFY_SOCKET: join(tmpdir(), "sup-no-such-socket") })).toBe(false);
  });

  test("reaches an abstract-namespace socket (@name)", async () => {
    const name = `@sup-test-${process.pid}-${Date.now()}`;
    const child = Bun.spawn(
      ["python3", "-c", `import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\\0" + sys.argv[1][1:])
s.settimeout(5)
print("bound", flush=True)
print(s.recv(100).decode(), flush=True)`, name],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      const reader = child.stdout.getReader();
      let out = "";
      while (!out.includes("\n")) {
        const r = await reader.read(); // the child's 5 s timeout bounds this
        if (r.done) break;
        out += new TextDecoder().decode(r.value);
      }
      expect(out).toBe("bound\n");
      expect(sdNotify("STOPPING=1", { NOTIFY_SOCKET: name })).toBe(true);
      for (let r = await reader.read(); !r.done; r = await reader.read()) out += new TextDecoder().decode(r.value);
      expect(out).toBe("bound\nSTOPPING=1\n");
    } finally {
      child.kill(9);
      await child.exited;
    }
  });
});
