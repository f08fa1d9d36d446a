// Issue 9: the master always answers, whatever its workers or its readers
// do. The real binary, real processes, real pipes and sockets.
import { afterEach, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { NotifyServer } from "../../src/net/notify.ts";
import { Master, SUP, alive, fixture, freePort, runSup, tempDir, track, useCleanup, waitUntil } from "./harness.ts";

useCleanup();

const PY = "/usr/bin/python3";
const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);

test("a worker that sends READY=1 then 1,000 blocking STATUS= datagrams finishes and keeps answering", async () => {
  const dir = tempDir();
  const pidfile = join(dir, "sup.pid");
  const m = new Master(["--ready", "notify", "--pidfile", pidfile, "--", PY, fixture("chatty-notify.py"), "1000"]);
  await m.waitFor(/ready \(notify\)/, 15_000);
  // Blocked after ~11 datagrams if the master stops draining once the worker is ready.
  await m.waitFor(/sent 1000 in/, 15_000);
  const st = await runSup(["status", "--json", "--pidfile", pidfile]);
  expect(st.code).toBe(0);
  expect(JSON.parse(st.stdout).workers[0].status).toBe("step 999");
}, 40_000);

test("a worker that writes 200 MB without a newline: master RSS grows under 30 MB and USR1 is answered within 1 s", async () => {
  const m = new Master(["--ready", "delay:0", "--", fixture("flood.sh")], { env: { FLOOD_BYTES: "200000000" } });
  await m.waitFor(/worker 1 pid \d+ gen 1 ready/);
  const before = rssKb(m.pid);
  let worst = 0;
  let peak = before;
  for (let i = 0; i < 3 && !m.out.includes("flood done"); i++) {
    const n = m.count(/master pid \d+ up/g);
    const t0 = Date.now();
    m.signal("SIGUSR1");
    await waitUntil(() => m.count(/master pid \d+ up/g) > n, 5000, "the USR1 status table");
    worst = Math.max(worst, Date.now() - t0);
    peak = Math.max(peak, rssKb(m.pid));
    await Bun.sleep(200);
  }
  await m.waitFor(/flood done/, 60_000);
  peak = Math.max(peak, rssKb(m.pid));
  expect(worst).toBeLessThan(1000);
  expect((peak - before) / 1024).toBeLessThan(30);
  // Passed on cut at the line cap, not grown.
  expect(m.out).toContain("[line cut at 64 KiB]");
}, 90_000);

test("with its stdout and stderr a pipe nobody reads, the master answers sup status and stops on TERM within the mercy", async () => {
  const dir = tempDir();
  const pidfile = join(dir, "sup.pid");
  const fifo = join(dir, "log.fifo");
  Bun.spawnSync(["mkfifo", fifo]);
  // `sleep` holds the read end open and never reads: a stuck `| tee`.
  const p = Bun.spawn(["sh", "-c", `sleep 1000 < "${fifo}" > /dev/null & echo $!; exec "${SUP}" -p 2 --worker-reload-mercy 2 --pidfile "${pidfile}" -- "${fixture("chatter.sh")}" > "${fifo}" 2>&1`], { stdio: ["ignore", "pipe", "inherit"] });
  track(p.pid);
  const reader = Number((await new Response(p.stdout).text()).trim());
  track(reader);
  await waitUntil(() => Bun.file(pidfile).exists(), 10_000, "the pidfile");
  await Bun.sleep(1000); // long enough for 64 KiB of pipe to fill many times over
  const t0 = Date.now();
  const st = await runSup(["status", "--pidfile", pidfile], { ms: 10_000 });
  expect(st.code).toBe(0);
  expect(Date.now() - t0).toBeLessThan(5000);
  expect(st.stdout).toMatch(/^1\s+\d+\s+1\s+ready/m);
  const workers = [...st.stdout.matchAll(/^\d+\s+(\d+)\s+1\s/gm)].map((x) => Number(x[1]));
  expect(workers).toHaveLength(2);
  process.kill(p.pid, "SIGTERM");
  const code = await Promise.race([p.exited, Bun.sleep(5000).then(() => -1)]);
  expect(code).toBe(0);
  for (const w of workers) expect(alive(w)).toBe(false);
}, 30_000);

