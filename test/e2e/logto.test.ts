// --logto FILE: the master's and the workers' lines in one file, reopened
// after a logrotate-style rename (sup reopen-logs, USR1, touch-logreopen)
// without losing a line under a flood, rotated by --log-maxsize, and a full
// disk reported once a minute with the lost lines counted in /metrics.
import { expect, test } from "bun:test";
import { existsSync, linkSync, readFileSync, readdirSync, renameSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Master, freePort, runSup, tempDir, useCleanup, waitUntil } from "./harness.ts";

useCleanup();

const N = 200_000;
/** Each worker writes "w<id> 1" … "w<id> N" as fast as seq can, then sleeps. */
const flood = (n = N) => ["sh", "-c", `seq -f "w$SUP_WORKER_ID %.0f" 1 ${n}; exec sleep 1000`];

const read = (dir: string, prefix: string) =>
  readdirSync(dir).filter((f) => f.startsWith(prefix)).sort().map((f) => readFileSync(join(dir, f), "utf8")).join("");

test("a logrotate-style rename and reopen under a flood loses no line and splits none", async () => {
  const dir = tempDir();
  const file = join(dir, "app.log");
  const pidfile = join(dir, "sup.pid");
  const m = new Master(["-p", "2", "--ready", "delay:0.1", "--pidfile", pidfile, "--logto", file, "--", ...flood()]);
  await waitUntil(() => existsSync(file) && readFileSync(file, "utf8").includes("w2 1000\n"), 15_000, () => `the flood in ${file}:\n${m.out}`);
  // logrotate's "create" way: rename, then tell the master (postrotate); five times, the flood going on.
  for (let i = 1; i <= 5; i++) {
    renameSync(file, `${file}.${i}`);
    if (i % 2) expect((await runSup(["reopen-logs", "--pidfile", pidfile])).code).toBe(0);
    else m.signal("SIGUSR1");
    await Bun.sleep(100);
  }
  await waitUntil(() => /\] w1 200000\n/.test(read(dir, "app.log")) && /\] w2 200000\n/.test(read(dir, "app.log")), 30_000, "both workers' last line");
  const all = read(dir, "app.log");
  const seen = new Map<string, number>();
  for (const line of all.split("\n")) {
    const w = /^\[(\d) g1\] (w\d) (\d+)$/.exec(line);
    if (w) seen.set(`${w[2]} ${w[3]}`, (seen.get(`${w[2]} ${w[3]}`) ?? 0) + 1);
    else if (line) expect(line).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z sup\[\d+\] /); // the master's own lines, whole
  }
  expect(seen.size).toBe(2 * N);
  expect([...seen.values()].every((n) => n === 1)).toBe(true);
  // Each reopen is logged in the new file (the one the next rename moved away), and nothing went to the terminal.
  expect(all.match(/log file \S+ reopened \((control: sup reopen-logs|signal USR1)\)/g)).toHaveLength(5);
  expect(m.out).toBe("");
  expect(statSync(file).mode & 0o777).toBe(0o640);
}, 60_000);

test("--log-maxsize rotates FILE to FILE.1 and starts a new FILE", async () => {
  const dir = tempDir();
  const file = join(dir, "app.log");
  const m = new Master(["--ready", "delay:0.1", "--logto", file, "--log-maxsize", "0.1", "--", ...flood(30_000)]);
  await waitUntil(() => existsSync(file) && readFileSync(file, "utf8").includes("w1 30000\n"), 15_000, () => `the last line in ${file}:\n${m.out}`);
  const max = 0.1 * 1048576;
  expect(statSync(`${file}.1`).size).toBeLessThanOrEqual(max);
  expect(statSync(`${file}.1`).size).toBeGreaterThan(max - 100);
  expect(statSync(file).size).toBeLessThanOrEqual(max);
  expect(readdirSync(dir).sort()).toEqual(["app.log", "app.log.1"]);
}, 30_000);

test("--touch-logreopen reopens the file when touched", async () => {
  const dir = tempDir();
  const file = join(dir, "app.log");
  const trigger = join(dir, "reopen");
  writeFileSync(trigger, "");
  const m = new Master(["--ready", "delay:0.1", "--logto", file, "--touch-logreopen", trigger, "--check-interval", "0.1", "--", "sh", "-c", "while :; do echo tick; sleep 0.05; done"]);
  await waitUntil(() => existsSync(file) && readFileSync(file, "utf8").includes("tick"), 10_000, () => `ticks:\n${m.out}`);
  renameSync(file, `${file}.1`);
  utimesSync(trigger, new Date(), new Date(Date.now() + 5000));
  await waitUntil(() => existsSync(file) && /reopened \(touch: \S+reopen\)[\s\S]*tick/.test(readFileSync(file, "utf8")), 10_000, "the reopen line, then ticks, in the new file");
}, 20_000);

