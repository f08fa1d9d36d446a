// Listing directories into the tree index: which entries count (default
// ignores, .gitignore chain, --autoreload-ignore, --autoreload-include), new
// and vanished subdirectories, and the files a listing found gone. The scans
// themselves are in tree.ts.
import { readConfigText } from "../config/read.ts";
import { basename, dirname } from "node:path";
import { byteKey, display, joinBytes, lossy } from "../core/bytes.ts";
import { DEFAULT_IGNORES, includeFilter, isIgnored, parseRules, type Rule } from "./ignore.ts";
import { TOO_SMALL, type Scanner } from "../native/scan.ts";
import type { Change } from "./snapshot.ts";
import { D, D_COUNT, D_FIRST, D_FLAGS, D_PARENT, D_PATH, F, F_NAME, GITIGNORE, MISSING, NEW, NONE, SINGLE, TreeIndex } from "./tree-index.ts";
import { strerror } from "../native/libc.ts";

export interface TreeOptions {
  roots: string[]; // absolute
  ignore: string[]; // user globs, on top of the defaults and .gitignore
  include: string[];
  skip?: string[]; // absolute paths left out whatever the rules say (files sup writes)
}

// A directory changed less than this long before it was listed may change
// again within the same timestamp tick (1 s on some filesystems, 2 s on FAT)
// without its mtime moving; such a directory is listed on every scan until
// it is older (git's "racy git" problem, Documentation/technical/racy-git.txt).
export const RACY_MS = 2000;
const DEFAULT_RULES = parseRules(DEFAULT_IGNORES.join("\n"));
const GITIGNORE_NAME = ".gitignore";
const ENOENT = 2, ENOTDIR = 20;

export class Lister {
  readonly ix = new TreeIndex();
  /** ".git" entries met while listing (dirs, or files that point to one). */
  readonly gitEntries = new Set<string>();
  /** Called for each directory added to or dropped from the tree (the events engine watches them). */
  onDir: { added(d: number): void; removed(d: number): void } | null = null;
  protected readonly rootDir: number[];
  protected readonly racy = new Map<number, number>(); // dir → when it was listed
  protected activity = 0;
  private readonly rules: (Rule[] | undefined)[] = [];
  private readonly rels: (string | undefined)[] = []; // relative to its watch root, for ignore rules
  private readonly user: Rule[];
  private readonly include: (rel: string) => boolean;
  private buf = new Uint8Array(1 << 16);
  private readonly hdr = new Uint32Array(new ArrayBuffer(7 * 4));
  private readonly complained = new Set<string>();
  private readonly skip: Set<string>;

  constructor(protected readonly opts: TreeOptions, protected readonly scanner: Scanner, protected readonly log: (msg: string) => void) {
    this.user = parseRules(opts.ignore.join("\n"));
    this.include = includeFilter(opts.include);
    this.rootDir = opts.roots.map(() => NONE);
    this.skip = new Set(opts.skip);
  }

  /** Would an entry of d with this name (from inotify) be left out of the tree? */
  ignores(d: number, name: Uint8Array, isDir: boolean): boolean {
    const rules = this.rules[d];
    if (!rules) {
      // a watched file's directory: only that name counts
      const i = this.ix.dirs[d * D + D_FIRST]!;
      return byteKey(this.ix.name(this.ix.files[i * F + F_NAME]!)) !== byteKey(name);
    }
    const text = lossy(name);
    const rel = this.rels[d] === "" ? text : `${this.rels[d]}/${text}`;
    return isIgnored(rules, this.user, rel, isDir) || (!isDir && text !== GITIGNORE_NAME && !this.include(rel));
  }

  /** A directory's absolute path joined with a name, as bytes. */
  protected abs(d: number, name: Uint8Array): Uint8Array {
    return joinBytes(this.ix.name(this.ix.dirs[d * D + D_PATH]!), name);
  }

  protected touched(ms: number): void {
    this.activity = Math.max(this.activity, Math.min(ms, Date.now()));
  }

  /** A new directory, listed (with its subtree); returns its index. */
  protected addDir(path: Uint8Array, parent: number, rel: string, out: Change[] | null): number {
    const d = this.ix.newDir(path, parent, 0);
    this.rels[d] = rel;
    this.readRules(d);
    this.onDir?.added(d);
    this.list(d, out);
    return d;
  }

  /** A watched path that is a file (--autoreload-watch app.py): a directory entry with one name, never listed. */
  protected addSingle(dir: Uint8Array, name: Uint8Array): number {
    const d = this.ix.newDir(dir, NONE, SINGLE);
    this.ix.setFiles(d, [-1], [name]);
    this.onDir?.added(d);
    return d;
  }

