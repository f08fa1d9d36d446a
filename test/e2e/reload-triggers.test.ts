// Issue 3: touch files and autoreload drive the real dist/sup. The worker is
// test/fixtures/app.sh (the Python hello on the master's socket); its
// directory is the master's working directory, so it is the watched tree.
import { describe, expect, test } from "bun:test";
import { mkdirSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Master, fixture, tempDir, useCleanup, waitUntil, freePort } from "./harness.ts";

useCleanup();

async function hit(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: "close" }, signal: AbortSignal.timeout(5000) });
  return await res.text();
}

/** A master running app.sh in a fresh directory holding app.py; returns when worker 1 is ready. */
async function startApp(flags: string[], env: Record<string, string> = {}) {
  const dir = tempDir();
  writeFileSync(join(dir, "app.py"), "print('v1')\n");
  const port = await freePort();
  const m = new Master(["--listen", `127.0.0.1:${port}`, "--ready", "notify", "--worker-reload-mercy", "3", ...flags, "--", fixture("app.sh")], {
    cwd: dir,
    env: { APP_DIR: dir, ...env },
  });
  await m.waitFor(/gen 1 ready/);
  return { m, dir, port };
}

const requests = (m: Master) => m.count(/reload requested \(/g);

describe("touch-reload", () => {
  test("missing at start is logged once; creating, touching and deleting each reload once; nothing else does", async () => {
    const { m, dir } = await startApp(["--touch-reload", "reload.ini", "--check-interval", "0.1"]);
    await m.waitFor(/touch-reload reload\.ini: not there yet, will reload when it is created/);
    await Bun.sleep(500);
    expect(requests(m)).toBe(0);
    writeFileSync(join(dir, "reload.ini"), "");
    await m.waitFor(/reload gen 2 done/);
    writeFileSync(join(dir, "reload.ini"), "x");
    await m.waitFor(/reload gen 3 done/);
    unlinkSync(join(dir, "reload.ini"));
    await m.waitFor(/reload gen 4 done/);
    await Bun.sleep(600);
    expect(requests(m)).toBe(3);
    expect(m.out).toMatch(/reload requested \(touch: reload\.ini/);
    expect(m.count(/not there yet/g)).toBe(1);
  }, 30_000);

  test("touch-chain-reload replaces workers one at a time", async () => {
    const { m, dir } = await startApp(["-p", "2", "--touch-chain-reload", "chain.ini", "--check-interval", "0.1"]);
    writeFileSync(join(dir, "chain.ini"), "");
    await m.waitFor(/reload gen 2 started: 2 new workers, one at a time/);
    await m.waitFor(/reload gen 2 done/);
  }, 30_000);
});

describe("autoreload", () => {
  test("an edit reloads once, and the new worker answers", async () => {
    const { m, dir, port } = await startApp(["--autoreload", "0.2"]);
    await m.waitFor(/autoreload: watching 1 files/);
    expect(await hit(port)).toContain("generation 1");
    await Bun.sleep(300);
    writeFileSync(join(dir, "app.py"), "print('v2')\n");
    await m.waitFor(/reload gen 2 done/);
    expect(await hit(port)).toContain("generation 2");
    await Bun.sleep(800);
    expect(requests(m)).toBe(1);
    expect(m.out).toContain("reload requested (autoreload: app.py)");
  }, 30_000);

  test("300 files written over ~1 s give one reload", async () => {
    const { m, dir } = await startApp(["--autoreload", "0.1", "--autoreload-settle", "0.3"]);
    await m.waitFor(/autoreload: watching/);
    for (let i = 0; i < 30; i++) {
      mkdirSync(join(dir, `pkg${i % 3}`), { recursive: true });
      for (let j = 0; j < 10; j++) writeFileSync(join(dir, `pkg${i % 3}`, `m${i * 10 + j}.py`), "x = 1\n");
      await Bun.sleep(30);
    }
    await m.waitFor(/reload gen 2 done/);
    await Bun.sleep(1000);
    expect(requests(m)).toBe(1);
    expect(m.out).toMatch(/reload requested \(autoreload: pkg\d\/m\d+\.py and 299 more\)/);
  }, 30_000);

  test("ignored and .gitignore'd files do not reload", async () => {
    const dir0 = tempDir();
    writeFileSync(join(dir0, ".gitignore"), "*.log\n");
    const { m, dir } = await startApp(["--autoreload", "0.1", "--autoreload-watch", dir0]);
    await m.waitFor(/autoreload: watching/);
    writeFileSync(join(dir0, "debug.log"), "x");
    writeFileSync(join(dir0, "x.pyc"), "x");
    mkdirSync(join(dir0, "node_modules"));
    writeFileSync(join(dir0, "node_modules", "a.js"), "x");
    writeFileSync(join(dir, "app.py"), "print('not watched: only dir0 is')\n");
    await Bun.sleep(1000);
    expect(requests(m)).toBe(0);
  }, 30_000);

  test("a change during a reload gives exactly one follow-up reload", async () => {
    const { m, dir } = await startApp(["--autoreload", "0.1", "--autoreload-settle", "0.1"], { BOOT_DELAY: "1" });
    writeFileSync(join(dir, "app.py"), "print('v2')\n");
    await m.waitFor(/reload gen 2 started/);
    writeFileSync(join(dir, "app.py"), "print('v3')\n");
    await Bun.sleep(300);
    writeFileSync(join(dir, "other.py"), "x = 1\n");
    await m.waitFor(/reload gen 3 done/, 15_000);
    await Bun.sleep(1500);
    expect(m.out).not.toContain("reload gen 4");
    expect(m.out).toMatch(/reload gen 2 done/);
  }, 30_000);

  test("a held .git/index.lock delays the reload until git is done", async () => {
    const { m, dir } = await startApp(["--autoreload", "0.1", "--autoreload-settle", "0.1"]);
    mkdirSync(join(dir, ".git"));
    writeFileSync(join(dir, ".git", "index.lock"), "");
    await Bun.sleep(300);
    writeFileSync(join(dir, "app.py"), "print('checkout, part 1')\n");
    await m.waitFor(/waiting for git to finish/);
    await Bun.sleep(800);
    expect(requests(m)).toBe(0);
    writeFileSync(join(dir, "lib.py"), "# checkout, part 2\n");
    unlinkSync(join(dir, ".git", "index.lock"));
    await m.waitFor(/reload gen 2 done/);
    await Bun.sleep(600);
    expect(requests(m)).toBe(1);
    expect(m.out).toMatch(/reload requested \(autoreload: (app|lib)\.py and 1 more\)/);
  }, 30_000);

  test("a broken edit leaves the master waiting for changes; the fix brings new workers", async () => {
    const { m, dir, port } = await startApp(["--autoreload", "0.1", "--autoreload-settle", "0.1", "--ready-timeout", "3"]);
    writeFileSync(join(dir, "broken"), "");
    await m.waitFor(/reload gen 2 rolled back[\s\S]*waiting for changes/);
    expect(await hit(port)).toContain("generation 1"); // the old code keeps serving
    await Bun.sleep(1000);
    expect(m.out).not.toContain("reload gen 3");
    unlinkSync(join(dir, "broken"));
    await m.waitFor(/reload gen 3 done/);
    expect(await waitUntil(async () => (await hit(port)).includes("generation 3"), 5000, "generation 3 answers")).toBe(true);
  }, 30_000);

  test("the events engine reloads on an edit", async () => {
    const { m, dir } = await startApp(["--autoreload", "30", "--autoreload-engine", "events", "--autoreload-settle", "0.05"]);
    await m.waitFor(/autoreload: watching .*events/);
    const t0 = Date.now();
    writeFileSync(join(dir, "app.py"), "print('v2')\n");
    await m.waitFor(/reload requested \(autoreload: app\.py\)/, 5000);
    expect(Date.now() - t0).toBeLessThan(2000); // the next poll would be 30 s away
  }, 30_000);
});
