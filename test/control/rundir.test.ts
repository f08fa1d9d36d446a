import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeRuntimeDir, removeDeadDirs, runtimeBases } from "../../src/control/rundir.ts";

const roots: string[] = [];
afterAll(() => {
  for (const d of roots) rmSync(d, { recursive: true, force: true });
});
/** A fresh base dir; mode 1777 like /tmp unless told. */
function base(mode = 0o1777): string {
  const d = mkdtempSync(join(tmpdir(), "sup-rundir-"));
  roots.push(d);
  chmodSync(d, mode);
  return d;
}
/** Pids that are not running: spawned and reaped. */
function deadPid(): number {
  const p = Bun.spawnSync(["true"]);
  return p.pid;
}

describe("runtimeBases", () => {
  test("XDG_RUNTIME_DIR first, then TMPDIR or /tmp; relative ones from cwd", () => {
    expect(runtimeBases({}, "/srv")).toEqual(["/tmp"]);
    expect(runtimeBases({ TMPDIR: "/var/tmp" }, "/srv")).toEqual(["/var/tmp"]);
    expect(runtimeBases({ XDG_RUNTIME_DIR: "/run/user/0", TMPDIR: "tmp" }, "/srv")).toEqual(["/run/user/0", "/srv/tmp"]);
    expect(runtimeBases({ XDG_RUNTIME_DIR: "" }, "/srv")).toEqual(["/tmp"]);
  });
});

describe("makeRuntimeDir", () => {
  test("creates sup-PID in TMPDIR, a real dir of ours with mode 0700, whatever the umask", () => {
    const t = base();
    const old = process.umask(0o277);
    try {
      const dir = makeRuntimeDir(4_000_001, { TMPDIR: t }, "/");
      expect(dir).toBe(join(t, "sup-4000001"));
      const st = lstatSync(dir);
      expect(st.isDirectory()).toBe(true);
      expect(st.mode & 0o7777).toBe(0o700);
      expect(st.uid).toBe(process.geteuid!());
    } finally {
      process.umask(old);
    }
  });

  test("prefers a usable XDG_RUNTIME_DIR; one that is not 0700 is passed over", () => {
    const t = base();
    const xdg = base(0o700);
    expect(makeRuntimeDir(4_000_002, { TMPDIR: t, XDG_RUNTIME_DIR: xdg }, "/")).toBe(join(xdg, "sup-4000002"));
    chmodSync(xdg, 0o755);
    expect(makeRuntimeDir(4_000_003, { TMPDIR: t, XDG_RUNTIME_DIR: xdg }, "/")).toBe(join(t, "sup-4000003"));
    expect(makeRuntimeDir(4_000_004, { TMPDIR: t, XDG_RUNTIME_DIR: join(xdg, "gone") }, "/")).toBe(join(t, "sup-4000004"));
  });

  test("a missing TMPDIR is an error, and sup does not create it", () => {
    const missing = join(base(), "missing");
    expect(() => makeRuntimeDir(4_000_005, { TMPDIR: missing }, "/")).toThrow(`TMPDIR ${missing} cannot be used for sup's runtime dir: no such file or directory (ENOENT); create it or point TMPDIR at an existing directory (sup does not create it)`);
    expect(existsSync(missing)).toBe(false);
  });

  test("a TMPDIR others may write without the sticky bit is refused", () => {
    const t = base(0o777);
    expect(() => makeRuntimeDir(4_000_006, { TMPDIR: t }, "/")).toThrow("is writable by others and has no sticky bit");
  });

  test("an existing sup-PID that is not a dead master's is refused and left as it is", () => {
    const t = base();
    const dir = join(t, "sup-4000007");
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, "notes.txt"), "mine\n");
    expect(() => makeRuntimeDir(4_000_007, { TMPDIR: t }, "/")).toThrow(`runtime dir ${dir} already exists`);
    expect(existsSync(join(dir, "notes.txt"))).toBe(true);
  });

  test("a symlink at sup-PID is refused, and its target is neither chmodded nor used", () => {
    const t = base();
    const target = join(t, "target");
    mkdirSync(target, { mode: 0o755 });
    symlinkSync(target, join(t, "sup-4000008"));
    expect(() => makeRuntimeDir(4_000_008, { TMPDIR: t }, "/")).toThrow(`${join(t, "sup-4000008")} is a symlink (to ${target})`);
    expect(lstatSync(target).mode & 0o777).toBe(0o755);
  });

  test("a path too long for unix sockets is an error that says to shorten TMPDIR", () => {
    const t = join(base(), "x".repeat(80));
    mkdirSync(t, { mode: 0o700 });
    expect(() => makeRuntimeDir(4_000_009, { TMPDIR: t }, "/")).toThrow("too long for the unix sockets");
  });
});

describe("removeDeadDirs", () => {
  test("removes what dead masters of ours left, and nothing else", async () => {
    const t = base();
    const make = (name: string, files: string[]) => {
      const d = join(t, name);
      mkdirSync(d, { mode: 0o700 });
      for (const f of files) writeFileSync(join(d, f), "");
      return d;
    };
    const stale = make(`sup-${deadPid()}`, ["control.sock", "notify.sock", "notify-1-1.sock"]);
    const data = make(`sup-${deadPid()}`, ["control.sock", "notes.txt"]);
    const fresh = make(`sup-${deadPid()}`, []);
    const old = make(`sup-${deadPid()}`, []);
    utimesSync(old, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
    const alive = make(`sup-${process.pid}`, ["control.sock"]); // ours, alive
    const other = make("sup-other", ["control.sock"]);
    // A dead-looking pid whose socket still accepts: a master in another pid namespace.
    const live = make(`sup-${deadPid()}`, []);
    const server = Bun.listen({ unix: join(live, "control.sock"), socket: { data() {} } });
    const link = join(t, `sup-${deadPid()}`);
    symlinkSync(stale, link);
    try {
      const removed = removeDeadDirs(t, 4_000_010);
      expect(removed.sort()).toEqual([old, stale].sort());
      for (const d of [data, fresh, alive, other, live]) expect(existsSync(d)).toBe(true);
      expect(lstatSync(link).isSymbolicLink()).toBe(true);
    } finally {
      server.stop(true);
    }
  });

  test("sup-SELF left by an earlier master with our pid (a container's PID 1) is removed", () => {
    const t = base();
    const d = join(t, "sup-4000011");
    mkdirSync(d, { mode: 0o700 });
    writeFileSync(join(d, "control.sock"), "");
    expect(makeRuntimeDir(4_000_011, { TMPDIR: t }, "/")).toBe(d);
    expect(existsSync(join(d, "control.sock"))).toBe(false);
  });
});
