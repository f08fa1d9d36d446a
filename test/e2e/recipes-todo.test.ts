// Issue 11 behaviour (items 2 and 3) that today's sup does not have yet; the
// rest landed (recipes-readiness.test.ts, recipes-devserver.test.ts). Each is
// test.todo: `bun test` lists it, `bun test --todo
// test/e2e/recipes-todo.test.ts` runs it (a todo that passes is reported:
// move it out of .todo then).
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Master, freePort, runSup, tempDir, useCleanup, waitUntil } from "./harness.ts";
import { NODE, hit, runserver } from "./recipes.ts";

useCleanup();

/** Item 3: the reload strategy for apps that bind their own port (landed: recipes-devserver.test.ts runs it). */
const STOP_FIRST = ["--reload-strategy", "stop-first"];
/** Item 2: how a Node app says READY=1 without native code (the lead's choice): a line on an inherited fd named here. */
const NODE_READY_FD_ENV = "SUP_NOTIFY_FD";

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

describe("readiness that tells the truth (issue 11 item 2)", () => {
  // With --listen, SUP_NOTIFY_FD says 4 but the worker's fd 4 is not the pipe (write: EINVAL).
  test.todo(`a Node app says READY=1 on $${NODE_READY_FD_ENV} (no native code) and counts as ready (notify); one that never says it is not`, async () => {
    const dir = tempDir();
    const script = join(dir, "server.mjs");
    writeFileSync(
      script,
      `import http from "node:http";
import { existsSync, writeSync } from "node:fs";
const server = http.createServer((q, s) => s.end("pid=" + process.pid + " gen=" + process.env.SUP_GENERATION + "\\n"));
server.listen({ fd: 3 }, () => {
  const fd = Number(process.env.${NODE_READY_FD_ENV});
  if (fd && !existsSync(new URL("never-ready", import.meta.url))) writeSync(fd, "READY=1\\n");
});
process.on("SIGTERM", () => server.close());
`,
    );
    const port = await freePort();
    const pidfile = join(dir, "sup.pid");
    const m = new Master(["-p", "2", "--listen", `127.0.0.1:${port}`, "--ready", "notify", "--ready-timeout", "4", "--pidfile", pidfile, "--", NODE, script], { cwd: dir });
    await waitUntil(() => m.count(/gen 1 ready \(notify\)/g) >= 2, 15_000, () => `2 workers ready (notify):\n${m.out}`);
    writeFileSync(join(dir, "never-ready"), ""); // the next generation never says it
    const r = await runSup(["reload", "--wait", "--pidfile", pidfile], { ms: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("not ready within 4s");
    expect((await hit(port)).gen).toBe(1);
  }, 60_000);
});