test("USR2 with processes raised from 2 to 4 never stops a new-generation worker", async () => {
  const dir = tempDir();
  const ini = join(dir, "sup.ini");
  writeFileSync(ini, "[sup]\nprocesses = 2\nready = delay:0.2\nreload-grace = 0.3\n");
  const m = new Master(["--ini", ini, "--", fixture("sleeper.sh")]);
  await waitUntil(() => m.count(/gen 1 ready/g) === 2, 10_000, "2 ready");
  writeFileSync(ini, "[sup]\nprocesses = 4\nready = delay:0.2\nreload-grace = 0.3\n");
  m.signal("SIGUSR2");
  await m.waitFor(/reload gen 2 done/, 20_000);
  await Bun.sleep(300);
  expect(m.out).not.toMatch(/gen 2 stopping/);
  expect(m.count(/gen 2 spawned/g)).toBe(4);
  expect(m.count(/gen 2 ready/g)).toBe(4);
});

async function refused(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    const t = setTimeout(() => (s.destroy(), resolve(false)), 3000);
    s.once("connect", () => (clearTimeout(t), s.destroy(), resolve(false)));
    s.once("error", (e: NodeJS.ErrnoException) => (clearTimeout(t), resolve(e.code === "ECONNREFUSED")));
  });
}

test("a listen address dropped from the config on reload is closed: connects to it are refused", async () => {
  const dir = tempDir();
  const [a, b] = [await freePort(), await freePort()];
  const ini = join(dir, "sup.ini");
  writeFileSync(ini, `[sup]\nlisten = 127.0.0.1:${a}\nlisten = 127.0.0.1:${b}\nready = delay:0.2\nreload-grace = 0\nworker-reload-mercy = 2\n`);
  const m = new Master(["--ini", ini, "--", fixture("sleeper.sh")]);
  await m.waitFor(/gen 1 ready/);
  expect(await refused(b)).toBe(false);
  writeFileSync(ini, `[sup]\nlisten = 127.0.0.1:${a}\nready = delay:0.2\nreload-grace = 0\nworker-reload-mercy = 2\n`);
  m.signal("SIGHUP");
  await m.waitFor(/reload gen 2 done/);
  await m.waitFor(/gen 1 exited/);
  await m.waitFor(new RegExp(`listen 127\\.0\\.0\\.1:${b}: closed`));
  expect(await refused(b)).toBe(true);
  expect(await refused(a)).toBe(false);
});

let sock: NotifyServer | undefined;
afterEach(() => sock?.close());

test("stop during a reload: systemd hears STOPPING=1 and no READY=1 after it", async () => {
  sock = NotifyServer.open(join(tempDir(), "notify.sock"));
  const got: string[] = [];
  const m = new Master(["-p", "2", "--ready", "delay:2", "--", fixture("sleeper.sh")], { env: { NOTIFY_SOCKET: sock.path } });
  await waitUntil(() => (got.push(...sock!.drain().map((x) => x.text)), got.some((t) => t.includes("READY=1"))), 15_000, "READY=1");
  m.signal("SIGHUP");
  await m.waitFor(/reload gen 2 started/);
  m.signal("SIGTERM");
  expect(await m.exitCode()).toBe(0);
  got.push(...sock.drain().map((x) => x.text));
  const stopping = got.findIndex((t) => t.includes("STOPPING=1"));
  expect(stopping).toBeGreaterThan(0);
  expect(got.slice(stopping + 1).filter((t) => t.includes("READY=1"))).toEqual([]);
  expect(m.out).not.toContain("keeps serving");
});

