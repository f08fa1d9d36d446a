// Where one poll's time goes, per file, next to the floor: a C loop that
// does only the kernel's work (bench/fixtures/stat-floor.c). Every method
// runs over the same tree in interleaved rounds and the best round counts:
// other load on the machine only ever adds.
import { cc, dlopen } from "bun:ffi";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fsScanner } from "../src/watch/scan-fs.ts";
import { nativeScanner } from "../src/native/scan.ts";
import { encodePath, newStatOut, stableBytes, stater } from "../src/native/statx.ts";
import { O } from "../src/watch/tree-index.ts";
import { Tree } from "../src/watch/tree.ts";

const SOURCE = join(import.meta.dir, "fixtures/stat-floor.c");
const SYMBOLS = {
  floor_scan: { args: ["ptr", "u32", "ptr", "ptr"], returns: "i32" },
  floor_getppid: { args: ["u32"], returns: "i32" },
} as const;

function buildFloor(): { lib: { symbols: { floor_scan: (...a: unknown[]) => number; floor_getppid: (n: number) => number } }; how: string; cleanup: () => void } {
  const tmp = mkdtempSync(join(tmpdir(), "sup-floor-"));
  const so = join(tmp, "floor.so");
  const gcc = Bun.spawnSync(["gcc", "-O2", "-shared", "-fPIC", "-o", so, SOURCE], { stderr: "pipe" });
  const cleanup = () => rmSync(tmp, { recursive: true, force: true });
  if (gcc.exitCode === 0) return { lib: dlopen(so, SYMBOLS) as never, how: "gcc -O2", cleanup };
  return { lib: cc({ source: SOURCE, symbols: SYMBOLS }) as never, how: "TinyCC (no gcc here)", cleanup };
}

export function floorProbe(dir: string, rounds = 9) {
  const native = nativeScanner();
  if (!native) throw new Error("the native scanner does not build here");
  const tree = new Tree({ roots: [dir], ignore: [], include: [] }, native);
  tree.walk();
  const fsTree = new Tree({ roots: [dir], ignore: [], include: [] }, fsScanner);
  fsTree.walk();
  // The same files as flat lists for the other methods.
  const dirs: string[] = [];
  const names: string[] = [];
  const counts: number[] = [];
  const files: string[] = [];
  const walk = (d: string) => {
    const entries = readdirSync(d, { withFileTypes: true });
    const here = entries.filter((e) => e.isFile()).map((e) => e.name);
    dirs.push(d);
    counts.push(here.length);
    names.push(...here);
    files.push(...here.map((n) => join(d, n)));
    for (const e of entries) if (e.isDirectory()) walk(join(d, e.name));
  };
  walk(dir);
  const packed = (xs: string[]) => Buffer.from(xs.join("\0") + "\0");
  const dirBuf = packed(dirs), nameBuf = packed(names), countBuf = new Uint32Array(new ArrayBuffer(counts.length * 4));
  countBuf.set(counts);
  const enc = files.map(encodePath);
  const paths = stableBytes(enc.reduce((a, b) => a + b.length, 0));
  const offs: number[] = [];
  enc.reduce((o, b) => (paths.set(b, o), offs.push(o), o + b.length), 0);
  const st = stater(), addr = st.address(paths), so = newStatOut();
  const out = new Uint32Array(new ArrayBuffer(O * 4 * 4096)), at = new Uint32Array(new ArrayBuffer(4));
  const floor = buildFloor();
  const none: never[] = [];
  const methods: Record<string, () => void> = {
    "C floor: open+fstat per dir, fstatat per file": () => void floor.lib.symbols.floor_scan(dirBuf, dirs.length, nameBuf, countBuf),
    "sup: scan.c call alone": () => {
      for (at[0] = 0; at[0]! < tree.ix.dirsLen; ) native.scan(tree.ix, null, tree.ix.dirsLen, out, at);
    },
    "sup: Tree.scan (native scanner, whole poll)": () => void tree.scan(none),
    "sup: Tree.scan (node:fs scanner, the fallback)": () => void fsTree.scan(none),
    "before: one bun:ffi statx call per file (statx.ts)": () => offs.forEach((o) => st.statAt(paths, addr, o, so)),
    "fs.statSync bigint per file": () => files.forEach((f) => statSync(f, { bigint: true })),
    "C getppid per file (syscall entry alone)": () => void floor.lib.symbols.floor_getppid(files.length),
  };
  const cpu = () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  const best: Record<string, number> = {};
  try {
    for (let round = 0; round < rounds; round++) {
      for (const [name, fn] of Object.entries(methods)) {
        const reps = files.length >= 50_000 ? 1 : 5;
        const c0 = cpu();
        for (let r = 0; r < reps; r++) fn();
        best[name] = Math.min(best[name] ?? Infinity, (cpu() - c0) / reps / files.length);
      }
    }
  } finally {
    floor.cleanup();
  }
  return { perFile: best, rounds, floorBuild: floor.how, indexBytes: tree.ix.bytes, indexBytesPerFile: tree.ix.bytes / tree.fileCount };
}

if (import.meta.main) {
  const r = floorProbe(process.argv[2]!);
  for (const [k, v] of Object.entries(r.perFile)) console.log(`${k.padEnd(52)} ${v.toFixed(3)}`);
  console.log(`index ${r.indexBytesPerFile.toFixed(0)} bytes per file`);
}
