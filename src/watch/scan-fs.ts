// scan.c's contract in node:fs, for where TinyCC is not there: the same
// tables, the same out records, paths as raw bytes (Buffer paths, so a name
// that is not UTF-8 is stat'ed as it is). Slower (a full-path stat and a JS
// object per file), never different: the tests run both.
import { lstatSync, readdirSync, statSync, type BigIntStats } from "node:fs";
import { D, D_COUNT, D_FIRST, D_FLAGS, D_PATH, DELETED, DIR_CHANGED, DIR_GONE, F, F_NAME, LIVE, MISSING, MODIFIED, NEW, O, REPLACED, CREATED, SINGLE, type TreeIndex } from "./tree-index.ts";
import { TOO_SMALL, type Scanner } from "../native/scan.ts";

const SLASH = Buffer.from("/");
const LO = 0xffffffffn;

const stat = (path: Buffer): BigIntStats | undefined => {
  try {
    return statSync(path, { bigint: true, throwIfNoEntry: false });
  } catch {
    return undefined; // EACCES, ENOTDIR, ELOOP: as good as gone for a reload
  }
};

/** A stat as record words 0-6 (mtime sec lo/hi, nsec, size or dev lo/hi, inode lo/hi). */
function words(st: BigIntStats, w: Uint32Array | number[], second: bigint): void {
  const sec = st.mtimeNs / 1_000_000_000n;
  w[0] = Number(sec & LO);
  w[1] = Number((sec >> 32n) & LO);
  w[2] = Number(st.mtimeNs % 1_000_000_000n);
  w[3] = Number(second & LO);
  w[4] = Number((second >> 32n) & LO);
  w[5] = Number(st.ino & LO);
  w[6] = Number((st.ino >> 32n) & LO);
}

const cur: number[] = [0, 0, 0, 0, 0, 0, 0];

function put(out: Uint32Array, n: number, kind: number, d: number, i: number, st?: BigIntStats): void {
  const at = n * O;
  const ct = st ? st.ctimeNs : 0n;
  out[at] = kind;
  out[at + 1] = d;
  out[at + 2] = i;
  out[at + 3] = Number((ct / 1_000_000_000n) & LO);
  out[at + 4] = Number((ct / 1_000_000_000n) >> 32n);
  out[at + 5] = Number(ct % 1_000_000_000n);
}

function scanFiles(ix: TreeIndex, dir: Buffer, d: number, out: Uint32Array, n0: number): number {
  let n = n0;
  const first = ix.dirs[d * D + D_FIRST]!, count = ix.dirs[d * D + D_COUNT]!;
  for (let i = first; i < first + count; i++) {
    const r = ix.files.subarray(i * F, i * F + F);
    const st = stat(Buffer.concat([dir, SLASH, ix.name(r[F_NAME]!)]));
    let kind = 0;
    if (!st || !st.isFile()) {
      if (r[2] !== NEW && r[2] !== MISSING) kind = DELETED;
      r[2] = MISSING;
    } else {
      words(st, cur, st.size);
      if (r[2] === NEW || r[2] === MISSING) kind = CREATED;
      else if (r[5] !== cur[5] || r[6] !== cur[6]) kind = REPLACED;
      else if (r[0] !== cur[0] || r[1] !== cur[1] || r[2] !== cur[2] || r[3] !== cur[3] || r[4] !== cur[4]) kind = MODIFIED;
      r.set(cur);
    }
    if (kind) put(out, n++, kind, d, i, st);
  }
  return n;
}

export const fsScanner: Scanner = {
  name: "node:fs",
  scan(ix, list, count, out, at) {
    let n = 0;
    let k = at[0]!;
    for (; k < count; k++) {
      const d = list ? list[k]! : k;
      const r = ix.dirs.subarray(d * D, d * D + D);
      if (!(r[D_FLAGS]! & LIVE)) continue;
      if (n + r[D_COUNT]! + 1 > out.length / O) break;
      const path = Buffer.from(ix.name(r[D_PATH]!));
      if (!(r[D_FLAGS]! & SINGLE)) {
        const st = stat(path);
        if (!st || !st.isDirectory()) {
          put(out, n++, DIR_GONE, d, 0);
          continue;
        }
        words(st, cur, 0n);
        if (r[0] !== cur[0] || r[1] !== cur[1] || r[2] !== cur[2] || r[5] !== cur[5] || r[6] !== cur[6]) {
          put(out, n++, DIR_CHANGED, d, 0);
          continue;
        }
      }
      n = scanFiles(ix, path, d, out, n);
    }
    at[0] = k;
    return n;
  },
  list(path, out, hdr) {
    const dir = Buffer.from(path.subarray(0, path.length - 1));
    const st = stat(dir);
    if (!st || !st.isDirectory()) return st ? -20 : -2; // ENOTDIR, ENOENT
    words(st, hdr, st.dev); // dev in place of scan.c's major/minor: only compared with itself
    let names: Buffer[];
    try {
      // Bun 1.4.5 ignores withFileTypes with encoding "buffer" (names only): lstat each entry.
      names = readdirSync(dir, { encoding: "buffer" });
    } catch (e) {
      return -Math.abs((e as { errno?: number }).errno ?? 2); // node:fs errno is negative (libuv)
    }
    let pos = 0;
    for (const name of names) {
      const path = Buffer.concat([dir, SLASH, name]);
      let l: BigIntStats | undefined;
      try {
        l = lstatSync(path, { bigint: true, throwIfNoEntry: false });
      } catch {
        continue; // gone since the listing
      }
      let t = l?.isFile() ? 102 : l?.isDirectory() ? 100 : 0; // 'f', 'd'
      if (l?.isSymbolicLink() && stat(path)?.isFile()) t = 108; // 'l': a link to a file
      if (!t) continue;
      if (pos + name.length + 2 > out.length) return TOO_SMALL;
      out[pos++] = t;
      out.set(name, pos);
      pos += name.length;
      out[pos++] = 0;
    }
    return pos;
  },
};
