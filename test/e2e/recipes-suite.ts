// What every recipe must do, as a user of it expects: an edit is served after
// a reload; HUP and USR2 under a hammering client fail no request; code that
// does not start never replaces code that does (`sup reload --wait` exits 1,
// the old generation keeps serving).
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runSup, useCleanup, waitUntil } from "./harness.ts";
import { RECIPES, hammer, hit, start, type Recipe, type Running } from "./recipes.ts";

/** Waits until every worker of generation `gen` has exited (the log's exit lines). */
export async function oldGone({ m, workers }: Running, gen: number) {
  await waitUntil(() => m.count(new RegExp(`gen ${gen} exited`, "g")) >= workers, 20_000, () => `gen ${gen}'s ${workers} workers to exit:\n${m.out}`);
}

async function reloadWithEdit(r: Recipe, app: Running) {
  app.change(r.edit);
  if (!r.trigger) {
    const res = await runSup(["reload", "--wait", "--pidfile", app.pidfile], { ms: 30_000 });
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
  } else if (r.trigger !== "autoreload") {
    writeFileSync(join(app.dir, r.trigger.touch), String(Date.now()));
  }
  await app.m.waitFor(/reload gen 2 done/, 25_000);
}

/** Per test: every wait inside is bounded, and a loaded machine (load 30 here) makes a recipe test take 20-30 s. */
const TIMEOUT = 90_000;

const how = (r: Recipe) => (!r.trigger ? "sup reload --wait" : r.trigger === "autoreload" ? "autoreload, with no other trigger" : `touching ${r.trigger.touch}`);

/** Registers the tests of every recipe whose `test` is `file`. */
export function recipeTests(file: string) {
  useCleanup();
  const mine = RECIPES.filter((r) => r.test === file);
  if (!mine.length) throw new Error(`no recipe names ${file}`);
  for (const r of mine) {
    describe(`${r.name}: ${r.line}`, () => {
      test(`${r.edit.what} in ${r.edit.file} is served after ${how(r)}`, async () => {
        const app = await start(r);
        const before = await hit(app.port);
        expect(before.gen).toBe(1);
        expect(before.text).not.toMatch(r.edit.served);
        await reloadWithEdit(r, app);
        await oldGone(app, 1);
        for (let i = 0; i < 6; i++) {
          const a = await hit(app.port);
          expect(a.gen).toBe(2);
          expect(a.text).toMatch(r.edit.served);
        }
      }, TIMEOUT);

      if (!r.trigger && !r.downtime) {
        // A todo where the app itself resets requests at SIGTERM (it fails under load, when the window is hit).
        (r.dropsRequests ? test.todo : test)(`HUP, then USR2, under a hammering client: no request fails, every generation serves${r.dropsRequests ? ` (${r.dropsRequests})` : ""}`, async () => {
          const app = await start(r);
          const load = hammer(app.port);
          try {
            const served = (gen: number) => () => load.answers.some((a) => a.gen === gen);
            await waitUntil(served(1), 10_000, "answers from gen 1");
            app.m.signal("SIGHUP");
            await app.m.waitFor(/reload gen 2 done/, 25_000);
            await waitUntil(served(2), 10_000, "answers from gen 2");
            app.m.signal("SIGUSR2");
            await app.m.waitFor(/reload gen 3 done/, 25_000);
            await waitUntil(served(3), 10_000, "answers from gen 3");
          } finally {
            await load.stop();
          }
          expect(load.failures).toEqual([]);
        }, TIMEOUT);
      }

      // Every recipe says READY=1 only once its app is imported, so a broken
      // one never counts as ready (with --ready delay:N it would be a race).
      for (const b of r.breaks) {
        test(`${b.what}: the reload rolls back, sup reload --wait exits 1, the old code keeps serving`, async () => {
          const app = await start(r);
          const load = hammer(app.port, 1);
          let res: Awaited<ReturnType<typeof runSup>>;
          try {
            await waitUntil(() => load.answers.length >= 3, 10_000, "answers before the change");
            app.change(b);
            res = await runSup(["reload", "--wait", "--pidfile", app.pidfile], { ms: 30_000 });
            await Bun.sleep(300); // requests after the rollback
          } finally {
            await load.stop();
          }
          expect(res.code).toBe(1);
          expect(res.stderr).toMatch(/reload failed: reload gen 2 rolled back: worker \d pid \d+ gen 2 exited code \d+/);
          expect(app.m.out).toContain("generation 1 keeps serving");
          expect(load.failures).toEqual([]);
          expect(load.answers.filter((a) => a.gen !== 1)).toEqual([]);
          expect((await hit(app.port)).gen).toBe(1);
        }, TIMEOUT);
      }
    });
  }
}
