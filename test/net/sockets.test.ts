// Sockets per generation, steered: real sockets, real child servers on each
// generation's fd, real connections. Which generation answers is told by the
// child's pid.
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaults, type Config } from "../../src/config/schema.ts";
import { acceptQueue } from "../../src/native/reuseport.ts";
import { Sockets } from "../../src/net/sockets.ts";
import { freePort } from "../e2e/harness.ts";
import { spawnOnFd } from "./helpers.ts";

const children: { kill(sig?: number): void; exited: Promise<number> }[] = [];
const owned: Sockets[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    c.kill(9);
    await c.exited;
  }
  for (const s of owned.splice(0)) s.closeAll();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup() {
  const said: string[] = [];
  const s = new Sockets((_level, msg) => said.push(msg));
  owned.push(s);
  return { s, said };
}

const cfgFor = (listen: string[]): Config => ({ ...defaults(), command: ["x"], listen });

// Answers after the client's first bytes: Bun's unix-socket client reports
// ECONNRESET at connect when the server has already answered and closed.
const SERVER = `
import os, socket
s = socket.socket(fileno=3)
while True:
    c, _ = s.accept()
    c.recv(16)
    c.sendall(b"pid %d\\n" % os.getpid())
    c.close()
`;

/** A child answering "pid N" on generation gen's socket. */
function serve(s: Sockets, gen: number, cfg: Config) {
  const child = spawnOnFd(s.for(gen, cfg)[0]!.fd, SERVER);
  children.push(child);
  return child.pid;
}

/** The pid that answers one new connection to addr. */
function ask(addr: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const m = /^127\.0\.0\.1:(\d+)$/.exec(addr);
    const c = m ? connect({ host: "127.0.0.1", port: Number(m[1]) }) : connect({ path: addr.slice("unix:".length) });
    let data = "";
    const timer = setTimeout(() => (c.destroy(), reject(new Error(`no answer on ${addr}`))), 15_000); // a python child starts slowly on a loaded machine
    c.write("?");
    c.on("data", (d) => (data += d)).on("end", () => (clearTimeout(timer), resolve(data.trim().replace("pid ", ""))));
    c.on("error", (e) => (clearTimeout(timer), reject(e)));
  });
}

async function askMany(addr: string, n: number): Promise<Set<string>> {
  const got = new Set<string>();
  for (let i = 0; i < n; i++) got.add(await ask(addr));
  return got;
}

/** Sockets with generation 1 acquired on a fresh TCP address. */
async function tcpGen1() {
  const [addr] = await addresses();
  const cfg = cfgFor([addr]);
  const { s, said } = setup();
  s.acquire(1, cfg);
  return { s, said, addr, cfg };
}

async function addresses(): Promise<[string, string]> {
  const d = mkdtempSync(join(tmpdir(), "sup-steer-"));
  dirs.push(d);
  return [`127.0.0.1:${await freePort()}`, `unix:${join(d, "app.sock")}`];
}

