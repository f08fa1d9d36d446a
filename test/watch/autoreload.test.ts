import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { closeSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, unlinkSync, utimesSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { watchTree, type TreeEvent, type TreeWatchOptions } from "../../src/watch/autoreload.ts";
import { fsScanner } from "../../src/watch/scan-fs.ts";
import { nativeScanner } from "../../src/native/scan.ts";
import { IN_Q_OVERFLOW, type InotifyEvent } from "../../src/watch/inotify.ts";
import type { Kernel } from "../../src/watch/watch-events.ts";

// Every behaviour holds for both scanners: the TinyCC one and the node:fs fallback.
// The events engine is run with a 30 s interval: what it sees, it saw through inotify.
const COMBOS: [string, Partial<TreeWatchOptions>][] = [
  ["poll, native scanner", { engine: "poll", scanner: nativeScanner()! }],
  ["poll, node:fs scanner", { engine: "poll", scanner: fsScanner }],
  ["events, native scanner", { engine: "events", interval: 30, scanner: nativeScanner()! }],
  ["events, node:fs scanner", { engine: "events", interval: 30, scanner: fsScanner }],
];
let combo: Partial<TreeWatchOptions> = {};

let dir: string;
let events: TreeEvent[];
let logs: string[];
let watcher: ReturnType<typeof watchTree> | null = null;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const put = (rel: string, text = "x") => {
  mkdirSync(join(dir, rel, ".."), { recursive: true });
  writeFileSync(join(dir, rel), text);
};
const start = (opts: Partial<TreeWatchOptions> = {}) => {
  watcher = watchTree(
    { interval: 0.05, watch: [], include: [], ignore: [], engine: "poll", settle: 0.1, cwd: dir, ...combo, ...opts },
    (e) => events.push(e),
    (m) => logs.push(m),
  );
};
/** Wait (bounded) for `n` emits, then make sure no more come for `quietMs`. */
async function settled(n: number, quietMs = 400, ms = 5000) {
  for (const end = Date.now() + ms; Date.now() < end && events.length < n; ) await sleep(10);
  await sleep(quietMs);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sup-autoreload-"));
  events = [];
  logs = [];
  put("app.py", "print(1)");
  put("src/lib.py", "x = 1");
});
afterEach(() => {
  watcher?.stop();
  watcher = null;
  rmSync(dir, { recursive: true, force: true });
});

test("the native scanner builds here (TinyCC in this Bun)", () => {
  expect(nativeScanner()).not.toBeNull();
});

