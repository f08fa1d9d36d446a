// Who may use a master's control socket, and how a client finds and trusts
// it (issue 10, items 1-3): found from the pid whatever the client's TMPDIR;
// only the master's uid and root get in (SO_PEERCRED); a socket someone else
// planted is never spoken to; a malformed request gets an error and nothing
// happens. Real binary; other users through setpriv (needs root).
import { describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Master, SUP, alive, asNobody, fixture, forNobody, isRoot, runSup, tempDir, track, useCleanup, waitUntil } from "./harness.ts";

useCleanup();

// Tiny programs the test runs (as root or nobody), in a dir anyone can read
// (made again for each test: cleanup removes temp dirs after each).
function tools() {
  const d = tempDir(0o755);
  // raw PATH LINE: sends LINE as it is, prints what comes back until the master closes.
  writeFileSync(join(d, "raw.ts"), `const [path, line] = process.argv.slice(2);
let out = "";
await Bun.connect({ unix: path, socket: { open(s) { s.write(line); }, data(_s, d) { out += d.toString(); }, close() { console.log(out.trim() || "(closed)"); process.exit(0); }, error(_s, e) { console.log("error " + e.message); process.exit(3); } } })
  .catch((e) => { console.log("connect failed " + (e.code ?? e.message)); process.exit(4); });
`);
  // fake PATH PID LOG: a listener that claims to be sup master PID and logs what it is sent.
  writeFileSync(join(d, "fake.ts"), `import { appendFileSync } from "node:fs";
const [path, pid, log] = process.argv.slice(2);
Bun.listen({ unix: path, socket: { data(s, d) { appendFileSync(log, d); s.end(JSON.stringify({ ok: true, sup: true, pid: Number(pid), message: "reload requested" }) + "\\n"); } } });
console.log("listening");
`);
  for (const f of ["raw.ts", "fake.ts"]) chmodSync(join(d, f), 0o644);
  return { raw: join(d, "raw.ts"), fake: join(d, "fake.ts") };
}

const BUN = process.execPath;
async function raw(path: string, line: string, wrap = (a: string[]) => a): Promise<string> {
  const p = Bun.spawn(wrap([BUN, tools().raw, path, line]), { cwd: "/", stdio: ["ignore", "pipe", "pipe"], timeout: 20_000 });
  const [out] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  return out.trim();
}

const ready = (m: Master) => m.waitFor(/ready/);

