// The probes a Kubernetes kubelet sends to sup's --stats server: /readyz
// turns 503 on TERM with --shutdown-delay while the app keeps answering,
// /healthz and /readyz answer all through a reload, and hostile clients
// (slowloris, a huge head, 10,000 connections) never keep them from it.
import { expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { Master, fixture, freePort, tempDir, useCleanup, waitUntil } from "./harness.ts";

useCleanup();

const get = async (url: string) => {
  const t = performance.now();
  const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: r.status, body: await r.text(), ms: performance.now() - t };
};

async function start(extra: string[], env: Record<string, string> = {}) {
  const [app, stats] = [await freePort(), await freePort()];
  // --ready notify: hello.py says READY=1 once it serves (a delay would not wait for a slow python start).
  const m = new Master(["-p", "2", "--listen", `127.0.0.1:${app}`, "--ready", "notify", "--reload-grace", "0.3", "--stats", `127.0.0.1:${stats}`, ...extra, "--", fixture("app.sh")], { env: { APP_DIR: tempDir(), ...env } });
  await waitUntil(() => m.count(/worker \d pid \d+ gen 1 ready/g) === 2, 20_000, () => `both workers ready:\n${m.out}`);
  return { m, app: `http://127.0.0.1:${app}/`, stats: `http://127.0.0.1:${stats}` };
}

test("TERM with --shutdown-delay: /readyz answers 503 at once while the app keeps serving, then the stop", async () => {
  const { m, app, stats } = await start(["--shutdown-delay", "2"]);
  expect((await get(`${stats}/readyz`)).status).toBe(200);
  const t0 = performance.now();
  m.signal("SIGTERM");
  await waitUntil(async () => (await get(`${stats}/readyz`)).status === 503, 1000, "/readyz 503 within 1 s of TERM");
  expect((await get(`${stats}/readyz`)).body).toBe("not ready: draining before the stop (--shutdown-delay)\n");
  expect((await get(`${stats}/healthz`)).status).toBe(200); // alive: the kubelet must not restart it
  let served = 0;
  while (performance.now() - t0 < 1700) {
    const r = await get(app).catch((e) => {
      throw new Error(`${(e as Error).message} ${Math.round(performance.now() - t0)} ms after TERM, ${served} served; log:\n${m.out}`);
    });
    expect(r.status).toBe(200);
    served++;
  }
  expect(served).toBeGreaterThan(10);
  expect(m.out).not.toContain("graceful stop requested");
  expect(await m.exitCode(15_000)).toBe(0);
  expect(performance.now() - t0).toBeGreaterThan(2000);
  expect(m.out).toMatch(/draining \(signal TERM\)[^\n]*2s \(--shutdown-delay\)[\s\S]*graceful stop requested \(signal TERM, after --shutdown-delay\)/);
}, 40_000);

test("a second TERM skips the delay", async () => {
  const { m, stats } = await start(["--shutdown-delay", "60"]);
  m.signal("SIGTERM");
  await waitUntil(async () => (await get(`${stats}/readyz`)).status === 503, 1000, "/readyz 503");
  const t = performance.now();
  m.signal("SIGTERM");
  expect(await m.exitCode(10_000)).toBe(0);
  expect(performance.now() - t).toBeLessThan(5000);
}, 30_000);

test("/healthz and /readyz answer 200 all through a reload (the old generation serves until the new one is ready)", async () => {
  const { m, stats } = await start(["--reload-grace", "2"], { BOOT_DELAY: "1.5" });
  m.signal("SIGHUP");
  const seen: { path: string; status: number; ms: number }[] = [];
  while (!/reload gen 2 done/.test(m.out)) {
    for (const path of ["/healthz", "/readyz"]) seen.push({ path, ...(await get(`${stats}${path}`)) });
    await Bun.sleep(50);
    if (seen.length > 1000) throw new Error(`no reload end:\n${m.out}`);
  }
  expect(seen.length).toBeGreaterThan(20);
  expect(seen.filter((s) => s.status !== 200)).toEqual([]);
  expect(Math.max(...seen.map((s) => s.ms))).toBeLessThan(500);
}, 40_000);

