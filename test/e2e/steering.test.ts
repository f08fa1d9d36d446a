// Issue 18 item 7: new code answers the moment it is ready, and the old
// generation stays a hot standby through the grace. Real binary, real
// HTTP on 127.0.0.1 and on a unix socket, real signals.
import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { Master, SUP, alive, fixture, freePort, runSup, tempDir, track, useCleanup, waitUntil } from "./harness.ts";

useCleanup();

/** One request on a fresh connection: the answering worker's pid and generation. */
async function hit(target: string): Promise<{ pid: number; gen: number }> {
  const unix = target.startsWith("unix:") ? target.slice(5) : undefined;
  const url = unix ? "http://localhost/" : `http://${target}/`;
  const res = await fetch(url, { unix, headers: { connection: "close" }, signal: AbortSignal.timeout(5000) } as RequestInit);
  const text = await res.text();
  const m = /pid (\d+) generation (\d+)/.exec(text);
  if (res.status !== 200 || !m) throw new Error(`bad answer ${res.status}: ${text}`);
  return { pid: Number(m[1]), gen: Number(m[2]) };
}

async function hits(target: string, n: number) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await hit(target));
  return out;
}

async function start(listen: string, extra: string[] = [], app = fixture("app.sh")) {
  const dir = tempDir();
  const pidfile = join(dir, "sup.pid");
  const m = new Master(["-p", "2", "--listen", listen, "--ready", "notify", "--worker-reload-mercy", "5", "--pidfile", pidfile, ...extra, "--", app], { env: { APP_DIR: dir, PATH: `/usr/bin:${process.env.PATH}` } });
  await waitUntil(() => m.count(/gen 1 ready \(notify\)/g) >= 2, 20_000, () => `2 ready workers:\n${m.out}`);
  return { m, dir, pidfile, old: m.livePids() };
}

describe("steering new connections to the newest ready generation", () => {
  for (const kind of ["tcp", "unix"] as const) {
    test(`${kind}: once the new workers are ready, 100 requests in a row are answered by them while the old workers live; a rollback in the grace steers back at once`, async () => {
      const listen = kind === "tcp" ? `127.0.0.1:${await freePort()}` : `unix:${join(tempDir(), "app.sock")}`;
      const { m, old } = await start(listen, ["--reload-grace", "30"]);
      expect((await hits(listen, 10)).every((h) => h.gen === 1)).toBe(true);
      m.signal("SIGHUP");
      await m.waitFor(/listen \S+: new connections go to gen 2/, 20_000);
      // Not before the new generation could serve as many as the old one (2 ready workers).
      expect(m.out.slice(0, m.out.indexOf("new connections go to gen 2")).match(/gen 2 ready/g)).toHaveLength(2);
      const answers = await hits(listen, 100);
      expect(answers.filter((h) => h.gen !== 2)).toEqual([]);
      for (const p of old) expect(alive(p)).toBe(true); // the standby, still in the grace
      expect(m.out).not.toContain("reload gen 2 done");
      // The new generation dies in the grace: roll back, and the old one answers at once (no cold start).
      const fresh = m.livePids().filter((p) => !old.includes(p));
      for (const p of fresh) process.kill(p, "SIGKILL");
      await m.waitFor(/reload gen 2 rolled back/, 10_000);
      await m.waitFor(/new connections go to gen 1/, 5000);
      const t0 = Date.now();
      const back = await hits(listen, 20);
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(back.filter((h) => !old.includes(h.pid))).toEqual([]);
    });
  }

  test("reload --wait returns once no old worker can be handed a new connection: every request after it is new code", async () => {
    const listen = `127.0.0.1:${await freePort()}`;
    // Old workers that still accept for 2 s after their SIGTERM.
    const { pidfile, old } = await start(listen, ["--reload-grace", "0.5"], fixture("late-stop.py"));
    const r = await runSup(["reload", "--wait", "--pidfile", pidfile]);
    expect(r.code).toBe(0);
    const answers = await hits(listen, 30);
    expect(answers.filter((h) => h.gen !== 2 || old.includes(h.pid))).toEqual([]);
  });
});

test("--boot-nice: a reload's new worker boots in a nicer autogroup and gets the usual one back when ready", async () => {
  const listen = `127.0.0.1:${await freePort()}`;
  const { m, dir } = await start(listen, ["--boot-nice", "19", "--ready-timeout", "8"]);
  const autogroup = (pid: number) => /nice (-?\d+)/.exec(readFileSync(`/proc/${pid}/autogroup`, "utf8"))?.[1];
  for (const p of m.livePids()) expect(autogroup(p)).toBe("0"); // the first generation boots as usual
  writeFileSync(join(dir, "slow"), ""); // the new workers take a second to boot
  m.signal("SIGHUP");
  const [, pid] = await m.waitFor(/worker \d+ pid (\d+) gen 2 spawned/);
  await waitUntil(() => autogroup(Number(pid)) === "19", 900, () => `autogroup of ${pid}: ${autogroup(Number(pid))}`);
  await m.waitFor(new RegExp(`pid ${pid} gen 2 ready`), 20_000);
  expect(autogroup(Number(pid))).toBe("0");
});