test("a full disk is reported once (a minute), on stderr too, and the lost lines are counted in /metrics", async () => {
  const dir = tempDir();
  const mnt = join(dir, "small");
  Bun.spawnSync(["mkdir", mnt]);
  const mount = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt]);
  expect({ code: mount.exitCode, err: mount.stderr.toString() }).toEqual({ code: 0, err: "" });
  try {
    const stats = await freePort();
    const m = new Master(["--ready", "delay:0.1", "--logto", join(mnt, "app.log"), "--stats", `127.0.0.1:${stats}`, "--", "sh", "-c", "while :; do seq 1 2000; sleep 0.1; done"]);
    await m.waitFor(/output: dropped [\d,]+ lines? since the last report: logto \S+ cannot be written: no space left on device \(errno 28\)/, 15_000);
    await Bun.sleep(3000);
    expect(m.count(/no space left on device/g)).toBe(1);
    const metrics = await (await fetch(`http://127.0.0.1:${stats}/metrics`)).text();
    expect(Number(/sup_log_dropped_lines_total\{stream="logfile"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(1000);
    // The last report, at exit, still names the full disk (it once said "is not written fast enough").
    m.signal("SIGTERM");
    expect(await m.exitCode()).toBe(0);
    expect(m.count(/no space left on device/g)).toBe(2);
    expect(m.out).not.toContain("is not written fast enough");
  } finally {
    Bun.spawnSync(["umount", "-l", mnt]);
  }
}, 30_000);

test("a disk that fills up mid-line and then has room again: every line in the file is whole", async () => {
  const dir = tempDir();
  const mnt = join(dir, "small");
  Bun.spawnSync(["mkdir", mnt]);
  const mount = Bun.spawnSync(["sh", "-c", 'mount -t tmpfs -o size=64k tmpfs "$1" && head -c 40000 /dev/zero > "$1/filler"', "sh", mnt]);
  expect({ code: mount.exitCode, err: mount.stderr.toString() }).toEqual({ code: 0, err: "" });
  try {
    const file = join(mnt, "app.log");
    // Lines of 61 bytes with the prefix: one of them straddles the end of the space left.
    const m = new Master(["--ready", "delay:0.1", "--logto", file, "--", "sh", "-c", 'i=0; while :; do i=$((i+1)); echo "line $i padding padding padding padding padding"; sleep 0.002; done']);
    await m.waitFor(/cannot be written: no space left on device/, 15_000);
    Bun.spawnSync(["rm", join(mnt, "filler")]);
    await waitUntil(() => statSync(file).size > 30_000, 10_000, "lines written once the disk had room");
    m.signal("SIGTERM");
    await m.exitCode();
    const lines = readFileSync(file, "utf8").split("\n").slice(0, -1);
    const torn = lines.filter((l) => !/^\[1 g1\] line \d+ padding padding padding padding padding$/.test(l) && !/^\d{4}-\d\d-\d\dT[\d:.]+Z sup\[\d+\] /.test(l));
    // The one fragment the full disk cut short stays, on a line of its own.
    expect(torn.length).toBeLessThanOrEqual(1);
    expect(torn.join("\n")).not.toMatch(/\[1 g1\].*\[1 g1\]|padding.*sup\[/);
  } finally {
    Bun.spawnSync(["umount", "-l", mnt]);
  }
}, 30_000);

test("a logto path that is a symlink, a hard link or in no directory is refused at start (exit 2)", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "real"), "");
  symlinkSync(join(dir, "real"), join(dir, "link"));
  linkSync(join(dir, "real"), join(dir, "hard"));
  const cases: [string, RegExp][] = [
    [join(dir, "link"), /logto \S+link is a symbolic link; sup does not follow one/],
    [join(dir, "hard"), /logto \S+hard has 2 hard links/],
    [join(dir, "nodir", "app.log"), /logto the directory of \S+ does not exist/],
    [dir, /logto \S+ is not a regular file|EISDIR|is a directory/],
  ];
  for (const [path, re] of cases) {
    const r = await runSup(["--logto", path, "--", "sleep", "10"]);
    expect({ code: r.code, err: r.stderr }).toMatchObject({ code: 2, err: expect.stringMatching(re) });
  }
}, 20_000);
