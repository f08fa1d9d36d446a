// A dev server that binds its own port (Django's runserver --noreload) under
// today's sup: it serves and stops. A reload starts the new server while the
// old one holds the port: the new one fails with "address already in use"
// and the reload rolls back, unless a delay readiness ends first (a loaded
// machine), when the old one is retired and the new one binds after it, with
// refused connections between. Reloading it for real needs the stop-first
// strategy (recipes-todo.test.ts).
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { useCleanup } from "./harness.ts";
import { hit, runserver } from "./recipes.ts";

useCleanup();

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