describe.each(COMBOS)("watchTree (%s)", (_name, c) => {
  beforeEach(() => {
    combo = c;
  });
  test("the first scan only records; an idle tree never emits", async () => {
    start();
    expect(logs[0]).toMatch(new RegExp(`^autoreload: watching 2 files in 2 directories under ${dir} \\((${c.engine === "poll" ? "poll every 0.05 s" : "events, a full scan every \\d+ s"}); first walk `));
    await sleep(500);
    expect(events).toEqual([]);
    expect(watcher!.pending()).toBe(false);
  });
  test("an edit gives one emit naming the file", async () => {
    start();
    await sleep(100);
    writeFileSync(join(dir, "src/lib.py"), "x = 2");
    await settled(1);
    expect(events).toEqual([{ files: ["src/lib.py"], count: 1 }]);
  });
  test("a same-size edit within the same second is seen (nanosecond mtime)", async () => {
    const f = join(dir, "app.py");
    utimesSync(f, 1_700_000_000.1, 1_700_000_000.1);
    start();
    await sleep(100);
    writeFileSync(f, "print(2)");
    utimesSync(f, 1_700_000_000.2, 1_700_000_000.2);
    await settled(1);
    expect(events).toEqual([{ files: ["app.py"], count: 1 }]);
  });
  test("adding, deleting and renaming each give one emit", async () => {
    start();
    await sleep(100);
    put("src/new.py");
    await settled(1);
    unlinkSync(join(dir, "app.py"));
    await settled(2);
    renameSync(join(dir, "src/lib.py"), join(dir, "src/lib2.py"));
    await settled(3);
    expect(events.map((e) => e.files.sort())).toEqual([["src/new.py"], ["app.py"], ["src/lib.py", "src/lib2.py"]]);
  });
  test("a file whose name is not UTF-8: an edit gives exactly one emit", async () => {
    const name = Buffer.concat([Buffer.from(dir + "/caf"), Buffer.from([0xe9]), Buffer.from(".py")]); // Latin-1 "café.py"
    writeFileSync(name, "x = 1");
    start();
    expect(logs[0]).toContain("watching 3 files");
    await sleep(100);
    writeFileSync(name, "x = 2");
    await settled(1);
    expect(events).toEqual([{ files: ["caf\\xe9.py"], count: 1 }]);
  });
  test("an atomic-rename save with the old mtime and size is seen (new inode)", async () => {
    const f = join(dir, "app.py");
    utimesSync(f, 1_700_000_000, 1_700_000_000);
    start();
    await sleep(100);
    writeFileSync(join(dir, ".app.py.swx"), "print(2)"); // same size; an ignored temp name
    utimesSync(join(dir, ".app.py.swx"), 1_700_000_000, 1_700_000_000);
    renameSync(join(dir, ".app.py.swx"), f);
    await settled(1);
    expect(events).toEqual([{ files: ["app.py"], count: 1 }]);
  });
  test("new and removed directories are walked and dropped", async () => {
    start();
    await sleep(100);
    put("pkg/a/b/c.py");
    put("pkg/a/d.py");
    await settled(1);
    rmSync(join(dir, "pkg"), { recursive: true });
    await settled(2);
    expect(events.map((e) => e.count)).toEqual([2, 2]);
    expect(events[1]!.files.sort()).toEqual(["pkg/a/b/c.py", "pkg/a/d.py"]);
  });
  test("default-ignored and .gitignore'd paths never emit", async () => {
    put(".gitignore", "/build/\n*.log\n!keep.log\n");
    put("sub/.gitignore", "gen.py\n");
    start();
    await sleep(100);
    put("node_modules/x/index.js");
    put(".git/objects/ab/cdef");
    put("src/__pycache__/lib.cpython-311.pyc");
    put("src/lib.pyc");
    put("src/.lib.py.swp");
    put("src/lib.py~");
    put("src/4913");
    put("build/out.py");
    put("debug.log");
    put("sub/gen.py");
    await settled(0, 500);
    expect(events).toEqual([]);
    put("keep.log");
    put("sub/real.py");
    await settled(1);
    expect(events.map((e) => e.files.sort())).toEqual([["keep.log", "sub/real.py"]]);
  });
  test("a .gitignore that starts to ignore a file: that file's edits stop counting", async () => {
    start();
    await sleep(100);
    put("src/.gitignore", "lib.py\n");
    await settled(1);
    writeFileSync(join(dir, "src/lib.py"), "x = 3");
    await settled(1, 400);
    expect(events.length).toBe(1);
    expect(events[0]!.files).toContain("src/.gitignore");
  });
  test("--autoreload-ignore and --autoreload-include", async () => {
    start({ include: ["*.py"], ignore: ["src/"] });
    await sleep(100);
    put("README.md");
    writeFileSync(join(dir, "src/lib.py"), "x = 9");
    await settled(0, 400);
    expect(events).toEqual([]);
    writeFileSync(join(dir, "app.py"), "print(3)");
    await settled(1);
    expect(events).toEqual([{ files: ["app.py"], count: 1 }]);
  });
  test("2,000 files written in 100 bursts give exactly one emit", async () => {
    // settle 3 s: the storm's ceiling (max(10 settle, 5 s) = 30 s) outlasts
    // the writes even on a machine so loaded that they take 25 s, and a 20 ms
    // pause between bursts (scans run in it) is far shorter than the quiet
    // that ends the storm.
    start({ settle: 3 });
    await sleep(100);
    for (let batch = 0; batch < 100; batch++) {
      for (let i = 0; i < 20; i++) put(`gen/d${batch % 10}/f${batch * 20 + i}.py`);
      await sleep(20);
    }
    await settled(1, 1000, 40_000);
    expect(events.length).toBe(1);
    expect(events[0]!.count).toBe(2000);
    expect(events[0]!.files.length).toBeLessThanOrEqual(10);
  }, 90_000);
  test("a held .git/index.lock delays the emit until it is removed", async () => {
    put(".git/HEAD", "ref: refs/heads/main\n");
    start();
    await sleep(100);
    writeFileSync(join(dir, ".git/index.lock"), "");
    writeFileSync(join(dir, "app.py"), "print(4)");
    await sleep(600);
    expect(events).toEqual([]);
    expect(watcher!.pending()).toBe(true);
    expect(logs.filter((l) => l.includes("waiting for git to finish"))).toEqual(["autoreload: waiting for git to finish (.git/index.lock)"]);
    writeFileSync(join(dir, "src/lib.py"), "x = 4");
    unlinkSync(join(dir, ".git/index.lock"));
    await settled(1);
    expect(events.map((e) => e.files.sort())).toEqual([["app.py", "src/lib.py"]]);
    expect(watcher!.pending()).toBe(false);
  });
  test("a watched path that is a file, and one that appears later", async () => {
    start({ watch: ["app.py", "later"], interval: 0.05 }); // a root that is not there yet is looked for every interval
    expect(logs[0]).toContain(`under ${join(dir, "app.py")}, ${join(dir, "later")} (`);
    expect(logs[1]).toContain("autoreload-watch");
    await sleep(100);
    writeFileSync(join(dir, "src/lib.py"), "not watched");
    writeFileSync(join(dir, "app.py"), "print(5)");
    await settled(1);
    put("later/x.py");
    await settled(2);
    expect(events.map((e) => e.files)).toEqual([["app.py"], ["later/x.py"]]);
  });
});

