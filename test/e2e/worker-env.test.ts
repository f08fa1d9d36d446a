// What a worker's environment holds of sup's (issue 10, item 5): its
// identity and `env`, never the variables that configure the master itself.
import { expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Master, tempDir, useCleanup } from "./harness.ts";

useCleanup();

test("a worker gets SUP_WORKER_ID, SUP_GENERATION, SUP_MASTER_PID and env, not the SUP_* that configured its master", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "sup.ini"), "[sup]\nprocesses = 1\n[sup:staging]\nready = delay:0.1\n");
  // Everything configured through the environment: command, shell, config file, its section, pidfile.
  const env = {
    SUP_SHELL: "true",
    SUP_COMMAND: "env | grep ^SUP_ | sort; echo env-done; exec sleep 30",
    SUP_CONFIG: join(dir, "sup.ini"),
    SUP_ENV: "staging",
    SUP_PIDFILE: join(dir, "sup.pid"),
    SUP_WORKER_RELOAD_MERCY: "2",
  };
  const m = new Master(["--env", "SUP_INNER=set-on-purpose"], { cwd: dir, env });
  await m.waitFor(/\[1 g1\] env-done/);
  const seen = [...m.out.matchAll(/^\[1 g1\] (SUP_[A-Z_]+)=(.*)$/gm)].map((x) => `${x[1]}=${x[2]}`);
  expect(seen).toEqual(["SUP_GENERATION=1", "SUP_INNER=set-on-purpose", `SUP_MASTER_PID=${m.pid}`, "SUP_WORKER_ID=1"]);
  // The config, its section and the SUP_* were all in effect for the master.
  await m.waitFor(/ready \(alive 0\.1s\)/);
  expect(readFileSync(join(dir, "sup.pid"), "utf8")).toBe(`${m.pid}\n`);
});
