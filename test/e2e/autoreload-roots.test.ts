// Issue 11 item 4: autoreload watches what the user means. The real
// dist/sup runs test/fixtures/app.sh (the Python hello on the master's
// socket) in an app directory that is not the directory sup started in.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Master, fixture, freePort, tempDir, useCleanup } from "./harness.ts";

useCleanup();

const requests = (m: Master) => m.count(/reload requested \(/g);

/** sup started in a fresh directory, with workers in another (--chdir); returns when worker 1 is ready. */
async function startIn(flags: string[]) {
  const startDir = tempDir();
  const appDir = tempDir();
  writeFileSync(join(appDir, "app.py"), "print('v1')\n");
  writeFileSync(join(startDir, "deploy.py"), "# sup's own start directory\n");
  const port = await freePort();
  const m = new Master(["--listen", `127.0.0.1:${port}`, "--ready", "notify", "--worker-reload-mercy", "3", "--chdir", appDir, ...flags, "--", fixture("app.sh")], {
    cwd: startDir,
    env: { APP_DIR: appDir },
  });
  await m.waitFor(/gen 1 ready/);
  return { m, startDir, appDir };
}

describe.each([["events", ["--autoreload", "1"]], ["poll", ["--py-autoreload", "0.2"]]])("autoreload (%s) with --chdir", (_engine, flags) => {
  test("watches the workers' directory, names it in the log, and not the start directory", async () => {
    const { m, startDir, appDir } = await startIn(flags);
    await m.waitFor(new RegExp(`autoreload: watching 1 files in 1 directories under ${appDir} \\(`));
    writeFileSync(join(startDir, "deploy.py"), "# edited\n");
    await Bun.sleep(1000);
    expect(requests(m)).toBe(0);
    writeFileSync(join(appDir, "app.py"), "print('v2')\n");
    await m.waitFor(/reload gen 2 done/);
    await Bun.sleep(600);
    expect(requests(m)).toBe(1);
    expect(m.out).toContain("reload requested (autoreload: app.py)");
  }, 30_000);

  test("logs, SQLite files and sup's own pidfile written inside the tree cause no reload", async () => {
    const { m, appDir } = await startIn([...flags, "--pidfile", "sup.pid"]);
    await m.waitFor(/autoreload: watching 1 files/);
    for (let i = 0; i < 5; i++) {
      writeFileSync(join(appDir, "app.log"), `line ${i}\n`, { flag: "a" });
      writeFileSync(join(appDir, "db.sqlite3"), `page ${i}`);
      writeFileSync(join(appDir, "db.sqlite3-journal"), `journal ${i}`);
      writeFileSync(join(appDir, "db.sqlite3-wal"), `wal ${i}`);
      await Bun.sleep(100);
    }
    await Bun.sleep(800);
    expect(requests(m)).toBe(0);
    writeFileSync(join(appDir, "app.py"), "print('v2')\n");
    await m.waitFor(/reload gen 2 done/);
    expect(m.out).toContain("reload requested (autoreload: app.py)");
  }, 30_000);

  test("a file whose name is not UTF-8: an edit reloads exactly once", async () => {
    const { m, appDir } = await startIn(flags);
    const name = Buffer.concat([Buffer.from(join(appDir, "caf")), Buffer.from([0xe9]), Buffer.from(".py")]);
    writeFileSync(name, "x = 1\n");
    await m.waitFor(/reload gen 2 done/); // created: one reload
    writeFileSync(name, "x = 2\n");
    await m.waitFor(/reload gen 3 done/);
    await Bun.sleep(800);
    expect(requests(m)).toBe(2);
    expect(m.out).toContain("reload requested (autoreload: caf\\xe9.py)");
  }, 30_000);
});

test("touch-reload paths are relative to the workers' directory", async () => {
  const { m, startDir, appDir } = await startIn(["--touch-reload", "reload.ini", "--check-interval", "0.1"]);
  writeFileSync(join(startDir, "reload.ini"), "");
  await Bun.sleep(500);
  expect(requests(m)).toBe(0);
  writeFileSync(join(appDir, "reload.ini"), "");
  await m.waitFor(/reload requested \(touch: reload\.ini created\)/);
}, 30_000);
