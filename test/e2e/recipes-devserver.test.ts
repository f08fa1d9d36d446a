// A dev server that binds its own port (Django's runserver --noreload) under
// sup. By default a reload starts the new server while the old one holds the
// port, and the new one fails with "address already in use": the reload
// rolls back. --reload-strategy stop-first stops the old one first: the
// recipe in recipes.ts, whose edit test runs here.
import { describe, expect, test } from "bun:test";
import { cpSync } from "node:fs";
import { join } from "node:path";
import { Master, ROOT, freePort, runSup, tempDir } from "./harness.ts";
import { PYTHON, hit, runserver } from "./recipes.ts";
import { recipeTests } from "./recipes-suite.ts";

recipeTests("test/e2e/recipes-devserver.test.ts"); // the stop-first recipe (recipes.ts)

describe("Django runserver --noreload (binds its own port)", () => {
  test("serves on $PORT; TERM stops it, exit 0", async () => {
    const { m, port } = await runserver(["--ready", "delay:2"]);
    const a = await hit(port);
    expect(a.text).toMatch(/^app=django .* gen=1 marker=v1/);
    expect(m.livePids()).toEqual([a.pid]);
    m.signal("SIGTERM");
    expect(await m.exitCode()).toBe(0);
  }, 60_000);
});

test("without stop-first, a reload of a server on a fixed port rolls back, and the message names the app's port, stop-first and --listen", async () => {
  const dir = tempDir();
  cpSync(join(ROOT, "test/fixtures/apps/django"), dir, { recursive: true });
  const port = await freePort();
  const pidfile = join(tempDir(), "sup.pid");
  const m = new Master(["--ready", "delay:2", "--pidfile", pidfile, "--", PYTHON, "manage.py", "runserver", "--noreload", `127.0.0.1:${port}`], { cwd: dir });
  await m.waitFor(/gen 1 ready/, 20_000);
  const r = await runSup(["reload", "--wait", "--pidfile", pidfile], { ms: 30_000 });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("That port is already in use");
  expect(r.stderr).toMatch(/binds its own port/);
  expect(r.stderr).toContain("--reload-strategy stop-first");
  expect(r.stderr).toContain("--listen");
  expect((await hit(port)).text).toMatch(/gen=1/);
}, 60_000);
