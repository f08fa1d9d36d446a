// The events engine against a fake kernel that keeps watches the way inotify
// does (one per inode, a new wd for a new directory at the same path, none
// for a path that is not there), on a real temp tree. What reaches the tree
// is driven by the events the test delivers: no sleeping on timers but the
// engine's 2 ms batch. Issue 18, item 3: a directory whose watch ended is
// rescanned as a new one; a new directory is watched, then listed.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fsScanner } from "../../src/watch/scan-fs.ts";
import { IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_DELETE_SELF, IN_IGNORED, IN_ISDIR, IN_MOVE_SELF, IN_MOVED_FROM, IN_MOVED_TO, IN_Q_OVERFLOW, type InotifyEvent } from "../../src/watch/inotify.ts";
import { EventsEngine, type Kernel } from "../../src/watch/watch-events.ts";
import type { Change } from "../../src/watch/snapshot.ts";
import { Tree } from "../../src/watch/tree.ts";

let dir: string;
let engine: EventsEngine | null = null;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sup-events-"));
  mkdirSync(join(dir, "D"));
  writeFileSync(join(dir, "D", "a.py"), "x");
});
afterEach(() => {
  engine?.close();
  engine = null;
  rmSync(dir, { recursive: true, force: true });
});

const text = (path: Uint8Array) => Buffer.from(path.subarray(0, path.indexOf(0) < 0 ? path.length : path.indexOf(0))).toString();

/** inotify as far as the engine sees it: a wd per watched inode. */
function fakeKernel(seq: string[]) {
  let next = 1;
  const byIno = new Map<number, number>(); // inode → wd
  const live = new Map<number, string>(); // wd → path it was added for
  let deliver: ((evs: InotifyEvent[]) => void) | undefined;
  /** The watch ends (its directory was deleted: the kernel sends IN_IGNORED); a new directory, even on the same inode number, gets a new wd. */
  const end = (wd: number) => {
    live.delete(wd);
    for (const [ino, w] of byIno) if (w === wd) byIno.delete(ino);
  };
  const kernel: Kernel = {
    open: () => ({
      add(path) {
        const p = text(path);
        seq.push(`watch ${p}`);
        let ino: number;
        try {
          ino = statSync(p).ino;
        } catch {
          return -2; // ENOENT
        }
        const wd = byIno.get(ino) ?? next++;
        byIno.set(ino, wd);
        live.set(wd, p);
        return wd;
      },
      remove(wd) {
        seq.push(`unwatch ${wd}`);
        end(wd);
      },
      start: (on) => void (deliver = on),
      close() {},
    }),
    remoteFs: () => null,
  };
  return { kernel, end, wdOf: (p: string) => [...live].find(([, path]) => path === p)?.[0], deliver: (evs: InotifyEvent[]) => deliver!(evs) };
}

/** A tree of dir with the engine on it; found collects what each batch's check reported. */
function setup() {
  const seq: string[] = [];
  const fake = fakeKernel(seq);
  const scanner = { ...fsScanner, list: (path: Uint8Array, out: Uint8Array, hdr: Uint32Array) => (seq.push(`list ${text(path)}`), fsScanner.list(path, out, hdr)) };
  const tree = new Tree({ roots: [dir], ignore: [], include: [] }, scanner);
  const found: Change[] = [];
  const hooks = { overflows: 0, batch: (dirs: Set<number>, relist: Set<number>) => void tree.check(dirs, relist, found), overflow: () => void hooks.overflows++ };
  engine = new EventsEngine(tree, hooks, () => {}, 30, fake.kernel);
  tree.walk();
  seq.length = 0;
  /** Delivers events and waits for the engine's batch (2 ms). */
  const send = async (evs: Partial<InotifyEvent>[]) => {
    for (const e of evs) if (e.mask! & IN_IGNORED) fake.end(e.wd!);
    fake.deliver(evs.map((e) => ({ wd: 0, mask: 0, name: new Uint8Array(0), ...e })));
    await Bun.sleep(20);
  };
  const paths = () => found.splice(0).map((c) => `${c.kind} ${c.path.slice(dir.length + 1)}`).sort();
  return { fake, seq, found, send, paths, hooks, tree };
}

const name = (s: string) => new TextEncoder().encode(s);