describe("where steering cannot work, generations share the socket as before", () => {
  test("socket-activated (LISTEN_FDS): a reload still works, says once that the sockets are shared, and --wait returns after the old workers exited", async () => {
    const port = await freePort();
    const listener = createServer();
    await new Promise<void>((r) => listener.listen(port, "127.0.0.1", () => r()));
    const fd = (listener as unknown as { _handle: { fd: number } })._handle.fd;
    const dir = tempDir();
    const pidfile = join(dir, "sup.pid");
    const proc = Bun.spawn(["sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=web exec "$0" -p 2 --ready notify --reload-grace 0.5 --pidfile "$1" -- "$2"`, SUP, pidfile, fixture("app.sh")], {
      stdio: ["ignore", "pipe", "pipe", fd],
      env: { ...process.env, APP_DIR: dir, PATH: `/usr/bin:${process.env.PATH}` },
    });
    track(proc.pid);
    listener.close();
    let out = "";
    void (async () => {
      for await (const c of proc.stderr as ReadableStream<Uint8Array>) out += new TextDecoder().decode(c);
    })();
    const pidsOf = (gen: number) => [...out.matchAll(new RegExp(`worker \\d+ pid (\\d+) gen ${gen} spawned`, "g"))].map((x) => Number(x[1]));
    try {
      await waitUntil(() => (out.match(/gen 1 ready \(notify\)/g) ?? []).length >= 2, 20_000, () => `2 ready workers:\n${out}`);
      for (const round of [2, 3]) {
        const r = await runSup(["reload", "--wait", "--pidfile", pidfile]);
        expect(r.code).toBe(0);
        for (const p of pidsOf(round - 1)) expect(alive(p)).toBe(false);
        expect((await hit(`127.0.0.1:${port}`)).gen).toBe(round);
      }
      expect(out.match(/the sockets came from systemd \(LISTEN_FDS\); every generation shares them/g)).toHaveLength(1);
    } finally {
      for (const p of [...pidsOf(1), ...pidsOf(2), ...pidsOf(3)]) track(p);
    }
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
  });
});

// Issue 18 item 5: a unix --listen path that changed under a running master.
// The next reload puts a socket back at the path, or fails saying why; it
// never says done while the path reaches nothing.
describe("a unix --listen path deleted or replaced under the master", () => {
  for (const mode of ["steered", "rolling (one shared socket)"] as const) {
    test(`${mode}: a deleted socket file is bound again on reload; a file put there, or a deleted directory, fails the reload and names it`, async () => {
      const dir = join(tempDir(), "run");
      mkdirSync(dir);
      const path = join(dir, "app.sock");
      const { m, pidfile } = await start(`unix:${path}`, ["--reload-grace", "0.2"]);
      const reload = () => runSup(["reload", "--wait", ...(mode === "steered" ? [] : ["--rolling"]), "--pidfile", pidfile], { ms: 30_000 });
      let gen = 1;

      rmSync(path);
      let r = await reload();
      expect(r.code).toBe(0);
      gen++;
      // The master's log line can be read here after the control reply.
      await m.waitFor(new RegExp(`listen unix:${path.replace(/[.]/g, "\\.")}: ${path.replace(/[.]/g, "\\.")} was gone`), 5_000);
      expect((await hit(`unix:${path}`)).gen).toBe(gen);

      rmSync(path);
      writeFileSync(path, "not a socket\n");
      r = await reload();
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`${path} is no longer the socket sup bound there (it is now a file that is not a socket); remove it and reload`);
      rmSync(path);
      r = await reload();
      expect(r.code).toBe(0);
      gen += 2; // the failed reload used a generation number too
      expect((await hit(`unix:${path}`)).gen).toBeGreaterThan(gen - 2);

      rmSync(dir, { recursive: true });
      r = await reload();
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`the directory ${dir} was deleted after sup bound its socket there, so nothing can connect by that path; create it again (mkdir -p ${dir}) and reload`);
      mkdirSync(dir);
      r = await reload();
      expect(r.code).toBe(0);
      const after = await hit(`unix:${path}`);
      expect(m.livePids()).toContain(after.pid);
      m.signal("SIGTERM");
      expect(await m.exitCode()).toBe(0);
      expect(readdirSync(dir)).toEqual([]);
    }, 90_000);
  }
});
