// stat(2) of a few paths (touch files, git's lock files, watch roots):
// statx(2) through bun:ffi into one reused 256-byte buffer, no object per
// call. The tree itself is scanned in C (scan.c), a batch per call; one
// foreign call per file, as here, costs ~20 % more (BENCHMARKS.md).
//
// statx's layout is the same on every architecture (linux/stat.h), unlike
// struct stat. Where libc or statx is missing (macOS, old musl), the fallback
// is fs.statSync with bigint times.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { statSync } from "node:fs";
import type { FileStat } from "../watch/snapshot.ts";

export const MISSING = 0;
export const FILE = 1;
export const DIR = 2;
export const OTHER = 3;
export type Kind = typeof MISSING | typeof FILE | typeof DIR | typeof OTHER;

/** A reusable result: FileStat plus the file type and ctime, which (unlike mtime) no one can set back: it tells when a change happened. */
export interface StatOut extends FileStat {
  kind: Kind;
  ctimeMs: number;
}

export const newStatOut = (): StatOut => ({ kind: MISSING, mtimeSec: 0, mtimeNsec: 0, size: 0, ino: 0, ctimeMs: 0 });

export interface Stater {
  /** stat (following symlinks) the NUL-terminated path at byte `off` of `buf`; `addr` is ptr(buf) from `address`, and the caller keeps `buf` referenced. */
  statAt(buf: Uint8Array, addr: number, off: number, out: StatOut): void;
  /** The address to pass to statAt for `buf` (from stableBytes or encodePath; 0 where unused). */
  address(buf: Uint8Array): number;
  /** Convenience for a few paths (touch files, .git state). */
  stat(path: string, out: StatOut): void;
}

const S_IFMT = 0o170000, S_IFREG = 0o100000, S_IFDIR = 0o040000;
const kindOf = (mode: number): Kind => ((mode & S_IFMT) === S_IFREG ? FILE : (mode & S_IFMT) === S_IFDIR ? DIR : OTHER);
const AT_FDCWD = -100;
const STATX_WANTED = 0x1 | 0x2 | 0x100 | 0x200 | 0x40 | 0x80; // TYPE MODE INO SIZE MTIME CTIME
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Bytes whose address stays put: bun:ffi's ptr() of a small typed array can
 * go stale when the engine moves its storage (seen here: statx wrote to the old
 * place and the heap broke); memory of an explicit ArrayBuffer never moves. */
export const stableBytes = (n: number): Uint8Array => new Uint8Array(new ArrayBuffer(n));

/** A path as a NUL-terminated UTF-8 buffer, in stable memory. */
export function encodePath(path: string): Uint8Array {
  const bytes = encoder.encode(path + "\0");
  const out = stableBytes(bytes.length);
  out.set(bytes);
  return out;
}

function fsStater(): Stater {
  const stat = (path: string, out: StatOut) => {
    const st = statSync(path, { bigint: true, throwIfNoEntry: false });
    if (!st) {
      out.kind = MISSING;
      return;
    }
    out.kind = kindOf(Number(st.mode));
    out.mtimeSec = Number(st.mtimeNs / 1_000_000_000n);
    out.mtimeNsec = Number(st.mtimeNs % 1_000_000_000n);
    out.size = Number(st.size);
    out.ino = Number(st.ino);
    out.ctimeMs = Number(st.ctimeNs / 1_000_000n);
  };
  return {
    stat,
    address: () => 0,
    statAt(buf, _addr, off, out) {
      stat(decoder.decode(buf.subarray(off, buf.indexOf(0, off))), out);
    },
  };
}

let libc: unknown;

function ffiStater(): Stater | null {
  if (process.platform !== "linux") return null;
  for (const name of ["libc.so.6", "libc.so"]) {
    let lib;
    try {
      lib = dlopen(name, {
        statx: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.u32, FFIType.ptr], returns: FFIType.i32 },
      });
    } catch {
      continue;
    }
    libc = lib; // the symbols' trampolines are freed with the library object: keep it alive
    const statx = lib.symbols.statx;
    const buf = new Uint32Array(new ArrayBuffer(256)); // struct statx; an explicit ArrayBuffer never moves (a small typed array's storage can)
    const bufAddr = ptr(buf);
    // `path` is an address (a buffer the caller keeps alive: ptr() does not
    // keep its array from being collected) or a Uint8Array, which Bun pins
    // for the call.
    const statPtr = (path: number | Uint8Array, out: StatOut) => {
      if (statx(AT_FDCWD, path, 0, STATX_WANTED, bufAddr) !== 0) {
        out.kind = MISSING; // ENOENT, ENOTDIR, EACCES: gone as far as a reload is concerned
        return;
      }
      out.kind = kindOf(buf[7]! & 0xffff); // stx_mode at byte 28
      out.ino = buf[8]! + buf[9]! * 0x1_0000_0000; // stx_ino at 32
      out.size = buf[10]! + buf[11]! * 0x1_0000_0000; // stx_size at 40
      out.mtimeSec = buf[28]! + (buf[29]! | 0) * 0x1_0000_0000; // stx_mtime.tv_sec (s64) at 112
      out.mtimeNsec = buf[30]!; // stx_mtime.tv_nsec at 120
      out.ctimeMs = (buf[24]! + (buf[25]! | 0) * 0x1_0000_0000) * 1000 + buf[26]! / 1e6; // stx_ctime at 96
    };
    const out = newStatOut();
    try {
      statPtr(encodePath("/"), out); // ENOSYS on kernels before 4.11, or a seccomp filter
    } catch {
      return null;
    }
    if (out.kind !== DIR) return null;
    return {
      statAt: (_buf, addr, off, o) => statPtr(addr + off, o),
      address: (b) => (b.length === 0 ? 0 : ptr(b)),
      stat: (path, o) => statPtr(encodePath(path), o),
    };
  }
  return null;
}

let chosen: Stater | null = null;

/** The cheapest correct stat on this platform (ffi statx, else node:fs). */
export function stater(): Stater {
  chosen ??= ffiStater() ?? fsStater();
  return chosen;
}

/** The node:fs stat, for tests and platforms without statx. */
export const fallbackStater = fsStater;
