// The native guard forked from this process (not in tree mode: this test
// runner's other children are not its business): "bye" leaves everything
// alone; the pipe ending without it kills what it was told to watch.
import { afterEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JSON_LOG, forkNativeGuard, startError } from "../../src/native/guard.ts";
import { O_CLOEXEC, libc } from "../../src/native/libc.ts";
import { running, waitUntil } from "../e2e/harness.ts";

const started: number[] = [];
afterEach(() => {
  for (const p of started.splice(0)) {
    try {
      process.kill(-p, "SIGKILL");
    } catch {}
    try {
      process.kill(p, "SIGKILL");
    } catch {}
  }
});

const sleeper = () => {
  const p = Bun.spawn(["sleep", "1000"], { detached: true, stdio: ["ignore", "ignore", "ignore"] });
  started.push(p.pid);
  return p.pid;
};

/** A guard watching a sleeper's group; its pipe's write end. */
function guarded(cgroupRoot = "") {
  const sleeperPid = sleeper();
  const fds = new Int32Array(new ArrayBuffer(8));
  expect(libc.pipe2(fds, O_CLOEXEC)).toBe(0);
  const r = forkNativeGuard({ fd: fds[0]!, masterPid: process.pid, flags: JSON_LOG, runtimeDir: "", cgroupRoot, cgroupHome: "" });
  libc.close(fds[0]!);
  if (!("pid" in r)) throw new Error(r.why);
  started.push(r.pid);
  const say = (s: string) => expect(Number(libc.write(fds[1]!, Buffer.from(s), Buffer.byteLength(s)))).toBe(Buffer.byteLength(s));
  say(`+g ${sleeperPid}\n+p 4999999\n-p 4999999\n`);
  return { guard: r.pid, sleeper: sleeperPid, say, close: () => libc.close(fds[1]!) };
}

test("after bye, the end of the pipe kills nothing and the guard exits", async () => {
  const g = guarded();
  g.say("bye\n");
  g.close();
  await waitUntil(() => !running(g.guard), 2000, "the guard to exit");
  await Bun.sleep(100);
  expect(running(g.sleeper)).toBe(true);
});

test("without bye, the end of the pipe (the master died) kills the watched group, then the guard exits", async () => {
  const g = guarded();
  g.close();
  await waitUntil(() => !running(g.sleeper), 2000, "the watched group killed");
  await waitUntil(() => !running(g.guard), 3000, "the guard to exit");
});

test("without cgroup.kill (Linux before 5.14) it kills every pid in cgroup.procs, in sup's subtree and below", async () => {
  // A plain directory stands for the subtree: writing its cgroup.kill fails
  // as on an old kernel, and the cgroup.procs files list what runs there.
  const root = mkdtempSync(join(tmpdir(), "sup-guard-test-"));
  try {
    const [a, b] = [sleeper(), sleeper()];
    mkdirSync(join(root, "worker-1-1-1"));
    writeFileSync(join(root, "cgroup.procs"), "");
    writeFileSync(join(root, "worker-1-1-1", "cgroup.procs"), `${a}\n${b}\n`);
    const g = guarded(root);
    g.close();
    await waitUntil(() => !running(a) && !running(b), 2000, "the pids listed in cgroup.procs killed");
    await waitUntil(() => !running(g.guard), 3000, "the guard to exit");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("start errors in words", () => {
  expect(startError(-100000)).toBe("the forked guard sent no word within 5 s");
  expect(startError(-(9 * 1000 + 2))).toBe("the forked guard failed unmapping the master's memory: no such file or directory");
  expect(startError(-(200000 + 11))).toBe("clone: resource temporarily unavailable");
  expect(startError(-12)).toBe("cannot allocate memory");
});
