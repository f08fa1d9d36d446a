// The scanner behind the poller: scan.c compiled at run time by TinyCC
// (bun:ffi cc), so a poll is one foreign call per batch of directories and
// a file costs one statx(2) relative to its directory's fd. Where it cannot
// be built (no TinyCC in this Bun, another architecture, a read-only
// TMPDIR), scan-fs.ts does the same with node:fs, 4-5x slower. Built with
// compileC (cc.ts).
import { compileOnce } from "./cc.ts";
import source from "./scan.c" with { type: "text" };
import { O, type TreeIndex } from "../watch/tree-index.ts";

export interface Scanner {
  readonly name: string;
  /** Scan dirs list[at[0]..count) (every dir at[0]..count when list is null) into out; at[0] is where to go on. Returns the out records written. */
  scan(ix: TreeIndex, list: Uint32Array | null, count: number, out: Uint32Array, at: Uint32Array): number;
  /** List the directory at `path` (NUL-terminated bytes) into out (type, name, NUL records), its stat into hdr. Bytes written, -errno, or TOO_SMALL. */
  list(path: Uint8Array, out: Uint8Array, hdr: Uint32Array): number;
}

export const TOO_SMALL = -100000;

const build = compileOnce("scan.c", source, {
  sup_scan: { args: ["ptr", "ptr", "ptr", "ptr", "u32", "ptr", "u32", "ptr"], returns: "i32" },
  sup_list: { args: ["ptr", "ptr", "u32", "ptr"], returns: "i32" },
});

/** The native scanner, or null (then `nativeFailure()` says why). */
export function nativeScanner(): Scanner | null {
  const lib = build();
  if (typeof lib === "string") return null;
  const { sup_scan, sup_list } = lib;
  return {
    name: "native",
    // Typed arrays are passed as such: Bun takes their address at the call,
    // so a table that grew (a new ArrayBuffer) is never read at an old one.
    scan: (ix, list, count, out, at) => sup_scan(ix.dirs, ix.files, ix.names, list, count, out, out.length / O, at),
    list: (path, out, hdr) => sup_list(path, out, out.length, hdr),
  };
}

export const nativeFailure = () => {
  const lib = build();
  return typeof lib === "string" ? lib : "";
};
