import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ConfigError } from "../../src/config/coerce.ts";
import { bindListen, boundPort, closeListen, type ListenSocket } from "../../src/net/listen.ts";
import { parseHealth } from "../../src/net/health.ts";
import { expandReady, parseReady, probeOnce } from "../../src/net/probe.ts";

describe("parseReady", () => {
  test("accepts every form", () => {
    expect(parseReady("notify")).toEqual({ kind: "notify" });
    expect(parseReady("tcp:8000")).toEqual({ kind: "tcp", host: "127.0.0.1", port: "8000" });
    expect(parseReady("tcp:localhost:{port}")).toEqual({ kind: "tcp", host: "localhost", port: "{port}" });
    expect(parseReady("tcp:[::1]:80{id}")).toEqual({ kind: "tcp", host: "::1", port: "80{id}" });
    expect(parseReady("http://127.0.0.1:{port}/health")).toEqual({ kind: "http", url: "http://127.0.0.1:{port}/health" });
    expect(parseReady("delay:0.5")).toEqual({ kind: "delay", seconds: 0.5 });
    expect(parseReady("delay:0")).toEqual({ kind: "delay", seconds: 0 });
  });

  test.each(["", "ready", "tcp:", "tcp:host:", "tcp:70000", "tcp:http", "http://", "ftp://x/", "delay:", "delay:-1", "delay:soon", "tcp:{pid}", "notify:1"])(
    "rejects %p naming it and the forms",
    (s) => {
      expect(() => parseReady(s)).toThrow(ConfigError);
      expect(() => parseReady(s)).toThrow(`ready ${JSON.stringify(s)}:`);
      expect(() => parseReady(s)).toThrow("tcp:HOST:PORT");
    },
  );
});

describe("parseHealth", () => {
  test("accepts every form", () => {
    expect(parseHealth("http:/health")).toEqual({ kind: "http", url: "http://127.0.0.1:{private}/health" });
    expect(parseHealth("http://127.0.0.1:{port}/up")).toEqual({ kind: "http", url: "http://127.0.0.1:{port}/up" });
    expect(parseHealth("tcp:127.0.0.1:{port}")).toEqual({ kind: "tcp", host: "127.0.0.1", port: "{port}" });
    expect(parseHealth("exec:test -e /tmp/ok")).toEqual({ kind: "exec", command: "test -e /tmp/ok" });
  });

  // The tcp forms are readiness's: one parser (probe.ts parseTcp), so a
  // port that is not one fails the start here too.
  test.each(["", "health", "tcp:", "tcp:bad", "tcp:127.0.0.1:99999", "tcp:{pid}", "exec:", "http://", "ftp://x/"])("rejects %p naming it and the forms", (s) => {
    expect(() => parseHealth(s)).toThrow(ConfigError);
    expect(() => parseHealth(s)).toThrow(`health ${JSON.stringify(s)}:`);
    expect(() => parseHealth(s)).toThrow("exec:COMMAND");
  });
});

test("expandReady substitutes {id} and {port}", () => {
  const vars = { id: 3, port: 8002 };
  expect(expandReady(parseReady("tcp:{port}"), vars)).toEqual({ kind: "tcp", host: "127.0.0.1", port: "8002" });
  expect(expandReady(parseReady("http://127.0.0.1:{port}/w/{id}"), vars)).toEqual({ kind: "http", url: "http://127.0.0.1:8002/w/3" });
  expect(expandReady(parseReady("delay:2"), vars)).toEqual({ kind: "delay", seconds: 2 });
});

describe("probeOnce", () => {
  let server: ReturnType<typeof Bun.serve>;
  let silent: ListenSocket[];
  let closedPort: number;
  beforeAll(() => {
    server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req) => new Response("x", { status: Number(new URL(req.url).pathname.slice(1)) || 200 }),
    });
    // A socket in listen state that nobody accepts on: the handshake
    // completes in the backlog, the request is never answered.
    silent = bindListen(["127.0.0.1:0"], { backlog: 4, mode: "" });
    const gone = bindListen(["127.0.0.1:0"], { backlog: 1, mode: "" });
    closedPort = boundPort(gone[0]!.fd);
    closeListen(gone);
  });
  afterAll(() => {
    server.stop(true);
    closeListen(silent);
  });

  test("tcp: true when something listens, false when refused", async () => {
    expect(await probeOnce({ kind: "tcp", host: "127.0.0.1", port: String(server.port) })).toBe(true);
    expect(await probeOnce({ kind: "tcp", host: "127.0.0.1", port: String(closedPort) })).toBe(false);
  });

  test("http: any status below 500 is ready", async () => {
    const url = (path: string) => ({ kind: "http" as const, url: `http://127.0.0.1:${server.port}/${path}` });
    expect(await probeOnce(url("200"))).toBe(true);
    expect(await probeOnce(url("404"))).toBe(true);
    expect(await probeOnce(url("503"))).toBe(false);
    expect(await probeOnce({ kind: "http", url: `http://127.0.0.1:${closedPort}/` })).toBe(false);
  });

  test("http: a server that never answers is not ready, within about a second", async () => {
    const t0 = performance.now();
    expect(await probeOnce({ kind: "http", url: `http://127.0.0.1:${boundPort(silent[0]!.fd)}/` })).toBe(false);
    const ms = performance.now() - t0;
    expect(ms).toBeGreaterThan(900);
    expect(ms).toBeLessThan(2500);
  });

  test("notify and delay are not probes", async () => {
    expect(await probeOnce({ kind: "notify" })).toBe(false);
    expect(await probeOnce({ kind: "delay", seconds: 0 })).toBe(false);
  });
});
