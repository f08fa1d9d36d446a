import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../src/config/coerce.ts";
import { bindListen, boundPort, closeListen, inheritedListen, listenFdNames, parseListen, type ListenSocket } from "../../src/net/listen.ts";
import { readAll, spawnOnFd } from "./helpers.ts";

const opened: ListenSocket[] = [];
const children: { kill(sig?: number): void; exited: Promise<number> }[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    c.kill(9);
    await c.exited;
  }
  closeListen(opened.splice(0));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function bind(addrs: string[], mode = ""): ListenSocket[] {
  const socks = bindListen(addrs, { backlog: 16, mode });
  opened.push(...socks);
  return socks;
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "sup-listen-"));
  dirs.push(d);
  return d;
}

describe("parseListen", () => {
  test("accepts the four forms", () => {
    expect(parseListen("127.0.0.1:8000")).toEqual({ kind: "inet", host: "127.0.0.1", port: 8000, path: "" });
    expect(parseListen("[::1]:8000")).toEqual({ kind: "inet6", host: "::1", port: 8000, path: "" });
    expect(parseListen(":8000")).toEqual({ kind: "inet", host: "0.0.0.0", port: 8000, path: "" });
    expect(parseListen("unix:/run/app.sock")).toEqual({ kind: "unix", host: "", port: 0, path: "/run/app.sock" });
    expect(parseListen("localhost:80").host).toBe("127.0.0.1");
  });

  test.each(["8000", "", "example.com:80", "1.2.3:4", "127.0.0.1:70000", "[zz]:1", "::1:80", "unix:", "127.0.0.1:"])(
    "rejects %p naming it and the accepted forms",
    (addr) => {
      expect(() => parseListen(addr)).toThrow(ConfigError);
      expect(() => parseListen(addr)).toThrow(`listen ${JSON.stringify(addr)}`);
      expect(() => parseListen(addr)).toThrow("unix:/PATH");
    },
  );
});

describe("bindListen", () => {
  test("a child serves on the inherited fd 3", async () => {
    const [sock] = bind(["127.0.0.1:0"]);
    const child = spawnOnFd(sock!.fd);
    children.push(child);
    expect(await readAll(boundPort(sock!.fd))).toBe(`pid ${child.pid}\n`);
  });

  test("a connection made while no worker runs is served when one starts", async () => {
    const [sock] = bind(["127.0.0.1:0"]);
    const answer = readAll(boundPort(sock!.fd));
    await Bun.sleep(200); // the connection now waits in the backlog
    const child = spawnOnFd(sock!.fd);
    children.push(child);
    expect(await answer).toBe(`pid ${child.pid}\n`);
  });

  test("binds an IPv6 address beside an IPv4 one on the same port", async () => {
    const [v4] = bind(["127.0.0.1:0"]);
    const port = boundPort(v4!.fd);
    const [v6] = bind([`[::1]:${port}`]);
    expect(boundPort(v6!.fd)).toBe(port);
  });

  test("an address in use is a ConfigError naming it", () => {
    const [sock] = bind(["127.0.0.1:0"]);
    const addr = `127.0.0.1:${boundPort(sock!.fd)}`;
    expect(() => bind([addr])).toThrow(`listen ${addr}: address already in use (another process is listening there`);
  });

  test("on error the sockets bound so far are closed", () => {
    const [taken] = bind(["127.0.0.1:0"]);
    const free = bind(["127.0.0.1:0"]);
    const freePort = boundPort(free[0]!.fd);
    closeListen(opened.splice(1)); // release it so bindListen can take it again
    expect(() => bindListen([`127.0.0.1:${freePort}`, `127.0.0.1:${boundPort(taken!.fd)}`], { backlog: 1, mode: "" })).toThrow(
      "address already in use",
    );
    // The first address was released when the second failed.
    bind([`127.0.0.1:${freePort}`]);
  });

  test("a unix socket gets the mode and serves a child", async () => {
    const path = join(tempDir(), "app.sock");
    const [sock] = bind([`unix:${path}`], "600");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const child = spawnOnFd(sock!.fd);
    children.push(child);
    const got = await new Promise<string>((resolve, reject) => {
      const c = connect({ path });
      let data = "";
      c.on("data", (d) => (data += d)).on("end", () => resolve(data)).on("error", reject);
      setTimeout(() => reject(new Error("timeout")), 5000);
    });
    expect(got).toBe(`pid ${child.pid}\n`);
    closeListen(opened.splice(0));
    expect(existsSync(path)).toBe(false);
  });

  test("a stale unix socket file is replaced; a live one is an error", () => {
    const path = join(tempDir(), "app.sock");
    const [first] = bindListen([`unix:${path}`], { backlog: 1, mode: "" });
    expect(() => bind([`unix:${path}`])).toThrow(`listen unix:${path}: address already in use`);
    // Close without unlinking: what a killed master leaves behind.
    closeListen([{ fd: first!.fd, name: first!.name }]);
    expect(existsSync(path)).toBe(true);
    bind([`unix:${path}`]);
  });

  test("a unix path that is not a socket is never removed", () => {
    const path = join(tempDir(), "data.txt");
    writeFileSync(path, "keep me");
    expect(() => bind([`unix:${path}`])).toThrow("exists and is not a socket");
    expect(existsSync(path)).toBe(true);
  });

  test("a bad listen-mode or too long path is a ConfigError", () => {
    expect(() => bind(["unix:/tmp/x.sock"], "rw")).toThrow('listen-mode "rw"');
    expect(() => bind([`unix:/tmp/${"x".repeat(120)}.sock`])).toThrow("fit in sockaddr_un");
  });
});

describe("inheritedListen", () => {
  test("ignores LISTEN_FDS meant for another process", () => {
    expect(inheritedListen({ LISTEN_FDS: "1", LISTEN_PID: String(process.pid + 1) })).toEqual([]);
    expect(inheritedListen({})).toEqual([]);
  });

  test("takes fds 3.. with their LISTEN_FDNAMES in a socket-activated process", async () => {
    const [a, b] = bind(["127.0.0.1:0", "127.0.0.1:0"]);
    const script = `
      import { inheritedListen, boundPort } from ${JSON.stringify(join(import.meta.dir, "../../src/net/listen.ts"))};
      const socks = inheritedListen({ ...process.env, LISTEN_PID: String(process.pid) });
      console.log(JSON.stringify(socks.map((s) => [s.fd, s.name, boundPort(s.fd)])));
    `;
    const child = Bun.spawn([process.execPath, "-e", script], {
      stdio: ["ignore", "pipe", "pipe", a!.fd, b!.fd],
      env: { ...process.env, LISTEN_FDS: "2", LISTEN_FDNAMES: "web:" },
    });
    children.push(child);
    const out = await new Response(child.stdout).text();
    expect(await child.exited).toBe(0);
    expect(JSON.parse(out)).toEqual([
      [3, "web", boundPort(a!.fd)],
      [4, "fd:4", boundPort(b!.fd)],
    ]);
  });
});

test("listenFdNames joins names with ':' made safe for the systemd protocol", () => {
  const names = listenFdNames([
    { fd: 3, name: "127.0.0.1:8000" },
    { fd: 4, name: "unix:/run/app.sock" },
    { fd: 5, name: "web" },
  ]);
  expect(names).toBe("127.0.0.1_8000:unix_/run/app.sock:web");
  expect(names.split(":")).toHaveLength(3);
});