describe("finding the master", () => {
  test("a client with another TMPDIR, a missing one or none finds the master from its pidfile", async () => {
    const t = tempDir(0o1777);
    const pidfile = join(t, "sup.pid");
    const m = new Master(["--ready", "delay:0.1", "--pidfile", pidfile, "--", fixture("sleeper.sh")], { env: { TMPDIR: t } });
    await ready(m);
    for (const env of [{ TMPDIR: tempDir(0o1777) }, { TMPDIR: "/nonexistent-sup-test" }, { TMPDIR: "" }]) {
      const r = await runSup(["status", "--pidfile", pidfile], { env });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`master pid ${m.pid}`);
    }
    expect(existsSync("/nonexistent-sup-test")).toBe(false);
  });

  test("the runtime dir goes in a usable XDG_RUNTIME_DIR, and a client without one still finds it", async () => {
    const xdg = tempDir(0o700);
    const t = tempDir(0o1777);
    const pidfile = join(t, "sup.pid");
    const m = new Master(["--ready", "delay:0.1", "--pidfile", pidfile, "--", fixture("sleeper.sh")], { env: { TMPDIR: t, XDG_RUNTIME_DIR: xdg } });
    await ready(m);
    expect(existsSync(join(xdg, `sup-${m.pid}`, "control.sock"))).toBe(true);
    expect(existsSync(join(t, `sup-${m.pid}`))).toBe(false);
    const r = await runSup(["reload", "--wait", "--pidfile", pidfile], { env: { TMPDIR: tempDir(0o1777), XDG_RUNTIME_DIR: "" } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("generation 2 serving");
  });
});

describe.if(isRoot)("other users", () => {
  const nobody = isRoot ? forNobody() : { sup: SUP, fixture };

  test("nobody's sup stop/reload/status against a root master: permission denied, exit 2, nothing signalled", async () => {
    const t = tempDir(0o1777);
    const pidfile = join(t, "sup.pid");
    const m = new Master(["--ready", "delay:0.1", "--pidfile", pidfile, "--", fixture("sleeper.sh")], { env: { TMPDIR: t } });
    await ready(m);
    for (const verb of [["stop"], ["reload"], ["status"], ["--stop", pidfile]]) {
      const args = verb[0] === "--stop" ? verb : [...verb, "--pidfile", pidfile];
      const r = await runSup(args, { sup: nobody.sup, wrap: asNobody, env: { TMPDIR: tempDir(0o1777) } });
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe(`sup: permission denied: sup master pid ${m.pid} (from ${pidfile}) runs as uid 0 (root); only that user and root may control it (you are uid 65534 (nobody)); nothing was signalled`);
    }
    await Bun.sleep(300);
    expect(alive(m.pid)).toBe(true);
    expect(m.out).not.toContain("requested");
  });

  test("the master refuses another uid by SO_PEERCRED even when its dir would let it in", async () => {
    const t = tempDir(0o1777);
    const m = new Master(["--ready", "delay:0.1", "--", fixture("sleeper.sh")], { env: { TMPDIR: t } });
    await ready(m);
    const dir = join(t, `sup-${m.pid}`);
    const sock = join(dir, "control.sock");
    chmodSync(dir, 0o755); // as if a careless admin opened it up
    chmodSync(sock, 0o777);
    const out = await raw(sock, '{"cmd":"stop","now":true}\n', asNobody);
    const denied = JSON.parse(out);
    expect(denied).toEqual({ ok: false, denied: true, error: `permission denied: uid 65534 (nobody) may not control sup master pid ${m.pid}, which runs as uid 0 (root); only that user and root may` });
    expect(JSON.parse(await raw(sock, '{"cmd":"ping"}\n'))).toMatchObject({ ok: true, sup: true, pid: m.pid }); // root may
    await Bun.sleep(300);
    expect(alive(m.pid)).toBe(true);
    expect(m.out).not.toContain("stop requested");
  });

  test("root controls a master run by nobody, from another TMPDIR", async () => {
    const t = tempDir(0o1777);
    const pidfile = join(t, "sup.pid");
    const m = new Master(["--ready", "delay:0.1", "--pidfile", pidfile, "--", nobody.fixture("sleeper.sh")], { env: { TMPDIR: t }, sup: nobody.sup, wrap: asNobody });
    await ready(m);
    expect(readFileSync(pidfile, "utf8")).toBe(`${m.pid}\n`);
    const st = await runSup(["status", "--pidfile", pidfile], { env: { TMPDIR: tempDir(0o1777) } });
    expect(st.code).toBe(0);
    const mine = await runSup(["status", "--pidfile", pidfile], { sup: nobody.sup, wrap: asNobody, env: { TMPDIR: tempDir(0o1777) } });
    expect(mine.code).toBe(0);
    const stop = await runSup(["stop", "--pidfile", pidfile]);
    expect(stop.code).toBe(0);
    expect(await m.exitCode()).toBe(0);
  });

  test("a master with a /tmp of its own (systemd PrivateTmp) is reached through /proc/PID/root", async () => {
    const t = tempDir(0o1777);
    const pidfile = join(tempDir(0o1777), "sup.pid");
    // The master's $TMPDIR is a tmpfs only its mount namespace sees; the host's t stays empty.
    const m = new Master(["--ready", "delay:0.1", "--pidfile", pidfile, "--", fixture("sleeper.sh")], {
      env: { TMPDIR: t, T: t },
      wrap: (a) => ["unshare", "--mount", "--propagation", "private", "sh", "-c", 'mount -t tmpfs -o mode=1777 tmpfs "$T" && exec "$@"', "sh", ...a],
    });
    await ready(m);
    expect(existsSync(join(t, `sup-${m.pid}`))).toBe(false);
    const r = await runSup(["reload", "--wait", "--pidfile", pidfile]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("generation 2 serving");
    const stop = await runSup(["stop", "--pidfile", pidfile]);
    expect(stop.code).toBe(0);
    expect(await m.exitCode()).toBe(0);
  });

  // A process that is not sup, and a socket planted where its runtime dir would be.
  async function planted(owner: number) {
    const t = tempDir(0o1777);
    const other = Bun.spawn(["sleep", "30"], { env: { ...process.env, TMPDIR: t } });
    track(other.pid);
    const pidfile = join(t, "other.pid");
    writeFileSync(pidfile, `${other.pid}\n`);
    const dir = join(t, `sup-${other.pid}`);
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, owner, owner);
    const log = join(dir, "requests.log");
    const fake = Bun.spawn((owner === 0 ? (a: string[]) => a : asNobody)([BUN, tools().fake, join(dir, "control.sock"), String(other.pid), log]), { cwd: "/", stdout: "pipe" });
    track(fake.pid);
    await waitUntil(() => existsSync(join(dir, "control.sock")), 5000, "the fake socket");
    return { pidfile, other, dir, log, fake };
  }

  test("a socket planted by another user where the master's would be is not spoken to", async () => {
    const { pidfile, other, dir, log } = await planted(65534);
    for (const args of [["--reload", pidfile], ["stop", "--pidfile", pidfile]]) {
      const r = await runSup(args);
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe(`sup: pid ${other.pid} (from ${pidfile}) is not a sup master: ${dir} is owned by uid 65534 (nobody), not by uid 0 (root), so that is not its control socket; nothing was signalled`);
    }
    expect(existsSync(log)).toBe(false);
    expect(alive(other.pid)).toBe(true);
  });

  test("a socket of the right owner that another process listens on is not spoken to (SO_PEERCRED pid)", async () => {
    const { pidfile, other, dir, log, fake } = await planted(0);
    const r = await runSup(["--stop", pidfile]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`pid ${other.pid} (from ${pidfile}) is not a sup master: ${dir}/control.sock is held by pid ${fake.pid}, not by ${other.pid}; nothing was signalled`);
    expect(existsSync(log)).toBe(false);
    expect(alive(other.pid)).toBe(true);
  });
});

describe("requests", () => {
  test("a malformed request gets an error answer and the connection closes; nothing happens", async () => {
    const t = tempDir(0o1777);
    const pidfile = join(t, "sup.pid");
    const m = new Master(["--ready", "delay:0.1", "--pidfile", pidfile, "--", fixture("sleeper.sh")], { env: { TMPDIR: t } });
    await ready(m);
    const sock = join(t, `sup-${m.pid}`, "control.sock");
    for (const [line, error] of [
      ["hello\n", "bad request: request is not JSON"],
      ['{"cmd":"stop","now":"yes"}\n', "bad request: stop: now must be true or false"],
      ['{"cmd":"reload","now":true}\n', 'bad request: reload takes no "now" (only rolling, wait, program)'],
      ['{"cmd":"exec","argv":["rm"]}\n', 'bad request: unknown command "exec"'],
      ["a".repeat(5000), "bad request: longer than 4096 bytes"],
    ] as const) {
      const answer = JSON.parse(await raw(sock, line));
      expect(answer.ok).toBe(false);
      expect(answer.error).toContain(error);
    }
    const st = await runSup(["status", "--pidfile", pidfile]);
    expect(st.code).toBe(0);
    expect(m.out).not.toContain("requested");
  });

  test.if(isRoot)("a master that is PID 1 (a container) is controlled through its pidfile holding 1", async () => {
    const t = tempDir(0o1777);
    const pidfile = join(t, "sup.pid");
    const m = new Master(["--ready", "delay:0.1", "--pidfile", pidfile, "--", fixture("sleeper.sh")], { env: { TMPDIR: t }, wrap: (a) => ["unshare", "--pid", "--fork", "--mount-proc", ...a] });
    await ready(m);
    expect(readFileSync(pidfile, "utf8")).toBe("1\n");
    // The master as the host sees it: the child of unshare.
    const hostPid = Number(readFileSync(`/proc/${m.pid}/task/${m.pid}/children`, "utf8").trim().split(" ")[0]);
    const inside = (a: string[]) => ["nsenter", "--target", String(hostPid), "--pid", "--mount", ...a];
    const st = await runSup(["status", "--pidfile", pidfile], { wrap: inside });
    expect(st.stderr).toBe("");
    expect(st.stdout).toContain("master pid 1 ");
    const reload = await runSup(["reload", "--wait", "--pidfile", pidfile], { wrap: inside });
    expect(reload.stdout).toContain("generation 2 serving");
    // The kernel kills the namespace (this client too) when its PID 1 exits: judge the master.
    await runSup(["stop", "--pidfile", pidfile], { wrap: inside });
    expect(await m.exitCode()).toBe(0);
    expect(m.out).toContain("graceful stop requested (control: sup stop)");
  });
});
