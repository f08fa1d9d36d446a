// The files a master creates in shared places (issue 10, items 1, 3, 4),
// against the real binary, as root and as nobody: a runtime dir or pidfile
// name someone else got to first is refused or never followed, and a start
// that fails on the filesystem exits 2 with one clear line and leaves nothing.
import { describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Master, SUP, asNobody, fixture, forNobody, isRoot, runSup, tempDir, useCleanup } from "./harness.ts";

useCleanup();

interface Mode {
  name: string;
  uid: number;
  other: number; // a uid that is not ours, for files someone else made
  wrap: (argv: string[]) => string[];
  sup: string;
  fx: (name: string) => string;
}

const same = (a: string[]) => a;
const MODES: Mode[] = isRoot
  ? [
      { name: "as root", uid: 0, other: 65534, wrap: same, sup: SUP, fx: fixture },
      { name: "as nobody", uid: 65534, other: 0, wrap: asNobody, sup: forNobody().sup, fx: forNobody().fixture },
    ]
  : [];

/** A start that failed as it should: exit 2, one line naming what is wrong, no stack, no worker. */
function expectCleanFailure(r: { code: number; stderr: string; stdout: string }, message: RegExp | string) {
  expect(r.code).toBe(2);
  const lines = r.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  if (typeof message === "string") expect(lines[0]).toContain(message);
  else expect(lines[0]).toMatch(message);
  expect(lines[0]!.startsWith("sup: ")).toBe(true);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr).not.toContain("spawned");
}

const supDirs = (dir: string) => readdirSync(dir).filter((n) => /^sup-\d+$/.test(n));

/** A shell that runs `script` as root, then exec's the argv after it (so the master keeps the shell's pid). */
const preparedBy = (script: string, mode: Mode) => (argv: string[]) => ["sh", "-c", `${script} && exec "$@"`, "sh", ...mode.wrap(argv)];

/**
 * Runs argv in a private mount namespace after `setup` (mount a tmpfs…),
 * then prints "left:" and what is in $T besides the filler files.
 */
const inMountNs = (setup: string, mode: Mode) => (argv: string[]) => [
  "unshare", "--mount", "--propagation", "private", "sh", "-c",
  `${setup} || exit 90\n"$@"; rc=$?\necho "left:$(ls -A "$T" | grep -Ev '^(fill|f[0-9]+)$' | tr '\\n' ' ')"\nexit $rc`,
  "sh", ...mode.wrap(argv),
];

