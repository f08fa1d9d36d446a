// The examples/ hello apps as sup runs them: through the exec shim, on a
// listen socket bound here, saying READY=1 on a NotifyServer (or probed).
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bindListen, boundPort, closeListen, type ListenSocket } from "../../src/net/listen.ts";
import { NotifyServer, isReady } from "../../src/net/notify.ts";
import { probeOnce } from "../../src/net/probe.ts";
import { resolveCommand, shimArgv } from "../../src/processes/shim.ts";
import { waitFor } from "./helpers.ts";

const EXAMPLES = resolve(import.meta.dir, "../../examples");
const PATH = process.env.PATH ?? "";
const python = Bun.spawnSync(["python3", "-c", "import sys; print(sys.executable)"]).stdout.toString().trim();
const node = resolveCommand("node", { cwd: "/", PATH });

const cases = [
  { name: "hello.py", argv: [python, join(EXAMPLES, "hello.py")], notifies: true },
  { name: "hello-bun.ts", argv: [process.execPath, join(EXAMPLES, "hello-bun.ts")], notifies: true },
  ...(node ? [{ name: "hello-node.mjs", argv: [node, join(EXAMPLES, "hello-node.mjs")], notifies: false }] : []),
];

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0).reverse()) f();
});

function start(argv: string[]) {
  const [sock] = bindListen(["127.0.0.1:0"], { backlog: 16, mode: "" }) as [ListenSocket];
  cleanup.push(() => closeListen([sock]));
  const dir = mkdtempSync(join(tmpdir(), "sup-ex-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const notify = NotifyServer.open(join(dir, "notify.sock"));
  cleanup.push(() => notify.close());
  const proc = Bun.spawn([...shimArgv(), String(process.pid), "--", ...argv], {
    stdio: ["ignore", "inherit", "inherit", sock.fd],
    env: { ...process.env, LISTEN_FDS: "1", SUP_WORKER_ID: "3", SUP_GENERATION: "2", NOTIFY_SOCKET: notify.path },
  });
  cleanup.push(() => proc.kill(9));
  return { proc, port: boundPort(sock.fd), notify };
}

describe.each(cases)("examples/$name", ({ argv, notifies }) => {
  test("serves on fd 3, says who answered, and drains on SIGTERM", async () => {
    const { proc, port, notify } = start(argv);
    if (notifies) {
      const got: string[] = [];
      expect(await waitFor(() => got.push(...notify.drain().map((m) => m.text)) > 0, 10_000)).toBe(true);
      expect(got.some(isReady)).toBe(true);
    } else {
      let up = false;
      for (const until = Date.now() + 10_000; !up && Date.now() < until; ) up = await probeOnce({ kind: "tcp", host: "127.0.0.1", port: String(port) });
      expect(up).toBe(true);
    }
    const res = await fetch(`http://127.0.0.1:${port}/any/path`, { headers: { connection: "close" } });
    expect(await res.text()).toBe(`hello from worker 3 pid ${proc.pid} generation 2\n`);

    // A request half sent when SIGTERM arrives is still answered.
    const conn = connect({ host: "127.0.0.1", port });
    cleanup.push(() => conn.destroy());
    let answer = "";
    conn.on("data", (d) => (answer += d));
    await new Promise((r) => conn.once("connect", r));
    conn.write("GET / HTTP/1.1\r\nHost: x\r\n");
    await Bun.sleep(200);
    proc.kill("SIGTERM");
    await Bun.sleep(200);
    conn.write("\r\n");
    const code = await Promise.race([proc.exited, Bun.sleep(5000).then(() => "still running")]);
    expect(answer).toEndWith(`hello from worker 3 pid ${proc.pid} generation 2\n`);
    expect(code).toBe(0);
  });
});

test("examples/hello.py serves on $PORT without LISTEN_FDS", async () => {
  const [probe] = bindListen(["127.0.0.1:0"], { backlog: 1, mode: "" }) as [ListenSocket];
  const port = boundPort(probe.fd);
  closeListen([probe]);
  const proc = Bun.spawn([python, join(EXAMPLES, "hello.py")], { env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "inherit", "inherit"] });
  cleanup.push(() => proc.kill(9));
  let up = false;
  for (const until = Date.now() + 10_000; !up && Date.now() < until; ) up = await probeOnce({ kind: "http", url: `http://127.0.0.1:${port}/` });
  expect(up).toBe(true);
  expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe(`hello from worker ? pid ${proc.pid} generation ?\n`);
});
