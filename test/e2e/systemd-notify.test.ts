// sup under a fake service manager: a datagram socket of ours as
// NOTIFY_SOCKET, and the messages sd_notify(3) and systemd.service(5)
// (Type=notify, Type=notify-reload) expect, in order.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { join } from "node:path";
import { NotifyServer } from "../../src/net/notify.ts";
import { Master, fixture, tempDir, useCleanup, waitUntil } from "./harness.ts";

useCleanup();

let sock: NotifyServer | undefined;
let got: string[] = [];

/** Reads datagrams until one satisfies `pred`; returns it. */
async function expectMessage(pred: (m: string) => boolean, what: string, master: Master, ms = 15_000): Promise<string> {
  return await waitUntil(() => {
    got.push(...sock!.drain().map((m) => m.text));
    return got.find(pred);
  }, ms, `${what}; got ${JSON.stringify(got)}; log:\n${master.out}`);
}

/** CLOCK_MONOTONIC in µs, read by another program (Bun's process.hrtime counts from process start). */
const monotonicUsec = () => BigInt(Bun.spawnSync(["python3", "-c", "import time; print(time.monotonic_ns() // 1000)"]).stdout.toString().trim());

const fields = (m: string) => new Map(m.split("\n").filter(Boolean).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));

beforeEach(() => {
  sock = NotifyServer.open(join(tempDir(), "notify.sock"));
  got = [];
});

afterEach(() => {
  sock?.close();
  sock = undefined;
});

test("sup tells systemd READY, RELOADING with MONOTONIC_USEC then READY, and STOPPING", async () => {
  const master = new Master(["-p", "2", "--ready", "delay:0.2", "--", fixture("sleeper.sh")], { env: { NOTIFY_SOCKET: sock!.path } });

  const ready = fields(await expectMessage((m) => fields(m).get("READY") === "1", "READY=1 after start", master));
  expect(ready.get("MAINPID")).toBe(String(master.pid));
  expect(ready.get("STATUS")).toBeTruthy();
  // Sent once both workers of generation 1 were ready (the log comes through a
  // pipe and may trail the datagram a little, hence the short wait).
  await waitUntil(() => master.count(/gen 1 ready \(/g) === 2, 3000, () => `2 gen 1 ready lines:\n${master.out}`);

  got = [];
  const before = monotonicUsec();
  master.signal("SIGHUP");
  const reloading = await expectMessage((m) => fields(m).has("RELOADING"), "RELOADING=1 after HUP", master);
  const f = fields(reloading);
  expect(f.get("RELOADING")).toBe("1");
  // CLOCK_MONOTONIC (µs since boot), taken between the HUP and now.
  const usec = BigInt(f.get("MONOTONIC_USEC") ?? "0");
  expect({ afterHup: usec >= before, beforeNow: usec <= monotonicUsec() }).toEqual({ afterHup: true, beforeNow: true });

  const reloaded = await expectMessage((m) => fields(m).get("READY") === "1", "READY=1 after the reload", master);
  expect(got.indexOf(reloaded)).toBeGreaterThan(got.indexOf(reloading));
  await master.waitFor(/gen 2 pid \d+ master \d+ up[\s\S]*gen 2 pid \d+ master \d+ up/);

  got = [];
  master.signal("SIGTERM");
  const stopping = fields(await expectMessage((m) => fields(m).get("STOPPING") === "1", "STOPPING=1 after TERM", master));
  expect(stopping.get("STATUS")).toContain("stopping");
  expect(await master.exitCode()).toBe(0);
}, 40_000);

test("workers do not inherit the service manager's NOTIFY_SOCKET", async () => {
  const master = new Master(["-p", "1", "--ready", "delay:0.1", "--", "sh", "-c", "printf 'sock<%s>\\n' \"$NOTIFY_SOCKET\"; exec sleep 30"], {
    env: { NOTIFY_SOCKET: sock!.path },
  });
  // The master's log echoes the command (with %s); the worker's line has the value.
  const [, value] = await master.waitFor(/sock<(?!%s)([^>]*)>/);
  expect(value).toBe("");
  await expectMessage((m) => fields(m).get("READY") === "1", "READY=1", master);
}, 20_000);
