// The poller's memory of the watched tree, compact and flat so that one
// foreign call can scan it (scan.c reads and updates these tables in place):
// per file one 32-byte record and its name, stored once as raw bytes (a name
// that is not UTF-8 stays exactly what the kernel gave); per directory a
// 64-byte record and its absolute path. A directory's files are one run of
// records; listing it again writes a new run and leaves the old one as
// garbage until compact() (when garbage outweighs what is live).
import { stableBytes } from "../native/statx.ts";

export const F = 8; // u32 per file record
export const D = 16; // u32 per dir record
export const O = 6; // u32 per out record
/** File record word 2 (mtime nsec) when the file was never stat'ed, or its stat failed. */
export const NEW = 0xfffffffe;
export const MISSING = 0xffffffff;
export const F_NAME = 7;
// Dir record words 0-6 are its stat (mtime sec lo/hi, nsec, dev major/minor, inode lo/hi).
export const D_PATH = 7, D_PARENT = 8, D_FIRST = 9, D_COUNT = 10, D_CHILD = 11, D_NEXT = 12, D_FLAGS = 13, D_WD = 14;
export const LIVE = 1, SINGLE = 2, GITIGNORE = 4;
export const NONE = 0xffffffff;
// Out record kinds (scan.c).
export const CREATED = 1, DELETED = 2, MODIFIED = 3, REPLACED = 4, DIR_CHANGED = 5, DIR_GONE = 6;

const grow = (a: Uint32Array<ArrayBuffer>, need: number): Uint32Array<ArrayBuffer> => {
  if (need <= a.length) return a;
  const b = new Uint32Array(new ArrayBuffer(Math.max(need, Math.ceil(a.length * 1.5)) * 4));
  b.set(a);
  return b;
};

export class TreeIndex {
  names = stableBytes(1 << 12);
  namesLen = 0;
  files = new Uint32Array(new ArrayBuffer(F * 4 * 64));
  filesLen = 0; // records in use, garbage included
  dirs = new Uint32Array(new ArrayBuffer(D * 4 * 16));
  dirsLen = 0;
  liveFiles = 0;
  liveDirs = 0;
  private garbage = 0; // bytes of names and file records no one points to
  private readonly freeDirs: number[] = [];

  /** Append a name (raw bytes) and its NUL; returns its offset. */
  addName(bytes: Uint8Array): number {
    if (this.namesLen + bytes.length + 1 > this.names.length) {
      const b = stableBytes(Math.max(this.namesLen + bytes.length + 1, Math.ceil(this.names.length * 1.5)));
      b.set(this.names.subarray(0, this.namesLen));
      this.names = b;
    }
    const at = this.namesLen;
    this.names.set(bytes, at);
    this.names[at + bytes.length] = 0;
    this.namesLen += bytes.length + 1;
    return at;
  }

  /** The bytes of the name at `off`, without the NUL (a view: copy it to keep it). */
  name(off: number): Uint8Array {
    return this.names.subarray(off, this.names.indexOf(0, off));
  }

  /** The bytes of a directory's path with its NUL (for syscalls). */
  pathZ(d: number): Uint8Array {
    const off = this.dirs[d * D + D_PATH]!;
    return this.names.subarray(off, this.names.indexOf(0, off) + 1);
  }

  newDir(path: Uint8Array, parent: number, flags: number): number {
    const d = this.freeDirs.pop() ?? this.dirsLen++;
    this.dirs = grow(this.dirs, this.dirsLen * D);
    const r = this.dirs.subarray(d * D, d * D + D);
    r.fill(0);
    r[D_PATH] = this.addName(path);
    r[D_PARENT] = parent;
    r[D_CHILD] = r[D_NEXT] = NONE;
    r[D_FLAGS] = LIVE | flags;
    r[D_WD] = NONE;
    r[2] = NEW; // never listed: its first scan lists it
    if (parent !== NONE) {
      r[D_NEXT] = this.dirs[parent * D + D_CHILD]!;
      this.dirs[parent * D + D_CHILD] = d;
    }
    this.liveDirs++;
    return d;
  }

