// `sup top` driven in a real terminal (tmux: send-keys to type, capture-pane
// to read the screen): it shows the workers, sorts on a key, quits on q and
// on Ctrl-C with the terminal as it was; off a terminal it prints one table.
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { Master, SUP, fixture, runSup, tempDir, useCleanup, waitUntil } from "./harness.ts";

useCleanup();

const server = `sup-top-test-${process.pid}`;
const tmux = (...args: string[]) => Bun.spawnSync(["tmux", "-L", server, ...args], { stdio: ["ignore", "pipe", "pipe"] });
const screen = () => tmux("capture-pane", "-p", "-t", "top").stdout.toString();

afterEach(() => {
  tmux("kill-server");
});

async function master() {
  const pidfile = join(tempDir(), "sup.pid");
  const m = new Master(["-p", "3", "--ready", "delay:0.1", "--pidfile", pidfile, "--", fixture("sleeper.sh")]);
  await m.waitFor(/worker 3 pid \d+ gen 1 ready/);
  return { m, pidfile };
}

/** top in a 120x30 tmux pane; the shell after it says how it ended and keeps the pane open. */
async function topInTmux(pidfile: string) {
  const r = tmux("new-session", "-d", "-s", "top", "-x", "120", "-y", "30", `${SUP} top --pidfile ${pidfile}; echo top-exit=$?; sleep 60`);
  expect({ code: r.exitCode, err: r.stderr.toString() }).toEqual({ code: 0, err: "" });
  await waitUntil(() => /PROGRAM +ID +PID/.test(screen()), 10_000, () => `top's table on screen:\n${screen()}`);
}

test("sup top shows every worker live, sorts on a key and quits on q, restoring the screen", async () => {
  const { m, pidfile } = await master();
  await topInTmux(pidfile);
  const pids = m.livePids();
  // CPU % needs two readings a second apart.
  await waitUntil(() => pids.every((p) => new RegExp(`sleeper\\.sh +\\d +${p} +1  ready +\\d+s +\\d+\\.\\d +[\\d.]+M +0`).test(screen())), 10_000, () => `rows for ${pids} with CPU %:\n${screen()}`);
  expect(screen()).toContain("sleeper.sh: ready, gen 1, 3/3 ready; no reload yet");
  expect(screen()).toContain("[c]cpu* [m]mem [i]id [u]uptime [r]restarts   [q] quit");
  tmux("send-keys", "-t", "top", "m");
  await waitUntil(() => screen().includes("[m]mem*"), 5000, () => `sorted by memory:\n${screen()}`);
  // A reload shows up in the program line.
  m.signal("SIGHUP");
  await waitUntil(() => /last reload \d+s ago ok \(signal HUP\)/.test(screen()), 15_000, () => `the reload on screen:\n${screen()}`);
  tmux("send-keys", "-t", "top", "q");
  await waitUntil(() => screen().includes("top-exit=0"), 5000, () => `top ended:\n${screen()}`);
  expect(screen()).not.toContain("PROGRAM"); // the alternate screen is gone: the shell's screen is back
}, 40_000);

test("Ctrl-C quits sup top too, and off a terminal it prints one plain table", async () => {
  const { m, pidfile } = await master();
  await topInTmux(pidfile);
  tmux("send-keys", "-t", "top", "C-c");
  await waitUntil(() => screen().includes("top-exit=0"), 5000, () => `top ended on Ctrl-C:\n${screen()}`);
  // The terminal is back in cooked mode: what is typed (to the sleep after top) echoes.
  tmux("send-keys", "-t", "top", "typed-back");
  await waitUntil(() => screen().includes("typed-back"), 5000, () => `the typed text echoed:
${screen()}`);
  const plain = await runSup(["top", "--pidfile", pidfile]);
  expect(plain.code).toBe(0);
  expect(plain.stdout).not.toContain("\x1b");
  for (const p of m.livePids()) expect(plain.stdout).toMatch(new RegExp(`sleeper\\.sh +\\d +${p} +1  ready`));
}, 30_000);
