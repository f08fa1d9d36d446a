// The examples' SIGTERM drain, as a retired worker under load needs it: a
// busy keep-alive connection gets its next request answered (with
// "Connection: close"), never closed under it; a silent one is closed after
// the grace; the process exits 0. (Closing idle connections at SIGTERM cost
// 117 failed requests in bench/reload-under-load, BENCHMARKS.md.)
import { afterEach, describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { join, resolve } from "node:path";
import { freePort } from "../e2e/harness.ts";

const EXAMPLES = resolve(import.meta.dir, "../../examples");
const python = Bun.spawnSync(["python3", "-c", "import sys; print(sys.executable)"]).stdout.toString().trim();
const node = Bun.which("node");
const cases = [
  { name: "hello.py", argv: [python, join(EXAMPLES, "hello.py")] },
  { name: "hello-bun.ts", argv: [process.execPath, join(EXAMPLES, "hello-bun.ts")] },
  ...(node ? [{ name: "hello-node.mjs", argv: [node, join(EXAMPLES, "hello-node.mjs")] }] : []),
];

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0).reverse()) f();
});

/** A kept-alive connection that reads whole responses (Content-Length framed) and notes its close. */
async function open(port: number) {
  for (const end = Date.now() + 10_000; ; await Bun.sleep(50)) {
    const sock: Socket = connect({ host: "127.0.0.1", port });
    const ok = await new Promise<boolean>((r) => sock.once("connect", () => r(true)).once("error", () => r(false)));
    if (ok) {
      cleanup.push(() => sock.destroy());
      let buf = "";
      let closed = false;
      sock.on("data", (d) => (buf += d)).on("close", () => (closed = true));
      const response = async (ms: number) => {
        for (const until = Date.now() + ms; Date.now() < until; await Bun.sleep(10)) {
          const head = buf.indexOf("\r\n\r\n");
          const length = Number(/content-length: *(\d+)/i.exec(buf)?.[1]);
          if (head >= 0 && buf.length >= head + 4 + length) {
            const text = buf.slice(0, head + 4 + length);
            buf = buf.slice(text.length);
            return text;
          }
        }
        return `no response within ${ms} ms (closed: ${closed})`;
      };
      const get = (ms = 3000) => (sock.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), response(ms));
      return { get, closed: () => closed };
    }
    if (Date.now() > end) throw new Error(`nothing listens on ${port}`);
  }
}

describe.each(cases)("examples/$name", ({ argv }) => {
  test("SIGTERM: a busy keep-alive connection gets its next answer with Connection: close, a silent one is closed, exit 0", async () => {
    const port = await freePort();
    const proc = Bun.spawn(argv, { env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "inherit", "inherit"] });
    cleanup.push(() => proc.kill(9));
    const busy = await open(port);
    const silent = await open(port);
    expect(await busy.get()).toStartWith("HTTP/1.1 200");
    expect(await silent.get()).toStartWith("HTTP/1.1 200");
    expect(await busy.get()).not.toMatch(/connection: close/i); // kept alive while serving

    proc.kill("SIGTERM");
    await Bun.sleep(300);
    const last = await busy.get();
    expect(last).toStartWith("HTTP/1.1 200");
    expect(last).toMatch(/connection: close/i);
    const code = await Promise.race([proc.exited, Bun.sleep(5000).then(() => "still running")]);
    expect(code).toBe(0);
    expect(busy.closed()).toBe(true);
    expect(silent.closed()).toBe(true);
  });
});
