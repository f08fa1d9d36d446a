// Issue 11 behaviour (item 3) that today's sup does not have yet; the rest
// landed (recipes-readiness.test.ts, recipes-devserver.test.ts). Each is
// test.todo: `bun test` lists it, `bun test --todo
// test/e2e/recipes-todo.test.ts` runs it (a todo that passes is reported:
// move it out of .todo then).
import { describe, expect, test } from "bun:test";
import { runSup, useCleanup } from "./harness.ts";
import { runserver } from "./recipes.ts";

useCleanup();

/** Item 3: the reload strategy for apps that bind their own port (recipes-devserver.test.ts runs it). */
const STOP_FIRST = ["--reload-strategy", "stop-first"];

describe("a dev server that binds its own port (issue 11 item 3)", () => {
  // Django says "Error: That port is already in use.", which the hint's match misses.
  test.todo("without it, the rollback says the app binds its own port and names the stop-first flag and --listen", async () => {
    const { pidfile } = await runserver(["--ready", "delay:2"]);
    const r = await runSup(["reload", "--wait", "--pidfile", pidfile], { ms: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/binds its own port/);
    expect(r.stderr).toContain(STOP_FIRST[0]!);
    expect(r.stderr).toContain("--listen");
  }, 60_000);
});

