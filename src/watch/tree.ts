// The watched tree: what counts (ignore rules, include globs), and the scans
// that find what changed. The tables live in tree-index.ts and are scanned
// by scan.c (or scan-fs.ts): an idle scan is one call that stats every
// directory and file and reports nothing, with no JS work per file.
// Directories are listed again only when their stat moved (creating,
// deleting or renaming an entry changes the directory's mtime: rename(2),
// unlink(2)), or when the events engine says an entry came or went.
import { basename, dirname } from "node:path";
import { display, encode } from "../core/bytes.ts";
import { type Change, type ChangeKind } from "./snapshot.ts";
import { type Scanner } from "../native/scan.ts";
import { DIR, FILE, newStatOut, stater } from "../native/statx.ts";
import { Lister, type TreeOptions } from "./tree-list.ts";
import { D, D_COUNT, D_FLAGS, DELETED, DIR_CHANGED, DIR_GONE, F, F_NAME, MODIFIED, NONE, O, REPLACED, SINGLE, CREATED } from "./tree-index.ts";

export type { TreeOptions } from "./tree-list.ts";

const KINDS: Record<number, ChangeKind> = { [CREATED]: "created", [DELETED]: "deleted", [MODIFIED]: "modified", [REPLACED]: "replaced" };
const ROUNDS = 4; // a directory that keeps changing while it is listed waits for the next scan

export class Tree extends Lister {
  private out = new Uint32Array(new ArrayBuffer(O * 4 * 1024));
  private readonly at = new Uint32Array(new ArrayBuffer(4));
  private readonly cur = newStatOut();

  constructor(opts: TreeOptions, scanner: Scanner, log: (msg: string) => void = () => {}) {
    super(opts, scanner, log);
  }

  get fileCount(): number {
    return this.ix.liveFiles;
  }

  get dirCount(): number {
    let n = 0;
    for (let d = 0; d < this.ix.dirsLen; d++) if (this.ix.isLive(d) && !(this.ix.dirs[d * D + D_FLAGS]! & SINGLE)) n++;
    return n;
  }

  /** Roots that are not there (yet). */
  missingRoots(): string[] {
    return this.opts.roots.filter((_, i) => this.rootDir[i] === NONE);
  }

  /** The first walk: records, reports nothing. */
  walk(): void {
    this.addMissingRoots(null);
    this.pass(null, null);
  }

  /** Stat everything; push what changed. Returns when the last change happened (ms, wall clock; 0 = none). */
  scan(out: Change[]): number {
    this.activity = 0;
    this.addMissingRoots(out);
    this.pass(null, out);
    // Listed within a timestamp tick of their last change: list again (tree-list.ts, RACY_MS).
    if (this.racy.size > 0) this.pass(this.relist([...this.racy.keys()], out), out);
    this.ix.maybeCompact();
    return this.activity;
  }

  /** Look for roots that were not there (the events engine cannot watch what does not exist). */
  checkRoots(out: Change[]): number {
    this.activity = 0;
    if (this.missingRoots().length > 0) {
      const before = this.ix.dirsLen;
      this.addMissingRoots(out);
      if (this.ix.dirsLen !== before) this.pass(null, out);
    }
    return this.activity;
  }

  /** Look again at these directories only (the events engine): stat their files; list those in `relist` first. */
  check(dirs: Iterable<number>, relist: Iterable<number>, out: Change[]): number {
    this.activity = 0;
    const todo = new Set<number>();
    for (const d of dirs) if (this.ix.isLive(d)) todo.add(d);
    for (const d of this.relist([...relist], out)) todo.add(d);
    if (todo.size > 0) this.pass(Uint32Array.from(todo), out);
    this.ix.maybeCompact();
    return this.activity;
  }

  /** One scan of `list` (every directory when null); directories whose stat moved are listed and scanned again. */
  private pass(list: Uint32Array | null, out: Change[] | null): void {
    for (let round = 0; round < ROUNDS && (list === null || list.length > 0); round++) {
      const count = list ? list.length : this.ix.dirsLen;
      const changed: number[] = [];
      this.at[0] = 0;
      while (this.at[0]! < count) {
        const n = this.scanner.scan(this.ix, list, count, this.out, this.at);
        if (n === 0 && this.at[0]! < count) this.growOut();
        this.take(n, out, changed);
      }
      list = this.relist(changed, out);
    }
  }

  /** Make room for the largest directory's files (scan stops before a directory that might not fit). */
  private growOut(): void {
    let most = 0;
    for (let d = 0; d < this.ix.dirsLen; d++) most = Math.max(most, this.ix.dirs[d * D + D_COUNT]!);
    this.out = new Uint32Array(new ArrayBuffer(O * 4 * Math.max(this.out.length / O * 2, most + 2)));
  }

  /** Read the out records of one scan call. */
  private take(n: number, out: Change[] | null, changed: number[]): void {
    const { ix } = this;
    const gitignores = new Set<number>();
    for (let k = 0; k < n; k++) {
      const o = this.out.subarray(k * O, k * O + O);
      const kind = o[0]!, d = o[1]!;
      if (!ix.isLive(d)) continue; // dropped with its parent earlier in this batch
      if (kind === DIR_CHANGED) changed.push(d);
      else if (kind === DIR_GONE) this.gone(d, o[3]!, out);
      else if (out) {
        const name = ix.name(ix.files[o[2]! * F + F_NAME]!);
        out.push({ path: display(this.abs(d, name)), kind: KINDS[kind]! });
        this.touched(kind === DELETED ? Date.now() : (o[3]! + o[4]! * 2 ** 32) * 1000 + o[5]! / 1e6);
        if (name.length === 10 && display(name) === ".gitignore" && !(ix.dirs[d * D + D_FLAGS]! & SINGLE)) gitignores.add(d);
      }
    }
    if (out) for (const d of gitignores) if (ix.isLive(d)) changed.push(...this.reloadRules(d, out));
  }

  /** List these directories again; returns the live ones (now to be stat'ed). */
  private relist(dirs: number[], out: Change[] | null): Uint32Array {
    const todo = new Set<number>();
    for (const d of dirs) if (this.ix.isLive(d)) for (const t of this.list(d, out)) todo.add(t);
    return Uint32Array.from([...todo].filter(this.ix.isLive));
  }

  private addMissingRoots(out: Change[] | null): void {
    this.opts.roots.forEach((root, i) => {
      if (this.rootDir[i] !== NONE && this.ix.isLive(this.rootDir[i]!)) return;
      this.rootDir[i] = NONE;
      stater().stat(root, this.cur);
      if (this.cur.kind === DIR) {
        this.rootDir[i] = this.addDir(encode(root), NONE, "", out);
        if (out) this.touched(Date.now());
      } else if (this.cur.kind === FILE) {
        this.rootDir[i] = this.addSingle(encode(dirname(root)), encode(basename(root)));
        if (out) out.push({ path: root, kind: "created" }), this.touched(Date.now());
        this.pass(Uint32Array.of(this.rootDir[i]!), null);
      }
    });
  }
}
