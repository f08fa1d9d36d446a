// Type=notify-reload as systemd plays it (systemd.service(5); service.c's
// service_notify_message): on `systemctl reload` systemd notes
// CLOCK_MONOTONIC, sends SIGHUP, takes a RELOADING=1 only when its
// MONOTONIC_USEC= is no older than that, and then waits for READY=1. A
// reload that never says a fresh RELOADING=1 leaves systemctl waiting (the
// test times out). Cases: a HUP; a HUP sent while the previous reload still
// runs (queued); a HUP whose config changes no program.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { NotifyServer } from "../../src/net/notify.ts";
import { monotonicUsec } from "../../src/net/systemd.ts";
import { Master, fixture, tempDir, useCleanup, waitUntil } from "./harness.ts";

useCleanup();

let sock: NotifyServer | undefined;
beforeEach(() => {
  sock = NotifyServer.open(join(tempDir(), "notify.sock"));
});
afterEach(() => {
  sock?.close();
  sock = undefined;
});

/** systemd's side of one notify-reload unit: its state, fed by sup's datagrams. */
function manager(m: Master) {
  let state: "starting" | "running" | "reload-signal" | "reload-notify" = "starting";
  let begin = 0n;
  const seen: string[] = [];
  const pump = () => {
    for (const { text } of sock!.drain()) {
      seen.push(text.replaceAll("\n", " "));
      const f = new Map(text.split("\n").filter(Boolean).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
      if (f.get("READY") === "1") {
        if (state === "starting" || state === "reload-notify") state = "running";
      } else if (f.get("RELOADING") === "1") {
        const usec = f.has("MONOTONIC_USEC") ? BigInt(f.get("MONOTONIC_USEC")!) : undefined;
        if (state === "reload-signal" && usec !== undefined && usec >= begin) state = "reload-notify";
        else if (state === "running") state = "reload-notify";
      }
    }
    return state;
  };
  return {
    /** systemctl reload: note the time, send HUP. */
    reload() {
      pump();
      begin = monotonicUsec();
      state = "reload-signal";
      m.signal("SIGHUP");
    },
    async until(want: typeof state, what: string) {
      await waitUntil(() => pump() === want, 20_000, () => `${what}: systemd state ${state}, messages ${JSON.stringify(seen)}; log:\n${m.out}`);
    },
  };
}

test("every HUP is answered with a fresh RELOADING=1 then READY=1, a queued one too", async () => {
  const m = new Master(["--ready", "delay:0.2", "--reload-grace", "1", "--", fixture("sleeper.sh")], { env: { NOTIFY_SOCKET: sock!.path } });
  const sd = manager(m);
  await sd.until("running", "started");
  sd.reload();
  await sd.until("running", "the first reload done");
  // The datagram can come before the log line that goes with it is read here.
  await m.waitFor(/reload gen 2 done/, 5_000);
  // A second HUP while the next reload runs: systemd ignores the READY=1 of
  // the running one, and waits for the queued one's RELOADING=1.
  sd.reload();
  await waitUntil(() => /reload gen 3 started/.test(m.out), 10_000, "reload 3 running");
  sd.reload();
  await sd.until("running", "the queued reload done");
  const runningAt = Date.now();
  // READY=1 came with the queued reload's end, not the running one's: the log
  // says gen 4 was done by then (its line may be read here a little later).
  const done = await m.waitFor(/^(\S+) .*reload gen 4 done/m, 5_000);
  expect(Date.parse(done[1]!)).toBeLessThanOrEqual(runningAt);
  expect(m.out).toMatch(/reload requested \(signal HUP\); queued after the running one[\s\S]*reload gen 4 done/);
}, 60_000);

test("a HUP that changes no program still says RELOADING=1 and READY=1", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "sup.toml"), `[programs.web]\ncommand = "${fixture("sleeper.sh")}"\nready = "delay:0.2"\n`);
  const m = new Master([], { cwd: dir, env: { NOTIFY_SOCKET: sock!.path } });
  const sd = manager(m);
  await sd.until("running", "started");
  sd.reload();
  await sd.until("running", "the empty reload answered");
  // The datagrams can come before the log line that goes with them is read
  // here (a CI run saw READY=1 first): wait for the line, bounded.
  await m.waitFor(/no program changed/, 5_000);
}, 30_000);