for (const mode of MODES) {
  describe(`runtime dir, ${mode.name}`, () => {
    test("one made first by another user: exit 2 naming it and its owner; it is left as it was and nothing starts", async () => {
      const t = tempDir(0o1777);
      const pidfile = join(t, "sup.pid");
      const r = await runSup(["--pidfile", pidfile, "--", mode.fx("sleeper.sh")], {
        env: { TMPDIR: t, T: t },
        sup: mode.sup,
        wrap: preparedBy(`mkdir -m 700 "$T/sup-$$" && chown ${mode.other} "$T/sup-$$"`, mode),
      });
      const owner = mode.other === 0 ? "uid 0 \\(root\\)" : "uid 65534 \\(nobody\\)";
      expectCleanFailure(r, new RegExp(`runtime dir ${t}/sup-\\d+ is owned by ${owner}, not by uid ${mode.uid} .*sup uses only a dir it created itself`));
      const [dir] = supDirs(t);
      expect(lstatSync(join(t, dir!)).uid).toBe(mode.other);
      expect(readdirSync(join(t, dir!))).toEqual([]);
      expect(existsSync(pidfile)).toBe(false);
    });

    test("a symlink at its name: exit 2; the target is neither chmodded nor used", async () => {
      const t = tempDir(0o1777);
      const target = join(t, "target");
      mkdirSync(target, { mode: 0o755 });
      if (mode.uid !== 0) chownSync(target, mode.uid, mode.uid); // a target we own is no better
      const r = await runSup(["--", mode.fx("sleeper.sh")], { env: { TMPDIR: t, T: t }, sup: mode.sup, wrap: preparedBy(`ln -s "$T/target" "$T/sup-$$"`, mode) });
      expectCleanFailure(r, new RegExp(`runtime dir ${t}/sup-\\d+ is a symlink \\(to ${target}\\)`));
      expect(lstatSync(target).mode & 0o7777).toBe(0o755);
      expect(readdirSync(target)).toEqual([]);
    });

    test("dirs that dead masters of ours left are removed at start; another user's and one with other files stay", async () => {
      const t = tempDir(0o1777);
      const dead = () => Bun.spawnSync(["true"]).pid;
      const make = (uid: number, files: string[]) => {
        const d = join(t, `sup-${dead()}`);
        mkdirSync(d, { mode: 0o700 });
        for (const f of files) {
          writeFileSync(join(d, f), "");
          chownSync(join(d, f), uid, uid);
        }
        chownSync(d, uid, uid);
        return d;
      };
      const ours = make(mode.uid, ["control.sock", "notify-1-1.sock"]);
      const theirs = make(mode.other, ["control.sock"]);
      const data = make(mode.uid, ["control.sock", "notes.txt"]);
      const m = new Master(["--ready", "delay:0.1", "--", mode.fx("sleeper.sh")], { env: { TMPDIR: t }, sup: mode.sup, wrap: mode.wrap });
      await m.waitFor(/ready/);
      expect(existsSync(ours)).toBe(false);
      expect(existsSync(theirs)).toBe(true);
      expect(existsSync(data)).toBe(true);
      const own = lstatSync(join(t, `sup-${m.pid}`));
      expect(own.uid).toBe(mode.uid);
      expect(own.mode & 0o7777).toBe(0o700);
      m.signal("SIGTERM");
      expect(await m.exitCode()).toBe(0);
      expect(existsSync(join(t, `sup-${m.pid}`))).toBe(false);
    });
  });

  describe(`pidfile, ${mode.name}`, () => {
    test("symlinks planted at the pidfile and at the old predictable temp name are never followed", async () => {
      const t = tempDir(0o1777);
      const victim = join(t, "victim");
      writeFileSync(victim, "precious\n");
      chmodSync(victim, 0o666); // writable by anyone: only not following the link protects it
      const pidfile = join(t, "sup.pid");
      if (mode.uid === 0) symlinkSync(victim, pidfile); // in a sticky dir only the link's owner may replace it
      const m = new Master(["--ready", "delay:0.1", "--pidfile", pidfile, "--", mode.fx("sleeper.sh")], {
        env: { TMPDIR: t, T: t, P: pidfile },
        sup: mode.sup,
        wrap: preparedBy(`ln -s "$T/victim" "$P.$$.tmp"`, mode),
      });
      await m.waitFor(/ready/);
      expect(readFileSync(victim, "utf8")).toBe("precious\n");
      expect(lstatSync(pidfile).isFile()).toBe(true);
      expect(lstatSync(pidfile).uid).toBe(mode.uid);
      expect(readFileSync(pidfile, "utf8")).toBe(`${m.pid}\n`);
      expect(readdirSync(t).filter((n) => n.endsWith(".tmp"))).toEqual([`sup.pid.${m.pid}.tmp`]); // only the planted one
    });

    test("another user's symlink or directory at the pidfile or --logto path: exit 2 naming what is there and whose, and what to do; the target is untouched", async () => {
      const t = tempDir(0o1777);
      const victim = join(t, "victim");
      writeFileSync(victim, "precious\n");
      chmodSync(victim, 0o666);
      const owner = mode.other === 0 ? "uid 0 \\(root\\)" : "uid 65534 \\(nobody\\)";
      const plant = (name: string, dir: boolean) => {
        const p = join(t, name);
        if (dir) mkdirSync(p);
        else symlinkSync(victim, p);
        Bun.spawnSync(["chown", "-h", `${mode.other}:${mode.other}`, p]);
        return p;
      };
      const cases: [string[], RegExp][] = [
        // (as nobody the rename over root's link fails; root may replace nobody's link, and does: see the test above)
        ...(mode.uid === 0 ? [] : [[["--pidfile", plant("link.pid", false)], new RegExp(`cannot write the pidfile \\S+link\\.pid: .*; \\S+link\\.pid is a symbolic link owned by ${owner}, which sup does not replace: remove it, or choose another path`)] as [string[], RegExp]]),
        [["--pidfile", plant("dir.pid", true)], new RegExp(`cannot write the pidfile \\S+dir\\.pid: .*; \\S+dir\\.pid is a directory owned by ${owner}, which sup does not replace: remove it, or choose another path`)],
        [["--logto", plant("link.log", false)], new RegExp(`logto \\S+link\\.log is a symbolic link; sup does not follow one \\(O_NOFOLLOW\\): give the real path, or remove it`)],
        [["--logto", plant("dir.log", true)], new RegExp(`logto \\S+dir\\.log is a directory owned by ${owner}; remove it or choose another path`)],
      ];
      for (const [args, message] of cases) {
        const r = await runSup([...args, "--", mode.fx("sleeper.sh")], { env: { TMPDIR: t }, sup: mode.sup, wrap: mode.wrap });
        expectCleanFailure(r, message);
      }
      expect(readFileSync(victim, "utf8")).toBe("precious\n");
      expect(supDirs(t)).toEqual([]);
    });

    test("a pidfile dir sup may not write: exit 2 naming it and the errno; nothing left behind", async () => {
      const t = tempDir(0o1777);
      const dir = join(tempDir(0o755), "ro");
      mkdirSync(dir, { mode: 0o755 });
      const pidfile = join(dir, "sup.pid");
      const args = ["--pidfile", pidfile, "--", mode.fx("sleeper.sh")];
      // Root may write anywhere it has a writable filesystem: it meets a read-only one instead.
      const r = mode.uid === 0
        ? await runSup(args, { env: { TMPDIR: t, T: t, D: dir }, sup: mode.sup, wrap: inMountNs(`mount -t tmpfs -o ro,size=16k tmpfs "$D"`, mode) })
        : await runSup(args, { env: { TMPDIR: t }, sup: mode.sup, wrap: mode.wrap });
      const why = mode.uid === 0 ? "read-only file system (EROFS)" : "permission denied (EACCES)";
      expectCleanFailure(r, `cannot write the pidfile ${pidfile}: ${why}`);
      expect(supDirs(t)).toEqual([]);
      expect(readdirSync(dir)).toEqual([]);
    });
  });

  describe(`TMPDIR, ${mode.name}`, () => {
    test("missing: exit 2 saying so; sup does not create it", async () => {
      const missing = join(tempDir(0o1777), "missing");
      const r = await runSup(["--", mode.fx("sleeper.sh")], { env: { TMPDIR: missing }, sup: mode.sup, wrap: mode.wrap });
      expectCleanFailure(r, `TMPDIR ${missing} cannot be used for sup's runtime dir: no such file or directory (ENOENT); create it or point TMPDIR at an existing directory (sup does not create it)`);
      expect(existsSync(missing)).toBe(false);
    });

    // A tmpfs of 32 KiB and 8 inodes, filled: no space and no inode left;
    // with one inode freed the runtime dir is made and its socket is not.
    const fill = `mount -t tmpfs -o size=32k,nr_inodes=8,mode=1777 tmpfs "$T" && dd if=/dev/zero of="$T/fill" bs=4k count=64 2>/dev/null; i=0; while true 2>/dev/null >"$T/f$i"; do i=$((i+1)); done`;
    for (const [what, setup, message] of [
      ["full", fill, /cannot create sup's runtime dir \S+\/sup-\d+: no space left on device \(ENOSPC\); free some space \(or inodes\) in /],
      ["full but for one inode", `${fill}; rm "$T/f0"`, /cannot listen on the control socket \S+\/sup-\d+\/control\.sock: no space left on device \(ENOSPC\)/],
    ] as const) {
      test(`${what}: exit 2 with the errno in words; nothing left in it`, async () => {
        const t = join(tempDir(0o755), "full");
        mkdirSync(t, { mode: 0o1777 });
        const pidfile = join(tempDir(0o1777), "sup.pid");
        const r = await runSup(["--pidfile", pidfile, "--", mode.fx("sleeper.sh")], { env: { TMPDIR: t, T: t }, sup: mode.sup, wrap: inMountNs(setup, mode) });
        expect(r.stdout).toBe("left:\n");
        expectCleanFailure(r, message);
        expect(existsSync(pidfile)).toBe(false);
      });
    }
  });
}

test("these tests run as root (they need a second user and mounts)", () => {
  // Not a skip: when the suite runs unprivileged, say why the cases above are absent.
  if (!isRoot) console.warn("control-files: not root; the other-user and mount cases need root and were not defined");
  expect(MODES.length).toBe(isRoot ? 2 : 0);
});