describe("steering between generations", () => {
  for (const kind of ["tcp", "unix"] as const) {
    test(`${kind}: new connections go to the steered generation only, and back on a rollback`, async () => {
      const [tcp, unix] = await addresses();
      const addr = kind === "tcp" ? tcp : unix;
      const cfg = cfgFor([addr]);
      const { s, said } = setup();
      s.acquire(1, cfg);
      const one = String(serve(s, 1, cfg));
      s.acquire(2, cfg);
      const two = String(serve(s, 2, cfg));
      expect(s.for(2, cfg)[0]!.fd).not.toBe(s.for(1, cfg)[0]!.fd);
      expect(await askMany(addr, 20)).toEqual(new Set([one])); // gen 2 listens, but is not steered to yet
      s.steer(2);
      expect(await askMany(addr, 20)).toEqual(new Set([two]));
      s.steer(1); // rollback: the standby answers at once
      expect(await askMany(addr, 20)).toEqual(new Set([one]));
      s.steer(2);
      expect(s.release(1)).toEqual([]);
      expect(await askMany(addr, 20)).toEqual(new Set([two]));
      expect(said.filter((l) => l.includes("share"))).toEqual([]);
      expect(said).toContain(`listen ${addr}: new connections go to gen 2`);
    });
  }

  for (const kind of ["tcp", "unix"] as const) {
    test(`${kind}: steered "once accepted", new connections go to a generation only after it accepted the master's test connection`, async () => {
      const [tcp, unix] = await addresses();
      const addr = kind === "tcp" ? tcp : unix;
      const cfg = cfgFor([addr]);
      const { s, said } = setup();
      s.acquire(1, cfg);
      const one = String(serve(s, 1, cfg));
      s.acquire(2, cfg);
      s.steer(2, false); // nobody accepts on gen 2's socket yet
      await Bun.sleep(100);
      expect(await askMany(addr, 10)).toEqual(new Set([one])); // and the test connection did not go to gen 1
      expect(said.join("\n")).not.toContain("new connections go to gen 2");
      const two = String(serve(s, 2, cfg));
      const deadline = Date.now() + 5000;
      while (!said.some((l) => l.includes("new connections go to gen 2")) && Date.now() < deadline) await Bun.sleep(10);
      expect(said.join("\n")).toMatch(/new connections go to gen 2 \(it accepted a test connection \d+ ms after ready\)/);
      expect(await askMany(addr, 10)).toEqual(new Set([two]));
    });
  }

  test("a rollback while gen 2 is checked: back to gen 1 at once, the check dropped", async () => {
    const { s, said, addr, cfg } = await tcpGen1();
    const one = String(serve(s, 1, cfg));
    s.acquire(2, cfg);
    s.steer(2, false);
    s.steer(1, true);
    s.release(2);
    await Bun.sleep(50);
    expect(await askMany(addr, 10)).toEqual(new Set([one]));
    expect(said.join("\n")).not.toMatch(/new connections go to gen 2|reset/); // the master's own test connection is no user's
  });

  test("tcp: a socket closed mid-array moves the last one into its place, and steering follows it", async () => {
    const [addr] = await addresses();
    const cfg = cfgFor([addr]);
    const { s } = setup();
    for (const gen of [1, 2, 3]) s.acquire(gen, cfg);
    const [, two, three] = [1, 2, 3].map((gen) => String(serve(s, gen, cfg)));
    s.steer(3);
    // Gen 1 (index 0) goes: gen 3 moves from index 2 to 0 (index 2 would now be past the end: the kernel's hash would pick).
    s.release(1);
    expect(await askMany(addr, 20)).toEqual(new Set([three!]));
    s.steer(2);
    expect(await askMany(addr, 20)).toEqual(new Set([two!]));
    // Gen 3 (index 0) goes: gen 2 moves from index 1 to 0; a gen 4 then comes at index 1.
    s.release(3);
    s.acquire(4, cfg);
    const four = String(serve(s, 4, cfg));
    expect(await askMany(addr, 20)).toEqual(new Set([two!]));
    s.steer(4);
    expect(await askMany(addr, 20)).toEqual(new Set([four]));
  });

  test("tcp: a released socket leaves the group at once although a straggler still holds it", async () => {
    const { s, addr, cfg } = await tcpGen1();
    s.acquire(2, cfg);
    s.acquire(3, cfg);
    // A process that holds gen 1's socket and never accepts (a worker's child left behind).
    const straggler = Bun.spawn(["sleep", "30"], { stdio: ["ignore", "ignore", "ignore", s.for(1, cfg)[0]!.fd] });
    children.push(straggler);
    const three = String(serve(s, 3, cfg));
    s.steer(3);
    s.release(1); // were gen 1 still in the kernel's array, index 2 would now be wrong
    expect(await askMany(addr, 20)).toEqual(new Set([three]));
  });

  test("tcp: connections waiting on a released socket are counted and said", async () => {
    const { s, said, addr, cfg } = await tcpGen1();
    const fd = s.for(1, cfg)[0]!.fd;
    s.acquire(2, cfg);
    const port = Number(addr.split(":")[1]);
    const clients = [1, 2].map(() => connect({ host: "127.0.0.1", port }).on("error", () => {}));
    const deadline = Date.now() + 2000;
    while (acceptQueue(fd) < 2 && Date.now() < deadline) await Bun.sleep(10);
    expect(acceptQueue(fd)).toBe(2);
    s.steer(2);
    s.release(1);
    for (const c of clients) c.destroy();
    expect(said.some((l) => l.includes(`2 connections waiting on gen 1's socket reset`))).toBe(true);
  });

  test("an address held by another process, even one in a reuseport group of its own, is refused", async () => {
    const [addr] = await addresses();
    const cfg = cfgFor([addr]);
    const other = setup().s;
    other.acquire(1, cfg);
    const { s } = setup();
    expect(() => s.acquire(1, cfg)).toThrow(`listen ${addr}: address already in use`);
  });

  test("rolling and stop-first generations share the current socket; release closes it with the last", async () => {
    const [addr, unix] = await addresses();
    const cfg = cfgFor([addr, unix]);
    const { s } = setup();
    s.acquire(1, cfg);
    s.acquire(2, cfg, true);
    expect(s.for(2, cfg).map((x) => x.fd)).toEqual(s.for(1, cfg).map((x) => x.fd));
    expect(s.ownsSockets(2, cfg)).toBe(false);
    s.steer(2);
    s.release(1);
    expect(s.ownsSockets(2, cfg)).toBe(true);
    const path = unix.slice("unix:".length);
    expect(existsSync(path)).toBe(true);
    expect(s.release(2)).toEqual([addr, unix]);
    expect(existsSync(path)).toBe(false);
  });

  test("unix: the old generation waits at a private name beside the path, and every name goes at the end", async () => {
    const [, addr] = await addresses();
    const path = addr.slice("unix:".length);
    const cfg = { ...cfgFor([addr]), "listen-mode": "600" };
    const { s } = setup();
    s.acquire(1, cfg);
    s.acquire(2, cfg);
    const dir = join(path, "..");
    expect(readdirSync(dir).sort()).toEqual(["app.sock", "app.sock.sup-gen2"]);
    s.steer(2);
    expect(readdirSync(dir).sort()).toEqual(["app.sock", "app.sock.sup-gen1"]);
    s.release(1);
    expect(readdirSync(dir)).toEqual(["app.sock"]);
    s.closeAll();
    expect(readdirSync(dir)).toEqual([]);
  });

  test("unix: a file someone put at the path is never replaced", async () => {
    const [, addr] = await addresses();
    const path = addr.slice("unix:".length);
    const cfg = cfgFor([addr]);
    const { s, said } = setup();
    s.acquire(1, cfg);
    s.acquire(2, cfg);
    rmSync(path);
    writeFileSync(path, "mine");
    s.steer(2);
    expect(said.some((l) => l.includes("is no longer the socket sup bound there"))).toBe(true);
    expect(await Bun.file(path).text()).toBe("mine");
    s.closeAll();
    expect(await Bun.file(path).text()).toBe("mine");
  });

  test("unix: a path too long for a private name beside it falls back to one shared socket, said once", async () => {
    const d = mkdtempSync(join(tmpdir(), "sup-steer-"));
    dirs.push(d);
    const path = join(d, "x".repeat(104 - d.length));
    const cfg = cfgFor([`unix:${path}`]);
    const { s, said } = setup();
    s.acquire(1, cfg);
    s.acquire(2, cfg);
    s.acquire(3, cfg);
    expect(s.for(3, cfg)[0]!.fd).toBe(s.for(1, cfg)[0]!.fd);
    expect(said.filter((l) => l.includes("generations share one socket"))).toHaveLength(1);
  });
});
