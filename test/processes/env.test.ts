import { expect, test } from "bun:test";
import { OPTIONS, defaults, envVarName } from "../../src/config/schema.ts";
import { workerEnv } from "../../src/processes/env.ts";

const who = { id: 2, generation: 3, masterPid: 100, listenFds: 0, listenFdNames: "" };

test("workerEnv: sup's own configuration variables stay with the master; the worker gets its identity and env", () => {
  const base: Record<string, string> = { PATH: "/bin", HOME: "/root", SUP_ENV: "prod", NOTIFY_SOCKET: "/run/systemd/notify" };
  for (const o of OPTIONS) base[envVarName(o.name)] = "outer";
  const env = workerEnv(base, { ...defaults(), env: ["FOO=bar", "SUP_PIDFILE=/inner.pid"] }, who);
  for (const o of OPTIONS) if (o.name !== "pidfile") expect(env[envVarName(o.name)]).toBeUndefined();
  expect(env.SUP_ENV).toBeUndefined();
  expect(env.NOTIFY_SOCKET).toBeUndefined();
  // What the worker does get: its identity, the `env` entries (even SUP_* ones, set on purpose), the rest of the environment.
  expect(env).toMatchObject({ SUP_WORKER_ID: "2", SUP_GENERATION: "3", SUP_MASTER_PID: "100", FOO: "bar", SUP_PIDFILE: "/inner.pid", PATH: "/bin", HOME: "/root" });
});