test("/status is sup status --json; unknown paths, other methods and bodies are refused", async () => {
  const { stats } = await start([]);
  const s = JSON.parse((await get(`${stats}/status`)).body);
  expect(s.workers.map((w: { id: number; state: string }) => `${w.id} ${w.state}`)).toEqual(["1 ready", "2 ready"]);
  expect(s.programs[0].name).toBe("app.sh");
  expect((await get(`${stats}/nope`)).status).toBe(404);
  expect((await fetch(`${stats}/metrics`, { method: "POST", body: "x" })).status).toBe(413);
  expect((await fetch(`${stats}/metrics`, { method: "DELETE" })).status).toBe(405);
  const head = await fetch(`${stats}/metrics`, { method: "HEAD" });
  expect(head.status).toBe(200);
  expect(Number(head.headers.get("content-length"))).toBeGreaterThan(1000);
}, 30_000);

/** Raw TCP: what a client gets back (until the server closes), and when. */
function raw(port: number, send: string): Promise<{ text: string; ms: number }> {
  return new Promise((resolve) => {
    const t = performance.now();
    let text = "";
    const s = connect(port, "127.0.0.1", () => s.write(send));
    s.on("data", (d) => (text += d.toString("latin1")));
    s.on("close", () => resolve({ text, ms: performance.now() - t }));
    s.on("error", () => {});
  });
}

const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

test("slowloris, a huge head and 10,000 connections never keep /healthz from answering", async () => {
  const { m, stats } = await start([]);
  const port = Number(new URL(stats).port);
  const before = fds(m.pid);
  // A head that never ends is cut off (408) within the head time limit (5 s, checked every few seconds).
  const slow = raw(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
  const huge = await raw(port, `GET /metrics HTTP/1.1\r\nX: ${"a".repeat(10_000)}\r\n\r\n`);
  expect(huge.text).toStartWith("HTTP/1.1 431 ");
  const opened: Socket[] = [];
  let slowest = 0;
  for (let batch = 0; batch < 20; batch++) {
    await Promise.all(Array.from({ length: 500 }, () => new Promise<void>((resolve) => {
      const s = connect(port, "127.0.0.1", () => resolve());
      s.on("error", () => resolve());
      s.on("close", () => resolve());
      opened.push(s);
    })));
    const h = await get(`${stats}/healthz`);
    expect(h.status).toBe(200);
    slowest = Math.max(slowest, h.ms);
  }
  expect(opened.length).toBe(10_000);
  expect(slowest).toBeLessThan(1000);
  // The master holds at most its bound of them.
  expect(fds(m.pid)).toBeLessThan(before + 140);
  for (const s of opened) s.destroy();
  const s = await slow;
  expect(s.text === "" || s.text.startsWith("HTTP/1.1 408 ")).toBe(true);
  expect(s.ms).toBeLessThan(12_000);
  await waitUntil(() => fds(m.pid) <= before + 2, 10_000, () => `the master's fds back to ${before}: ${fds(m.pid)}`);
}, 60_000);

test("a reload whose config moves --stats says it is read at start only, once, and the server stays where it was", async () => {
  const dir = tempDir();
  const [a, b] = [await freePort(), await freePort()];
  const file = `${dir}/sup.toml`;
  const write = (port: number) => Bun.write(file, `stats = "127.0.0.1:${port}"\ncommand = ["${fixture("sleeper.sh")}"]\nready = "delay:0.1"\nreload-grace = 0\n`);
  await write(a);
  const m = new Master([], { cwd: dir });
  await m.waitFor(/worker 1 pid \d+ gen 1 ready/);
  await write(b);
  m.signal("SIGHUP");
  await m.waitFor(/reload gen 2 done/);
  m.signal("SIGHUP");
  await m.waitFor(/reload gen 3 done/);
  expect(m.count(/reload: stats = "127\.0\.0\.1:\d+": read at start only; the master keeps stats = "127\.0\.0\.1:\d+" until it is restarted/g)).toBe(1);
  expect((await get(`http://127.0.0.1:${a}/healthz`)).status).toBe(200);
}, 30_000);