describe("watchTree (events)", () => {
  beforeEach(() => {
    combo = { engine: "events", interval: 30, settle: 0.05 };
  });
  test("notices an edit long before the next poll", async () => {
    start();
    await sleep(100);
    writeFileSync(join(dir, "src/lib.py"), "x = 5");
    await settled(1, 300, 3000); // the verification scan is 30 s away
    expect(events).toEqual([{ files: ["src/lib.py"], count: 1 }]);
  });
  test("ignored churn (.git, node_modules) gives no emit", async () => {
    start();
    await sleep(100);
    for (let i = 0; i < 50; i++) put(`node_modules/p/f${i}.js`);
    put(".git/index", "x");
    await settled(0, 400);
    expect(events).toEqual([]);
  });
  test("a file created and still open holds the emit until it is closed", async () => {
    start();
    await sleep(100);
    const fd = openSync(join(dir, "src/new.py"), "w");
    try {
      writeSync(fd, "half = ");
      await sleep(300); // six times the settle time
      expect(events).toEqual([]);
      writeSync(fd, "1\n");
    } finally {
      closeSync(fd);
    }
    await settled(1);
    expect(events).toEqual([{ files: ["src/new.py"], count: 1 }]);
  });
  test("a new directory is watched: files created in it later are seen", async () => {
    start();
    await sleep(100);
    mkdirSync(join(dir, "pkg"));
    await settled(0, 300);
    put("pkg/mod.py");
    await settled(1);
    expect(events.map((e) => e.files)).toEqual([["pkg/mod.py"]]);
  });
});

/** An inotify that watches nothing; `deliver` plays events into the engine. */
function fakeKernel(add: number, remote: string | null) {
  let on: ((evs: InotifyEvent[]) => void) | null = null;
  const kernel: Kernel = {
    open: () => ({ add: () => add, remove() {}, start: (cb) => void (on = cb), close() {} }),
    remoteFs: () => remote,
  };
  return { kernel, deliver: (evs: InotifyEvent[]) => on?.(evs) };
}

describe("watchTree (events): where inotify cannot help", () => {
  test("past the watch limit (ENOSPC) it says so once and polls those directories", async () => {
    start({ engine: "events", interval: 0.05, kernel: fakeKernel(-28, null).kernel });
    expect(logs.filter((l) => l.includes("inotify watch limit reached"))).toHaveLength(1);
    await sleep(100);
    writeFileSync(join(dir, "src/lib.py"), "x = 6");
    await settled(1);
    expect(events).toEqual([{ files: ["src/lib.py"], count: 1 }]);
  });
  test("on a network or FUSE filesystem it says so once and polls", async () => {
    start({ engine: "events", interval: 0.05, kernel: fakeKernel(1, "nfs").kernel });
    expect(logs.filter((l) => l.includes("is on nfs"))).toEqual([`autoreload: ${dir} is on nfs, where inotify misses changes made elsewhere; polling it every 0.05 s`]);
    await sleep(100);
    put("src/more.py");
    await settled(1);
    expect(events).toEqual([{ files: ["src/more.py"], count: 1 }]);
  });
  test("a queue overflow (events lost) scans everything at once", async () => {
    const fake = fakeKernel(1, null);
    start({ engine: "events", interval: 30, settle: 0.05, kernel: fake.kernel });
    await sleep(100);
    writeFileSync(join(dir, "app.py"), "print('unseen')");
    await settled(0, 300);
    expect(events).toEqual([]);
    fake.deliver([{ wd: -1, mask: IN_Q_OVERFLOW, name: new Uint8Array(0) }]);
    await settled(1);
    expect(events).toEqual([{ files: ["app.py"], count: 1 }]);
  });
});
