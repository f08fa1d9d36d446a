// The Python recipes (gunicorn, uvicorn) of the docs against the real programs (recipes.ts, recipes-suite.ts).
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Master, freePort, tempDir } from "./harness.ts";
import { GUNICORN, hit, privateTmp, recipe, start } from "./recipes.ts";
import { recipeTests } from "./recipes-suite.ts";

recipeTests("test/e2e/recipes-python.test.ts");

// Issue 11 item 4: autoreload watches what a Django user means.
describe("autoreload in a Django project", () => {
  const django = recipe("Django under gunicorn, autoreload");

  test("a log file and SQLite files written inside the tree cause no reload; a source edit does", async () => {
    const app = await start(django);
    await app.m.waitFor(/autoreload: watching/);
    for (const f of ["app.log", "db.sqlite3", "db.sqlite3-journal", "db.sqlite3-wal"]) writeFileSync(join(app.dir, f), "x");
    await Bun.sleep(2500); // a poll every second, then the settle
    expect(app.m.out).not.toMatch(/reload requested/);
    app.change(django.edit);
    await app.m.waitFor(/reload gen 2 done/, 20_000);
  }, 60_000);

  test("with --chdir, the app directory is watched (and named in the log), the start directory is not", async () => {
    const app = await start(django); // to get a prepared app directory and port
    app.m.kill();
    const elsewhere = tempDir();
    const port = await freePort();
    const m = new Master(["-p", "1", "--listen", `127.0.0.1:${port}`, "--ready", "notify", "--py-autoreload", "1", "--chdir", app.dir, "--", GUNICORN, "--preload", "proj.wsgi"], { cwd: elsewhere, env: privateTmp() });
    await m.waitFor(/gen 1 ready/, 20_000);
    await m.waitFor(new RegExp(`autoreload: watching .*${app.dir.replaceAll("/", "\\/")}`));
    writeFileSync(join(elsewhere, "unrelated.py"), "x = 1\n");
    await Bun.sleep(2500);
    expect(m.out).not.toMatch(/reload requested/);
    app.change(django.edit);
    await m.waitFor(/reload gen 2 done/, 20_000);
    expect((await hit(port)).text).toContain("marker=v2-edited");
  }, 60_000);
});