  /** List d again; returns d and the directories added under it (their files are to be stat'ed). */
  protected list(d: number, out: Change[] | null): number[] {
    const { ix } = this;
    const path = ix.pathZ(d).slice();
    let n: number;
    while ((n = this.scanner.list(path, this.buf, this.hdr)) === TOO_SMALL) this.buf = new Uint8Array(this.buf.length * 2);
    if (n < 0) {
      this.gone(d, -n, out);
      return [];
    }
    ix.dirs.set(this.hdr, d * D);
    const mtimeMs = (this.hdr[0]! + this.hdr[1]! * 2 ** 32) * 1000 + this.hdr[2]! / 1e6;
    const now = Date.now();
    if (now - mtimeMs < RACY_MS) this.racy.set(d, now);
    else this.racy.delete(d);
    if (out) this.touched(mtimeMs); // entries were created, removed or renamed at about this time

    const entries = this.buf.slice(0, n); // the subtree's listings reuse this.buf
    const oldFiles = new Map<string, number>();
    const first = ix.dirs[d * D + D_FIRST]!;
    for (let i = first; i < first + ix.dirs[d * D + D_COUNT]!; i++) oldFiles.set(byteKey(ix.name(ix.files[i * F + F_NAME]!)), i);
    const oldDirs = new Map<string, number>();
    for (const c of ix.children(d)) oldDirs.set(byteKey(this.baseName(c)), c);

    const keep: number[] = [];
    const fresh: (Uint8Array | null)[] = []; // views of `entries`, which nothing else writes
    const relisted = oldFiles.size + oldDirs.size > 0; // the first listing needs no map keys
    const skipHere = this.skipped(d);
    const added: number[] = [d];
    const rel0 = this.rels[d]!;
    let gitignoreListed = false;
    for (let at = 0; at < n; ) {
      const type = entries[at]!;
      const end = entries.indexOf(0, at + 1);
      const name = entries.subarray(at + 1, end);
      at = end + 1;
      const text = lossy(name);
      const rel = rel0 === "" ? text : `${rel0}/${text}`;
      const isDir = type === 100; // 'd'
      if (text === ".git") this.gitEntries.add(display(this.abs(d, name)));
      if (isIgnored(this.rules[d]!, this.user, rel, isDir)) continue;
      const key = relisted ? byteKey(name) : "";
      if (isDir) {
        if (oldDirs.delete(key)) continue;
        const c = this.addDir(this.abs(d, name), d, rel, out);
        added.push(c, ...this.subtree(c));
        continue;
      }
      if (text === GITIGNORE_NAME) gitignoreListed = true;
      if (!this.include(rel) || skipHere?.has(text)) continue;
      const old = oldFiles.get(key);
      oldFiles.delete(key);
      keep.push(old ?? -1);
      fresh.push(old === undefined ? name : null);
    }
    for (const i of oldFiles.values()) this.lost(d, i, out);
    for (const c of oldDirs.values()) this.drop(c, out);
    ix.setFiles(d, keep, fresh);
    // A .gitignore that appeared or went away changes what this subtree holds.
    if (out && gitignoreListed !== ((ix.dirs[d * D + D_FLAGS]! & GITIGNORE) !== 0)) return [...added, ...this.reloadRules(d, out)];
    return added;
  }

  /** A directory that cannot be opened or listed: gone (ENOENT, ENOTDIR), or unreadable (said once). */
  protected gone(d: number, errno: number, out: Change[] | null): void {
    if (errno !== ENOENT && errno !== ENOTDIR) {
      const path = display(this.ix.name(this.ix.dirs[d * D + D_PATH]!));
      if (!this.complained.has(path)) this.log(`autoreload: cannot read ${path} (${strerror(errno)}); not watching it`);
      this.complained.add(path);
    }
    this.drop(d, out);
  }

  /** A directory went away (or became ignored): its files are deleted. */
  protected drop(d: number, out: Change[] | null): void {
    const { ix } = this;
    for (const c of [...ix.children(d)]) this.drop(c, out);
    const first = ix.dirs[d * D + D_FIRST]!;
    for (let i = first; i < first + ix.dirs[d * D + D_COUNT]!; i++) this.lost(d, i, out);
    this.onDir?.removed(d);
    this.racy.delete(d);
    this.rules[d] = this.rels[d] = undefined;
    ix.freeDir(d);
  }

  /** This directory's .gitignore changed: recompute the rules of the subtree and list it again; returns what to stat. */
  protected reloadRules(d: number, out: Change[]): number[] {
    this.readRules(d);
    const todo = this.list(d, out);
    for (const c of [...this.ix.children(d)]) if (!todo.includes(c)) todo.push(...this.reloadRules(c, out));
    return todo;
  }

  /** Names in d that are files sup writes (opts.skip), or null. */
  private skipped(d: number): Set<string> | null {
    if (this.skip.size === 0) return null;
    const dir = display(this.ix.name(this.ix.dirs[d * D + D_PATH]!));
    const names = [...this.skip].filter((p) => dirname(p) === dir).map((p) => basename(p));
    return names.length > 0 ? new Set(names) : null;
  }

  private subtree(d: number): number[] {
    const all: number[] = [];
    for (const c of this.ix.children(d)) all.push(c, ...this.subtree(c));
    return all;
  }

  private baseName(d: number): Uint8Array {
    const p = this.ix.name(this.ix.dirs[d * D + D_PATH]!);
    return p.subarray(p.lastIndexOf(0x2f) + 1);
  }

  /** File record i of d is gone from the listing: deleted, if it was there. */
  private lost(d: number, i: number, out: Change[] | null): void {
    const nsec = this.ix.files[i * F + 2]!;
    if (!out || nsec === NEW || nsec === MISSING) return;
    out.push({ path: display(this.abs(d, this.ix.name(this.ix.files[i * F + F_NAME]!))), kind: "deleted" });
    this.touched(Date.now());
  }

  private readRules(d: number): void {
    const parent = this.ix.dirs[d * D + D_PARENT]!;
    const inherited = parent === NONE ? DEFAULT_RULES : this.rules[parent]!;
    let text: string | null = null;
    try {
      // Through the config reader: a FIFO named .gitignore would block the master's loop in open(2).
      const path = Buffer.from(this.abs(d, Buffer.from(GITIGNORE_NAME)));
      text = readConfigText(path, display(path));
    } catch {
      // none, unreadable, or not a regular file: nothing to add
    }
    this.ix.dirs[d * D + D_FLAGS] = (this.ix.dirs[d * D + D_FLAGS]! & ~GITIGNORE) | (text === null ? 0 : GITIGNORE);
    this.rules[d] = text === null ? inherited : inherited.concat(parseRules(text, this.rels[d]));
  }
}
