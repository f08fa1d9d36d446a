import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DIR, encodePath, fallbackStater, FILE, MISSING, newStatOut, stater } from "../../src/native/statx.ts";

const dir = mkdtempSync(join(tmpdir(), "sup-statx-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, "f.py");
writeFileSync(file, "hello");
utimesSync(file, 1_700_000_000.123456, 1_700_000_000.123456);
mkdirSync(join(dir, "sub"));
symlinkSync(file, join(dir, "link.py"));

describe.each([["statx (ffi)", stater()], ["node:fs", fallbackStater()]])("%s", (_name, st) => {
  test("a file: kind, size, inode and mtime to the nanosecond, as fs.statSync says", () => {
    const out = newStatOut();
    st.stat(file, out);
    const ref = statSync(file, { bigint: true });
    expect(out).toMatchObject({ kind: FILE, size: 5, ino: Number(ref.ino), mtimeSec: 1_700_000_000, mtimeNsec: Number(ref.mtimeNs % 1_000_000_000n) });
    expect(out.ctimeMs).toBeCloseTo(Number(ref.ctimeNs / 1_000_000n), -1);
  });
  test("a directory, a missing path, a symlink (followed)", () => {
    const out = newStatOut();
    st.stat(join(dir, "sub"), out);
    expect(out.kind).toBe(DIR);
    st.stat(join(dir, "nope"), out);
    expect(out.kind).toBe(MISSING);
    st.stat(join(dir, "link.py"), out);
    expect(out).toMatchObject({ kind: FILE, size: 5 });
  });
  test("statAt reads paths packed in one buffer, right under GC pressure", () => {
    const a = encodePath(file), b = encodePath(join(dir, "sub"));
    const packed = new Uint8Array(new ArrayBuffer(a.length + b.length));
    packed.set(a);
    packed.set(b, a.length);
    const addr = st.address(packed);
    const out = newStatOut();
    let wrong = 0;
    for (let i = 0; i < 20_000; i++) {
      st.statAt(packed, addr, i % 2 ? a.length : 0, out);
      if (out.kind !== (i % 2 ? DIR : FILE)) wrong++;
      st.stat(i % 2 ? file : join(dir, "sub"), out); // fresh buffers every call
      if (out.kind !== (i % 2 ? FILE : DIR)) wrong++;
      if (i % 500 === 0) Array.from({ length: 500 }, () => new Uint8Array(24));
    }
    expect(wrong).toBe(0);
  });
});