test("a Node worker says READY=1 on its notify pipe, without native code; one that never says it is not counted ready", async () => {
  const ok = new Master(["--ready", "notify", "--", "node", fixture("notify-pipe.mjs")]);
  await ok.waitFor(/worker 1 pid \d+ gen 1 ready \(notify\)/, 15_000);
  const dir = tempDir();
  const pidfile = join(dir, "sup.pid");
  const silent = new Master(["--ready", "notify", "--ready-timeout", "3", "--pidfile", pidfile, "--", "node", fixture("notify-pipe.mjs")], { env: { NO_READY: "1" } });
  await silent.waitFor(/node worker 1 pid \d+ fd \d+/, 15_000);
  await Bun.sleep(1000);
  const st = await runSup(["status", "--json", "--pidfile", pidfile]);
  expect(JSON.parse(st.stdout).workers[0].state).toBe("starting");
  await silent.waitFor(/not ready within 3s/, 10_000);
});

test("a progress bar drawn with \\r passes through as lines", async () => {
  const m = new Master(["--", "sh", "-c", "printf 'step 1\\rstep 2\\rstep 3\\r\\ndone\\n'; exec sleep 30"]);
  await m.waitFor(/\[1 g1\] done/);
  expect(m.out).toMatch(/\[1 g1\] step 1\n\[1 g1\] step 2\n\[1 g1\] step 3\n\[1 g1\] done/);
});

test("a reload whose new listen address is in use fails with the address and errno named; the old workers keep serving", async () => {
  const dir = tempDir();
  const [a, b] = [await freePort(), await freePort()];
  const squatter = Bun.listen({ hostname: "127.0.0.1", port: b, socket: { data() {} } });
  try {
    const ini = join(dir, "sup.ini");
    writeFileSync(ini, `[sup]\nlisten = 127.0.0.1:${a}\nready = delay:0.2\nreload-grace = 0\n`);
    const pidfile = join(dir, "sup.pid");
    const m = new Master(["--ini", ini, "--pidfile", pidfile, "--", fixture("sleeper.sh")]);
    await m.waitFor(/gen 1 ready/);
    const old = m.livePids();
    writeFileSync(ini, `[sup]\nlisten = 127.0.0.1:${a}\nlisten = 127.0.0.1:${b}\nready = delay:0.2\nreload-grace = 0\n`);
    const r = await runSup(["reload", "--wait", "--pidfile", pidfile]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`listen 127.0.0.1:${b}: address already in use`);
    expect(r.stderr).toContain("keeping the old config and workers");
    expect(m.livePids()).toEqual(old);
    for (const p of old) expect(alive(p)).toBe(true);
    expect(m.out).not.toContain("gen 2 spawned");
  } finally {
    squatter.stop(true);
  }
});

test("delays past a timer's 24.8 days (a lifetime of 3,000 years, a worker's WATCHDOG_USEC of 10^23, a check interval in ms) never make a timer spin", async () => {
  const dir = tempDir();
  const touch = join(dir, "reload");
  writeFileSync(touch, "");
  const cases: [string, string[]][] = [
    ["lifetime", ["--max-worker-lifetime", "99999999999"]],
    ["watchdog", ["--watchdog", "5"]],
    ["check-interval", ["--touch-reload", touch, "--check-interval", "99999999999"]],
  ];
  // READY=1, then (once ready, so the watchdog runs) a WATCHDOG_USEC far past any timer.
  const say = 'import os,socket,time\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.sendto(b"READY=1",os.environ["NOTIFY_SOCKET"])\ntime.sleep(0.3)\ns.sendto(b"WATCHDOG_USEC=99999999999999999999999",os.environ["NOTIFY_SOCKET"])\nprint("said it",flush=True)\ntime.sleep(100)';
  for (const [what, args] of cases) {
    const m = new Master(["--ready", "notify", ...args, "--", PY, "-c", say]);
    await m.waitFor(/said it/);
    await Bun.sleep(500);
    // An overflowing timer fires after 1 ms, each time with a warning on stderr, past sup's bounded writers.
    expect({ what, out: m.out }).not.toMatchObject({ out: expect.stringContaining("TimeoutOverflowWarning") });
    expect(m.out).not.toContain("is replaced");
    m.signal("SIGTERM");
    expect(await m.exitCode()).toBe(0);
  }
}, 40_000);
