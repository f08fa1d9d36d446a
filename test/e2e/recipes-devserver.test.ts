// A dev server that binds its own port (Django's runserver --noreload) under
// today's sup: it serves and stops, and a reload, which starts the new
// server while the old one still holds the port, rolls back and leaves the
// old one serving. (Reloading it for real needs the stop-first strategy:
// recipes-todo.test.ts.)
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runSup, useCleanup } from "./harness.ts";
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
  });

  test("a reload rolls back (the new server finds the port taken); reload --wait exits 1; the old server keeps serving", async () => {
    const { m, dir, port, pidfile } = await runserver(["--ready", "delay:2"]);
    const old = await hit(port);
    writeFileSync(join(dir, "proj/marker.py"), 'MARKER = "v2-edited"\n');
    const r = await runSup(["reload", "--wait", "--pidfile", pidfile], { ms: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/rolled back: worker 1 pid \d+ gen 2 exited code 1/);
    expect(r.stderr).toContain("That port is already in use");
    const after = await hit(port);
    expect(after.pid).toBe(old.pid);
    expect(after.text).toContain("marker=v1");
  });
});
