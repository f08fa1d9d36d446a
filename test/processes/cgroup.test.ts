// cgroup v2 mode's pieces: where the master's cgroup is (pure), and real
// cgroups under this machine's cgroup2 mount for the kill paths (as root).
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WorkerCgroups, killCgroup, populated, procsOf, removeTree } from "../../src/processes/cgroup.ts";
import { cgroup2Mounts, cgroupDir, makeRoot, unifiedPath, unitOf } from "../../src/processes/cgroup-place.ts";
import { running, waitUntil } from "../e2e/harness.ts";

describe("where the master's cgroup is", () => {
  test("the 0:: line of /proc/self/cgroup, on a hybrid host and a pure v2 one", () => {
    expect(unifiedPath("9:name=systemd:/\n4:memory:/x\n0::/\n")).toBe("/");
    expect(unifiedPath("0::/system.slice/app.service\n")).toBe("/system.slice/app.service");
    expect(unifiedPath("4:memory:/x\n1:cpu:/\n")).toBeUndefined();
  });

  const info = [
    "24 22 0:21 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs ro,mode=755",
    "30 24 0:26 / /sys/fs/cgroup/unified rw,nosuid,nodev - cgroup2 cgroup2 rw,nsdelegate",
    "59 49 0:37 /.. /sys/fs/cgroup/old rw,relatime - cgroup2 cgroup2 rw",
    "61 49 0:38 /system.slice/x.service /mnt/my\\040cg ro,relatime - cgroup2 none rw",
  ].join("\n");

  test("the systemd unit a cgroup belongs to: its last .service or .scope part", () => {
    expect(unitOf("/system.slice/app.service")).toBe("/system.slice/app.service");
    expect(unitOf("/system.slice/app.service/supervisor")).toBe("/system.slice/app.service");
    expect(unitOf("/user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope")).toBe("/user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope");
    expect(unitOf("/")).toBeUndefined();
    expect(unitOf("/docker/4f2a")).toBeUndefined();
  });

  test("cgroup2 mounts from mountinfo: root, place (octal escapes undone), read-only or not", () => {
    expect(cgroup2Mounts(info)).toEqual([
      { root: "/", at: "/sys/fs/cgroup/unified", ro: false },
      { root: "/..", at: "/sys/fs/cgroup/old", ro: false },
      { root: "/system.slice/x.service", at: "/mnt/my cg", ro: true },
    ]);
  });

  test("the directory of a cgroup: in the first writable mount that shows it; otherwise why not", () => {
    const mounts = cgroup2Mounts(info);
    expect(cgroupDir("/", mounts)).toBe("/sys/fs/cgroup/unified");
    expect(cgroupDir("/system.slice/x.service", mounts)).toBe("/sys/fs/cgroup/unified/system.slice/x.service");
    expect(cgroupDir("/a", [{ root: "/a", at: "/sys/fs/cgroup", ro: false }])).toBe("/sys/fs/cgroup");
    expect(cgroupDir("/a/b", [{ root: "/a", at: "/sys/fs/cgroup", ro: false }])).toBe("/sys/fs/cgroup/b");
    expect(cgroupDir("/ab", [{ root: "/a", at: "/sys/fs/cgroup", ro: false }])).toEqual({ why: "no cgroup2 mount shows /ab" });
    expect(cgroupDir("/system.slice/x.service/y", [mounts[2]!])).toEqual({ why: "the cgroup2 mount at /mnt/my cg is read-only" });
    expect(cgroupDir("/", [])).toEqual({ why: "no cgroup2 filesystem is mounted" });
  });
});

// Real cgroups: made under this machine's cgroup2 mount, removed after each test.
const CGROUP2 = cgroup2Mounts(readFileSync("/proc/self/mountinfo", "latin1")).find((m) => m.root === "/" && !m.ro)?.at ?? "";
const made: string[] = [];
const pids: number[] = [];
afterEach(async () => {
  for (const p of pids.splice(0)) {
    try {
      process.kill(p, "SIGKILL");
    } catch {}
  }
  for (const d of made.splice(0)) {
    killCgroup(d, true);
    for (let i = 0; i < 100 && populated(d); i++) await Bun.sleep(10);
    removeTree(d);
  }
});