test("rm -rf D && mkdir D in one read: D gets a new watch, then a listing; an edit in the new D is seen", async () => {
  const { fake, seq, send, paths } = setup();
  const root = fake.wdOf(dir)!;
  const oldD = fake.wdOf(join(dir, "D"))!;
  rmSync(join(dir, "D"), { recursive: true });
  mkdirSync(join(dir, "D"));
  writeFileSync(join(dir, "D", "b.py"), "y");
  await send([
    { wd: oldD, mask: IN_DELETE, name: name("a.py") },
    { wd: oldD, mask: IN_DELETE_SELF },
    { wd: oldD, mask: IN_IGNORED },
    { wd: root, mask: IN_DELETE | IN_ISDIR, name: name("D") },
    { wd: root, mask: IN_CREATE | IN_ISDIR, name: name("D") },
  ]);
  expect(paths()).toEqual(["created D/b.py", "deleted D/a.py"]);
  const newD = fake.wdOf(join(dir, "D"));
  expect(newD).toBeDefined();
  expect(newD).not.toBe(oldD);
  expect(seq.indexOf(`watch ${join(dir, "D")}`)).toBeLessThan(seq.indexOf(`list ${join(dir, "D")}`));
  writeFileSync(join(dir, "D", "b.py"), "edited");
  await send([{ wd: newD!, mask: IN_CLOSE_WRITE, name: name("b.py") }]);
  expect(paths()).toEqual(["modified D/b.py"]);
});

test("IN_MOVE_SELF: the old watch is let go, the new name is watched and listed", async () => {
  const { fake, seq, send, paths } = setup();
  const root = fake.wdOf(dir)!;
  const oldD = fake.wdOf(join(dir, "D"))!;
  renameSync(join(dir, "D"), join(dir, "E"));
  await send([
    { wd: oldD, mask: IN_MOVE_SELF },
    { wd: root, mask: IN_MOVED_FROM | IN_ISDIR, name: name("D") },
    { wd: root, mask: IN_MOVED_TO | IN_ISDIR, name: name("E") },
  ]);
  expect(paths()).toEqual(["created E/a.py", "deleted D/a.py"]);
  expect(seq).toContain(`unwatch ${oldD}`);
  const e = fake.wdOf(join(dir, "E"));
  expect(e).toBeDefined();
  writeFileSync(join(dir, "E", "a.py"), "edited");
  await send([{ wd: e!, mask: IN_CLOSE_WRITE, name: name("a.py") }]);
  expect(paths()).toEqual(["modified E/a.py"]);
});

test("a directory deleted for good: its watch ends and it leaves the tree", async () => {
  const { fake, send, paths, tree } = setup();
  const oldD = fake.wdOf(join(dir, "D"))!;
  rmSync(join(dir, "D"), { recursive: true });
  await send([{ wd: oldD, mask: IN_DELETE_SELF }, { wd: oldD, mask: IN_IGNORED }, { wd: fake.wdOf(dir)!, mask: IN_DELETE | IN_ISDIR, name: name("D") }]);
  expect(paths()).toEqual(["deleted D/a.py"]);
  expect(tree.dirCount).toBe(1);
  expect(fake.wdOf(join(dir, "D"))).toBeUndefined();
});

test("a new directory is watched before it is listed: a file made in between is in the listing", async () => {
  const { fake, seq, send, paths } = setup();
  mkdirSync(join(dir, "N"));
  writeFileSync(join(dir, "N", "c.py"), "z");
  await send([{ wd: fake.wdOf(dir)!, mask: IN_CREATE | IN_ISDIR, name: name("N") }]);
  expect(paths()).toEqual(["created N/c.py"]);
  const [watched, listed] = [seq.indexOf(`watch ${join(dir, "N")}`), seq.indexOf(`list ${join(dir, "N")}`)];
  expect(watched).toBeGreaterThanOrEqual(0);
  expect(watched).toBeLessThan(listed);
});

test("IN_Q_OVERFLOW renews every watch (a lost IN_IGNORED among the lost events) and asks for a full scan", async () => {
  const { fake, seq, send, hooks } = setup();
  // D was made again while the queue overflowed: its old watch is dead.
  const oldD = fake.wdOf(join(dir, "D"))!;
  rmSync(join(dir, "D"), { recursive: true });
  fake.end(oldD);
  mkdirSync(join(dir, "D"));
  await send([{ wd: -1, mask: IN_Q_OVERFLOW }]);
  expect(hooks.overflows).toBe(1);
  expect(seq).toEqual(expect.arrayContaining([`watch ${dir}`, `watch ${join(dir, "D")}`]));
  expect(fake.wdOf(join(dir, "D"))).not.toBe(oldD);
});
