// The core contract (issue 2), against the compiled binary with real processes.
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Master, alive, fixture, runSup, tempDir, track, useCleanup, waitUntil } from "./harness.ts";

useCleanup();

const ready = async (m: Master, n: number) => await waitUntil(() => m.count(/ ready \(/g) >= n, 10_000, () => `${n} ready lines:\n${m.out}`);

describe("sup master", () => {
  test("HUP replaces every worker pid and no old pid remains", async () => {
    const m = new Master(["-p", "3", "--ready", "delay:0.2", "--", fixture("sleeper.sh")]);
    await ready(m, 3);
    const old = m.livePids();
    expect(old).toHaveLength(3);
    m.signal("SIGHUP");
    await m.waitFor(/reload gen 2 done/);
    await waitUntil(() => old.every((p) => !alive(p)), 5000, "old workers gone");
    await waitUntil(() => m.livePids().length <= 3, 5000, () => `the old workers' exit lines:\n${m.out}`); // the log trails the exits
    const now = m.livePids();
    expect(now).toHaveLength(3);
    for (const p of now) expect(old).not.toContain(p);
    for (const p of now) expect(alive(p)).toBe(true);
    expect(m.out).toContain("reload requested (signal HUP)");
  });

  test("TERM stops the whole tree, grandchildren included, and exits 0", async () => {
    const m = new Master(["-p", "2", "--", fixture("forker.sh")]);
    await m.waitFor(/grandchild \d+[\s\S]*grandchild \d+/);
    const grandchildren = [...m.out.matchAll(/grandchild (\d+)/g)].map((x) => Number(x[1]));
    const workers = m.livePids();
    m.signal("SIGTERM");
    expect(await m.exitCode()).toBe(0);
    await waitUntil(() => [...grandchildren, ...workers].every((p) => !alive(p)), 3000, "tree gone");
    expect(m.out).toContain("graceful stop requested (signal TERM)");
  });

  test("a worker that ignores TERM is killed after the mercy", async () => {
    const m = new Master(["--worker-reload-mercy", "1", "--", fixture("ignore-term.sh")]);
    await m.waitFor(/stubborn pid (\d+) up/);
    const [pid] = m.livePids();
    const t0 = Date.now();
    m.signal("SIGTERM");
    expect(await m.exitCode()).toBe(0);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(alive(pid!)).toBe(false);
    expect(m.out).toMatch(/did not stop within 1s; sent SIGKILL/);
  });

  test("a crashing command is respawned with growing delays, not in a spin", async () => {
    const m = new Master(["--", fixture("crash.sh")]);
    await Bun.sleep(3000);
    const spawns = m.count(/spawned/g);
    // 0.1+0.2+0.4+0.8+1.6 s of backoff: about 5 spawns in 3 s, never dozens.
    expect(spawns).toBeGreaterThanOrEqual(3);
    expect(spawns).toBeLessThanOrEqual(7);
    const delays = [...m.out.matchAll(/respawn in ([\d.]+)s/g)].map((x) => Number(x[1]));
    for (let i = 1; i < delays.length; i++) expect(delays[i]!).toBeGreaterThan(delays[i - 1]!);
    expect(m.out).toMatch(/exited code 3 after/);
    expect(m.out).toContain("boot failed: cannot import app");
  });

  test("a crash loop is reported with the exit code and the last stderr lines", async () => {
    const dir = tempDir();
    const pidfile = join(dir, "sup.pid");
    const m = new Master(["--backoff-max", "0.2", "--pidfile", pidfile, "--", fixture("crash.sh")]);
    await m.waitFor(/crash loop: 5 exits in a row, last code 3/);
    expect(m.out).toMatch(/last stderr:\n\s+boot failed/);
    const st = await runSup(["status", "--pidfile", pidfile]);
    expect(st.code).toBe(0);
    expect(st.stdout).toMatch(/worker 1: crash loop, \d+ exits in a row, last code 3/);
    expect(st.stdout).toContain("boot failed: cannot import app");
  });

  test("TTIN adds a worker and TTOU removes one", async () => {
    const m = new Master(["-p", "2", "--ready", "delay:0.1", "--", fixture("sleeper.sh")]);
    await ready(m, 2);
    m.signal("SIGTTIN");
    await m.waitFor(/worker 3 pid \d+ gen 1 spawned/);
    await waitUntil(() => m.livePids().length === 3, 5000, "3 workers");
    m.signal("SIGTTOU");
    await m.waitFor(/worker 3 pid \d+ gen 1 exited (code 0|signal SIGTERM) \(scale down\)/);
    expect(m.livePids()).toHaveLength(2);
    m.signal("SIGTTOU");
    await m.waitFor(/worker 2 pid \d+ gen 1 exited/);
    m.signal("SIGTTOU");
    await m.waitFor(/already at 1 worker/);
    expect(m.livePids()).toHaveLength(1);
  });

  test("workers get their id, generation, master pid, env and chdir", async () => {
    const dir = tempDir();
    const m = new Master(["-p", "2", "--chdir", dir, "--env", "FOO=bar baz", "--", fixture("env.sh")]);
    const a = await m.waitFor(/ENV id=1 gen=1 master=(\d+) foo=bar baz cwd=(\S+)/);
    await m.waitFor(/ENV id=2 gen=1/);
    expect(Number(a[1])).toBe(m.pid);
    expect(a[2]).toBe(dir);
    expect(m.out).toMatch(/^\[1 g1\] ENV id=1/m);
  });

  test("USR1 logs a status table", async () => {
    const m = new Master(["-p", "2", "--ready", "delay:0.1", "--", fixture("sleeper.sh")]);
    await ready(m, 2);
    m.signal("SIGUSR1");
    await m.waitFor(/master pid \d+ up [\d.]+s gen 1 workers 2\/2/);
    await m.waitFor(/ID\s+PID\s+GEN\s+STATE/);
  });

  test("QUIT kills every worker at once; a second INT stops at once", async () => {
    const m = new Master(["-p", "2", "--", fixture("ignore-term.sh")]);
    await waitUntil(() => m.count(/stubborn pid/g) >= 2, 5000, "2 workers");
    const pids = m.livePids();
    m.signal("SIGQUIT");
    expect(await m.exitCode(5000)).toBe(0);
    for (const p of pids) expect(alive(p)).toBe(false);

    const m2 = new Master(["--worker-reload-mercy", "60", "--", fixture("ignore-term.sh")]);
    await m2.waitFor(/stubborn pid/);
    m2.signal("SIGINT");
    await m2.waitFor(/graceful stop requested \(signal INT\)/);
    m2.signal("SIGINT");
    expect(await m2.exitCode(5000)).toBe(0);
    expect(m2.out).toContain("immediate stop requested (signal INT)");
  });

  test("SIGKILL of the master leaves no worker behind", async () => {
    const m = new Master(["-p", "2", "--", fixture("sleeper.sh")]);
    await waitUntil(() => m.count(/ up$/gm) >= 2, 5000, "2 workers up");
    const pids = m.livePids();
    m.signal("SIGKILL");
    await waitUntil(() => pids.every((p) => !alive(p)), 2000, "workers to die with the master");
  });
});

describe("bad input", () => {
  test("a command that does not exist is refused, exit 2, naming it", async () => {
    const r = await runSup(["--", "no-such-command-xyz", "arg"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('command not found: "no-such-command-xyz"');
  });

  test("with no PATH and no HOME (env -i): a bare command name is found where execvp and systemd look, and the worker runs", async () => {
    const m = new Master(["--ready", "delay:0.2", "--", "sh", "-c", "echo home-$HOME-end; exec sleep 30"], { wrap: (argv) => ["env", "-i", ...argv] });
    await m.waitFor(/\[1 g1\] home--end/);
    await m.waitFor(/gen 1 ready/);
    m.signal("SIGTERM");
    expect(await m.exitCode()).toBe(0);
    const r = await runSup(["--", "no-such-command-xyz"], { wrap: (argv) => ["env", "-i", ...argv] });
    expect(r.stderr).toContain('command not found: "no-such-command-xyz" (not an executable file on PATH (not set: looked in /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin))');
  });

  test("no command at all is a usage error", async () => {
    const r = await runSup(["-p", "2"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("no command to run");
  });

  test("an unknown option names itself and suggests the right one", async () => {
    const r = await runSup(["--procesess", "2", "--", "true"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option --procesess (did you mean --processes?)");
  });

  test("a bad value names the option", async () => {
    const r = await runSup(["-p", "zero", "--", "true"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("option -p: processes must be a whole number");
  });

  test("--reload and --stop refuse a stale pidfile without signalling", async () => {
    const dir = tempDir();
    const pidfile = join(dir, "stale.pid");
    const dead = Bun.spawn(["true"]);
    await dead.exited;
    writeFileSync(pidfile, `${dead.pid}\n`);
    for (const args of [["--reload", pidfile], ["--stop", pidfile], ["status", "--pidfile", pidfile]]) {
      const r = await runSup(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`stale pidfile ${pidfile}: pid ${dead.pid} is not running`);
    }
  });

  test("--reload and --stop refuse a pid that is not a sup master, and leave it alone", async () => {
    const dir = tempDir();
    const pidfile = join(dir, "other.pid");
    const other = Bun.spawn(["sleep", "30"]);
    track(other.pid);
    writeFileSync(pidfile, `${other.pid}\n`);
    for (const args of [["--reload", pidfile], ["--stop", pidfile], ["reload", "--pidfile", pidfile]]) {
      const r = await runSup(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`pid ${other.pid} (from ${pidfile}) is not a sup master`);
    }
    expect(alive(other.pid)).toBe(true);
  });

  test("a pidfile that is missing or holds garbage is refused", async () => {
    const dir = tempDir();
    const r1 = await runSup(["--stop", join(dir, "nope.pid")]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toContain("does not exist");
    writeFileSync(join(dir, "junk.pid"), "hello\n");
    const r2 = await runSup(["--reload", join(dir, "junk.pid")]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain("does not hold a pid");
  });
});

describe("pidfile and control verbs", () => {
  test("a pidfile naming a running process that is not sup (another program's, as supervisord's) is refused, exit 2, and left as it was", async () => {
    const dir = tempDir();
    const pidfile = join(dir, "supervisord.pid");
    const other = Bun.spawn(["sleep", "30"]);
    try {
      writeFileSync(pidfile, `${other.pid}\n`);
      const r = await runSup(["--pidfile", pidfile, "--", fixture("sleeper.sh")]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`pidfile ${pidfile} names pid ${other.pid} (sleep), a running process that is not a sup master`);
      expect(r.stderr).not.toContain("spawned");
      expect(readFileSync(pidfile, "utf8")).toBe(`${other.pid}\n`);
    } finally {
      other.kill("SIGKILL");
    }
    // Once that process is gone the file is stale: sup takes it over.
    await other.exited;
    const m = new Master(["--ready", "delay:0.1", "--pidfile", pidfile, "--", fixture("sleeper.sh")]);
    await m.waitFor(/gen 1 ready/);
    await waitUntil(() => readFileSync(pidfile, "utf8").trim() === String(m.pid), 5_000, "the pidfile taken over");
  });

  test("pidfile written when up, reload/status/stop act on it, removed at exit", async () => {
    const dir = tempDir();
    const pidfile = join(dir, "sup.pid");
    const m = new Master(["-p", "2", "--ready", "delay:0.1", "--pidfile", pidfile, "--", fixture("sleeper.sh")]);
    await ready(m, 2);
    expect((await Bun.file(pidfile).text()).trim()).toBe(String(m.pid));

    const second = await runSup(["--pidfile", pidfile, "--", fixture("sleeper.sh")]);
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(`another sup master (pid ${m.pid}) is running with pidfile ${pidfile}`);
    expect(second.stderr).not.toContain("    at "); // no stack trace

    const st = await runSup(["status", "--pidfile", pidfile, "--json"]);
    expect(st.code).toBe(0);
    const report = JSON.parse(st.stdout);
    expect(report.workers).toHaveLength(2);
    expect(report.workers[0]).toMatchObject({ id: 1, generation: 1, state: "ready", restarts: 0 });
    expect(report.workers[0].rss).toBeGreaterThan(0);

    const rl = await runSup(["reload", "--pidfile", pidfile, "--wait"]);
    expect(rl.code).toBe(0);
    expect(rl.stdout).toContain("generation 2 serving");
    await m.waitFor(/reload requested \(control: sup reload\)/);

    const r = await runSup(["--reload", pidfile]);
    expect(r.code).toBe(0);
    await m.waitFor(/reload gen 3 done/);

    const s = await runSup(["--stop", pidfile]);
    expect(s.code).toBe(0);
    expect(await m.exitCode()).toBe(0);
    expect(await Bun.file(pidfile).exists()).toBe(false);
  });

  test("sup reload --rolling replaces workers one at a time (no grace: each old one goes as its replacement is ready)", async () => {
    const dir = tempDir();
    const pidfile = join(dir, "sup.pid");
    const m = new Master(["-p", "3", "--ready", "delay:0.2", "--reload-grace", "0", "--pidfile", pidfile, "--", fixture("sleeper.sh")]);
    await ready(m, 3);
    const r = await runSup(["reload", "--rolling", "--wait", "--pidfile", pidfile]);
    expect(r.code).toBe(0);
    await m.waitFor(/worker 3 pid \d+ gen 1 stopping/); // the log may trail the answer
    // Each old worker is stopped only after its replacement is ready.
    const order = [...m.out.matchAll(/worker (\d) pid \d+ gen (\d) (spawned|ready|stopping)/g)].map((x) => `${x[1]}.${x[2]}.${x[3]}`).filter((s) => !s.endsWith("1.spawned") && !s.includes(".1.ready"));
    expect(order).toEqual(["1.2.spawned", "1.2.ready", "1.1.stopping", "2.2.spawned", "2.2.ready", "2.1.stopping", "3.2.spawned", "3.2.ready", "3.1.stopping"]);
  });
});

describe("logs and shell", () => {
  test("--log-format json gives one JSON object per line, with worker, pid and generation", async () => {
    const m = new Master(["--log-format", "json", "--ready", "delay:0.1", "--", fixture("sleeper.sh")]);
    await m.waitFor(/"event":"worker.ready"/);
    await m.waitFor(/"stream":"stdout"/);
    const lines = m.out.trim().split("\n");
    const objs = lines.map((l) => JSON.parse(l));
    const ready = objs.find((o) => o.event === "worker.ready");
    expect(ready).toMatchObject({ level: "info", worker: 1, gen: 1, pid: m.pid });
    expect(ready.wpid).toBe(m.livePids()[0] ?? ready.wpid);
    expect(objs.find((o) => o.stream === "stdout")?.line).toMatch(/^worker 1 gen 1 pid \d+/);
  });

  test("--shell runs the command through /bin/sh -c; without it nothing is re-split", async () => {
    const m = new Master(["--shell", "--", "echo shell-$((6*7)); exec sleep 30"]);
    await m.waitFor(/\[1 g1\] shell-42/);
    const r = await runSup(["--", "echo hello"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('command not found: "echo hello"');
  });
});

describe("bad input caught before anything starts", () => {
  for (const [args, msg] of [
    [["--chdir", "/nonexistent-dir-xyz"], "chdir /nonexistent-dir-xyz: not a directory"],
    [["--stop-signal", "FOO"], 'stop-signal "FOO" is not a signal name'],
    [["--pidfile", "/nonexistent-dir-xyz/x.pid"], "directory /nonexistent-dir-xyz does not exist"],
    [["--env", "FOO"], 'env "FOO": expected KEY=VALUE'],
    [["--ready", "bogus"], 'ready "bogus": unknown readiness check'],
    [["--listen", "1.2.3.4.5:80"], 'listen "1.2.3.4.5:80"'],
    [["--listen", "127.0.0.1:58123", "--ready", "tcp:58123"], "which sup listens on for every worker (listen 127.0.0.1:58123)"],
    [["--listen", "127.0.0.1:58123", "--ready", "http://127.0.0.1:58123/health"], "proves nothing about a new one"],
  ] as const) {
    test(`${args.join(" ")} → exit 2 naming it`, async () => {
      const r = await runSup([...args, "--", "sleep", "5"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(msg);
      expect(r.stderr).not.toContain("spawned");
    });
  }
});

describe("config file in the working directory", () => {
  test("a bare `sup` runs the command of the sup.ini it finds; with none it prints help, exit 2", async () => {
    const dir = tempDir();
    const none = await runSup([], { cwd: dir });
    expect(none.code).toBe(2);
    expect(none.stdout).toContain("USAGE sup");
    writeFileSync(join(dir, "sup.ini"), `[sup]\nprocesses = 2\nready = delay:0.1\ncommand = ${fixture("sleeper.sh")}\n`);
    const m = new Master([], { cwd: dir });
    await ready(m, 2);
    expect(m.livePids()).toHaveLength(2);
  });
});