function scratch(): string {
  expect(CGROUP2).not.toBe(""); // this machine has a writable cgroup2 mount (root)
  const d = join(CGROUP2, `sup-unit-${process.pid}-${made.length}-${Date.now()}`);
  mkdirSync(d);
  made.push(d);
  return d;
}

/** A sleeper that forks a child, both in `dir`, and the child ignores TERM. */
function sleepersIn(dir: string): number[] {
  const p = Bun.spawn(["sh", "-c", `echo $$ > ${dir}/cgroup.procs || exit 1; (trap '' TERM; exec sleep 1000) & wait`], { stdio: ["ignore", "ignore", "ignore"] });
  pids.push(p.pid);
  return [p.pid];
}

describe("real cgroups", () => {
  test("cgroup.kill ends everything in a cgroup and below it; then it is empty and can be removed", async () => {
    const dir = scratch();
    mkdirSync(join(dir, "inner"));
    sleepersIn(dir);
    sleepersIn(join(dir, "inner"));
    await waitUntil(() => procsOf(dir).length >= 4, 5000, "4 processes in the cgroup and below");
    const all = procsOf(dir);
    pids.push(...all);
    expect(populated(dir)).toBe(true);
    killCgroup(dir, true);
    await waitUntil(() => !populated(dir), 2000, "an empty cgroup");
    expect(all.filter(running)).toEqual([]);
    expect(removeTree(dir)).toBe(true);
    expect(existsSync(dir)).toBe(false);
  });

  test("without cgroup.kill (Linux before 5.14) every process is SIGKILLed by pid, child cgroups too", async () => {
    const dir = scratch();
    mkdirSync(join(dir, "inner"));
    sleepersIn(dir);
    sleepersIn(join(dir, "inner"));
    await waitUntil(() => procsOf(dir).length >= 4, 5000, "4 processes");
    const all = procsOf(dir);
    pids.push(...all);
    killCgroup(dir, false);
    await waitUntil(() => !populated(dir), 2000, "an empty cgroup");
    expect(all.filter(running)).toEqual([]);
  });

  test("a populated cgroup is not removed; removeTree says so", async () => {
    const dir = scratch();
    sleepersIn(dir);
    await waitUntil(() => procsOf(dir).length >= 1, 5000, "a process");
    expect(removeTree(dir)).toBe(false);
    expect(existsSync(dir)).toBe(true);
  });

  test("WorkerCgroups: a fresh cgroup per worker; TERM to each process, SIGKILL through cgroup.kill; empty means gone and reaped", async () => {
    const root = scratch();
    const cgs = new WorkerCgroups({ home: CGROUP2, root, leaf: join(root, "master"), killFile: true });
    const a = cgs.create(1, 1);
    const b = cgs.create(1, 1);
    expect([a, b]).toEqual([join(root, "worker-1-1-1"), join(root, "worker-1-1-2")]);
    expect(cgs.create(2, 3, "web")).toBe(join(root, "web-2-3-3"));
    sleepersIn(a);
    await waitUntil(() => procsOf(a).length >= 2, 5000, "2 processes");
    expect(cgs.members(a).map((p) => p.comm).sort()).toEqual(["sh", "sleep"]);
    expect(cgs.signal(a, "SIGTERM")).toBe(true); // the sleeper ignores TERM; sh dies
    expect(cgs.signal(a, "SIGKILL")).toBeDefined();
    await waitUntil(() => !cgs.signal(a, 0), 2000, "nothing left in it");
    expect(cgs.remove(a)).toBe(true);
    expect(cgs.signal(b, 0)).toBe(false);
  });

  test("the subtree root: sup-PID; an empty one from before is taken over; a live one is not, the next name is used", async () => {
    const home = scratch();
    expect(makeRoot(home, 7)).toBe(join(home, "sup-7"));
    expect(makeRoot(home, 7)).toBe(join(home, "sup-7")); // empty: taken over
    sleepersIn(join(home, "sup-7"));
    await waitUntil(() => procsOf(join(home, "sup-7")).length >= 1, 5000, "a process in sup-7");
    expect(makeRoot(home, 7)).toBe(join(home, "sup-7-2"));
    writeFileSync(join(home, "sup-7", "cgroup.kill"), "1");
  });
});