  isLive = (d: number): boolean => d < this.dirsLen && (this.dirs[d * D + D_FLAGS]! & LIVE) !== 0;

  /** Child directories of d. */
  *children(d: number): Generator<number> {
    for (let c = this.dirs[d * D + D_CHILD]!; c !== NONE; c = this.dirs[c * D + D_NEXT]!) yield c;
  }

  /** Give d a new run of files: `keep[i]` is the old record index to copy, or -1 for a new name `fresh[i]`. */
  setFiles(d: number, keep: Int32Array | number[], fresh: (Uint8Array | null)[]): void {
    const n = fresh.length;
    const first = this.filesLen;
    this.files = grow(this.files, (first + n) * F);
    const old = this.dirs[d * D + D_COUNT]!;
    for (let i = 0; i < n; i++) {
      const at = (first + i) * F;
      const k = keep[i]!;
      if (k >= 0) this.files.copyWithin(at, k * F, k * F + F);
      else {
        this.files.fill(0, at, at + F);
        this.files[at + 2] = NEW;
        this.files[at + F_NAME] = this.addName(fresh[i]!);
      }
    }
    this.garbage += old * F * 4;
    this.filesLen += n;
    this.liveFiles += n - old;
    this.dirs[d * D + D_FIRST] = first;
    this.dirs[d * D + D_COUNT] = n;
  }

  /** Forget d (not its children: the caller drops those first). */
  freeDir(d: number): void {
    const r = this.dirs.subarray(d * D, d * D + D);
    this.garbage += r[D_COUNT]! * (F * 4 + 16);
    this.liveFiles -= r[D_COUNT]!;
    const p = r[D_PARENT]!;
    if (p !== NONE && this.isLive(p)) {
      // unlink from the parent's child list
      let at = p * D + D_CHILD;
      while (this.dirs[at] !== NONE && this.dirs[at] !== d) at = this.dirs[at]! * D + D_NEXT;
      if (this.dirs[at] === d) this.dirs[at] = r[D_NEXT]!;
    }
    r.fill(0);
    this.liveDirs--;
    this.freeDirs.push(d);
  }

  /** Rebuild the tables without garbage, when it outweighs what is live. */
  maybeCompact(): void {
    if (this.garbage < 1 << 16 || this.garbage < this.filesLen * F * 4 - this.garbage) return;
    let live = 0;
    for (let d = 0; d < this.dirsLen; d++) {
      if (!this.isLive(d)) continue;
      live += this.name(this.dirs[d * D + D_PATH]!).length + 1;
      const first = this.dirs[d * D + D_FIRST]!;
      for (let i = first; i < first + this.dirs[d * D + D_COUNT]!; i++) live += this.name(this.files[i * F + F_NAME]!).length + 1;
    }
    const names = stableBytes(Math.max(1 << 12, Math.ceil(live * 1.25)));
    const files = new Uint32Array(new ArrayBuffer(Math.max(F * 4 * 64, this.liveFiles * F * 4 * 1.25)));
    let nl = 0, fl = 0;
    const copyName = (off: number): number => {
      const b = this.name(off);
      names.set(b, nl);
      names[nl + b.length] = 0;
      nl += b.length + 1;
      return nl - b.length - 1;
    };
    for (let d = 0; d < this.dirsLen; d++) {
      if (!this.isLive(d)) continue;
      const r = this.dirs.subarray(d * D, d * D + D);
      r[D_PATH] = copyName(r[D_PATH]!);
      const first = r[D_FIRST]!, n = r[D_COUNT]!;
      files.set(this.files.subarray(first * F, (first + n) * F), fl * F);
      for (let i = 0; i < n; i++) files[(fl + i) * F + F_NAME] = copyName(files[(fl + i) * F + F_NAME]!);
      r[D_FIRST] = fl;
      fl += n;
    }
    this.names = names;
    this.namesLen = nl;
    this.files = files;
    this.filesLen = fl;
    this.garbage = 0;
  }

  /** Bytes held for the tree (the tables' capacity). */
  get bytes(): number {
    return this.names.byteLength + this.files.byteLength + this.dirs.byteLength;
  }
}
