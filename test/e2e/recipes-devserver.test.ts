// A dev server that binds its own port (Django's runserver --noreload) under
// sup. By default a reload starts the new server while the old one holds the
// port, and the new one fails with "address already in use": the reload
// rolls back. --reload-strategy stop-first stops the old one first: the
// recipe in recipes.ts, whose edit test runs here.
import { describe, expect, test } from "bun:test";
import { hit, runserver } from "./recipes.ts";
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
