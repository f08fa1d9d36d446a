// The bounded writer against real pipes and files: it never blocks, drops
// and counts past its limit, and leaves the shared file description alone.
import { afterEach, expect, test } from "bun:test";
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { libc } from "../../src/native/libc.ts";
import { Output } from "../../src/output/writer.ts";

const enc = new TextEncoder();
const fds: number[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const fd of fds.splice(0)) {
    try {
      closeSync(fd);
    } catch {}
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function pipe(): [number, number] {
  const p = new Int32Array(new ArrayBuffer(8));
  expect(libc.pipe2(p, 0o2000000)).toBe(0);
  fds.push(p[0]!, p[1]!);
  return [p[0]!, p[1]!];
}

const flags = (fd: number) => Number(/flags:\s+(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))![1]!);
const O_NONBLOCK = 0o4000;

function readAll(fd: number): string {
  const buf = Buffer.alloc(1 << 16);
  let out = "";
  for (;;) {
    let n = 0;
    try {
      n = readSync(fd, buf);
    } catch {
      break; // EAGAIN on the non-blocking read end: all read
    }
    if (n <= 0) break;
    out += buf.toString("utf8", 0, n);
  }
  return out;
}

test("lines written in one turn reach a pipe, in order", async () => {
  const [r, w] = pipe();
  const o = new Output(w);
  for (let i = 0; i < 100; i++) o.write(enc.encode(`line ${i}\n`));
  await Bun.sleep(20);
  libc.fcntl(r, 4 /* F_SETFL */, O_NONBLOCK);
  const got = readAll(r).split("\n").filter(Boolean);
  expect(got).toHaveLength(100);
  expect(got[99]).toBe("line 99");
  o.end();
});

test("a pipe nobody reads: write() never blocks, drops past the limit and reports the count", async () => {
  const [, w] = pipe();
  const drops: number[] = [];
  const o = new Output(w, 64 << 10, 50);
  o.onDrop = (n) => drops.push(n);
  const line = enc.encode("x".repeat(999) + "\n");
  const t0 = performance.now();
  let refused = 0;
  for (let i = 0; i < 4000; i++) {
    if (!o.write(line)) refused++;
    if (i % 100 === 0) await Bun.sleep(1); // let flushes run: they meet a full pipe
  }
  expect(performance.now() - t0).toBeLessThan(2000);
  expect(refused).toBeGreaterThan(2000); // 4 MB offered, a 1 MiB pipe + 64 KiB queue
  expect(o.pending).toBeLessThanOrEqual(64 << 10);
  await Bun.sleep(120);
  expect(drops.reduce((a, b) => a + b, 0)).toBe(refused);
  o.end();
});

test("a pipe is grown to 1 MiB, so a writer woken late still keeps a fast reader fed", () => {
  const [, w] = pipe();
  const F_GETPIPE_SZ = 1032;
  expect(libc.fcntl(w, F_GETPIPE_SZ, 0)).toBe(64 << 10);
  const o = new Output(w);
  expect(libc.fcntl(w, F_GETPIPE_SZ, 0)).toBe(1 << 20); // a property of the pipe, seen through any fd of it
  o.end();
});

test("the shared description of the fd is left blocking; the writer uses its own", async () => {
  const [, w] = pipe();
  expect(flags(w) & O_NONBLOCK).toBe(0);
  const o = new Output(w);
  o.write(enc.encode("hi\n"));
  await Bun.sleep(10);
  expect(flags(w) & O_NONBLOCK).toBe(0);
  o.end();
});

test("a reader that went away (EPIPE) drops lines and never kills the process", async () => {
  const [r, w] = pipe();
  closeSync(r);
  fds.splice(fds.indexOf(r), 1);
  const o = new Output(w);
  o.write(enc.encode("nobody reads this\n"));
  await Bun.sleep(20);
  expect(o.write(enc.encode("nor this\n"))).toBe(false);
  expect(o.droppedTotal).toBeGreaterThanOrEqual(1);
  o.end();
});

test("a regular file gets every line", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sup-out-"));
  dirs.push(dir);
  const fd = openSync(join(dir, "log"), "w");
  fds.push(fd);
  expect(fstatSync(fd).isFile()).toBe(true);
  const o = new Output(fd);
  for (let i = 0; i < 1000; i++) o.write(enc.encode(`${i}\n`));
  await Bun.sleep(20);
  o.end();
  expect(readFileSync(join(dir, "log"), "utf8").split("\n").filter(Boolean)).toHaveLength(1000);
});

test("a full disk (ENOSPC, /dev/full) drops and counts, and keeps trying the next lines", async () => {
  const fd = openSync("/dev/full", "w");
  fds.push(fd);
  const o = new Output(fd);
  o.write(enc.encode("lost\n"));
  await Bun.sleep(20);
  expect(o.droppedTotal).toBe(1);
  expect(o.write(enc.encode("tried again\n"))).toBe(true); // not given up on
  await Bun.sleep(20);
  expect(o.droppedTotal).toBe(2);
  o.end();
});

test("the drop report of a full disk names the error in words, not a slow reader", async () => {
  const fd = openSync("/dev/full", "w");
  fds.push(fd);
  const o = new Output(fd, undefined, 0);
  const reports: [number, string | undefined][] = [];
  o.onDrop = (n, error) => reports.push([n, error]);
  o.write(enc.encode("lost\n"));
  for (let i = 0; i < 100 && reports.length === 0; i++) await Bun.sleep(10);
  expect(reports[0]![0]).toBe(1);
  expect(reports[0]![1]).toMatch(/^no space left on device \(errno 28\)$/);
  o.end();
});

test("a reader that keeps up gets every line of a steady flood, however long (no backoff stuck after EAGAIN)", async () => {
  const [r, w] = pipe();
  libc.fcntl(r, 4 /* F_SETFL */, O_NONBLOCK);
  const o = new Output(w, 1 << 20);
  const line = enc.encode("y".repeat(99) + "\n");
  let got = 0;
  const buf = Buffer.alloc(1 << 20);
  const reader = setInterval(() => {
    for (;;) {
      let n = 0;
      try {
        n = readSync(r, buf);
      } catch {
        break;
      }
      if (n <= 0) break;
      got += n;
    }
  }, 1);
  try {
    // 8 MB in 80 bursts of 100 KB, one every 5 ms: each burst meets a pipe
    // the last one filled, so every burst starts with EAGAIN.
    for (let i = 0; i < 80; i++) {
      for (let j = 0; j < 1000; j++) o.write(line);
      await Bun.sleep(5);
    }
    const deadline = Date.now() + 5000;
    while (got < 8_000_000 && Date.now() < deadline) await Bun.sleep(10);
  } finally {
    clearInterval(reader);
  }
  expect(o.droppedTotal).toBe(0);
  expect(got).toBe(8_000_000);
  o.end();
});
