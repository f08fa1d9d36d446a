// The poller's memory of the watched tree, so that a scan costs one stat per
// file and per directory and nothing else: directories are listed again only
// when their mtime changed (creating, deleting or renaming an entry changes
// it: rename(2), unlink(2)), files are stat'ed through paths encoded once per
// listing. Per file: its name, its encoded path, 32 bytes of stat.
import { readdirSync, readFileSync, type Dirent } from "node:fs";
import { basename, dirname, join } from "node:path";
import { DEFAULT_IGNORES, includeFilter, isIgnored, parseRules, type Rule } from "./ignore.ts";
import { compareStat, type Change, type FileStat } from "./snapshot.ts";
import { DIR, encodePath, FILE, newStatOut, stableBytes, type Stater } from "./statx.ts";

// A directory changed less than this long before it was listed may change
// again within the same timestamp tick (1 s on some filesystems, 2 s on FAT)
// without its mtime moving; such a directory is listed on every scan until
// it is older (git's "racy git" problem, Documentation/technical/racy-git.txt).
const RACY_MS = 2000;

interface Dir {
  readonly key: string; // abs, or the file's path for a watched file
  readonly abs: string;
  readonly rel: string; // relative to its watch root, for ignore rules
  readonly parent: Dir | null;
  readonly self: Uint8Array; // abs, encoded
  readonly selfAddr: number;
  mtimeMs: number; // of the directory at its last listing; NaN = never listed
  ino: number;
  listedAt: number;
  names: string[]; // files that count, in listing order
  paths: Uint8Array; // their absolute paths, NUL-terminated, back to back
  pathsAddr: number;
  offsets: Uint32Array;
  stats: Float64Array; // 4 per file: mtimeSec, mtimeNsec, size, ino; NaN = missing
  subdirs: Map<string, Dir>;
  rules: Rule[]; // defaults, then the .gitignore files from the root down to here
  hasGitignore: boolean;
  readonly single?: string; // a watched path that is a file: the only name, never listed
}

export interface TreeOptions {
  roots: string[]; // absolute
  ignore: string[]; // user globs, on top of the defaults and .gitignore
  include: string[];
}

const DEFAULT_RULES = parseRules(DEFAULT_IGNORES.join("\n"));
const encoder = new TextEncoder();

export class Tree {
  readonly dirs = new Map<string, Dir>();
  /** ".git" entries met while listing (dirs, or files that point to one). */
  readonly gitEntries = new Set<string>();
  private readonly user: Rule[];
  private readonly include: (rel: string) => boolean;
  private readonly cur = newStatOut();
  private readonly prev: FileStat = { mtimeSec: 0, mtimeNsec: 0, size: 0, ino: 0 };
  private activity = 0;

  constructor(private readonly opts: TreeOptions, private readonly st: Stater) {
    this.user = parseRules(opts.ignore.join("\n"));
    this.include = includeFilter(opts.include);
  }

  get fileCount(): number {
    let n = 0;
    for (const d of this.dirs.values()) n += d.names.length;
    return n;
  }

  /** Roots that are not there (yet). */
  missingRoots(): string[] {
    return this.opts.roots.filter((r) => !this.dirs.has(r));
  }

  /** The first walk: records, reports nothing. */
  walk(): void {
    this.addMissingRoots(null);
  }

  /** Stat everything; push what changed. Returns when the last change happened (ms, wall clock; 0 = none). */
  scan(out: Change[]): number {
    this.activity = 0;
    this.addMissingRoots(out);
    for (const d of this.dirs.values()) this.refresh(d, out);
    return this.activity;
  }

  /** Look again at the directories holding these paths (from fs.watch); ignored paths cost nothing. */
  check(paths: Iterable<string>, out: Change[]): number {
    this.activity = 0;
    const todo = new Set<Dir>();
    for (const p of paths) {
      let at = p;
      let child = "";
      while (!this.dirs.has(at) && dirname(at) !== at) {
        child = at;
        at = dirname(at);
      }
      const d = this.dirs.get(at);
      if (!d) continue;
      if (child !== "") {
        const rel = d.rel === "" ? basename(child) : `${d.rel}/${basename(child)}`;
        const isDir = child !== p || (this.st.stat(child, this.cur), this.cur.kind === DIR);
        if (isIgnored(d.rules, this.user, rel, isDir)) continue;
      }
      todo.add(d);
    }
    for (const d of todo) if (this.dirs.has(d.key)) this.refresh(d, out);
    return this.activity;
  }

  private addMissingRoots(out: Change[] | null): void {
    for (const root of this.opts.roots) {
      if (this.dirs.has(root)) continue;
      this.st.stat(root, this.cur);
      if (this.cur.kind === DIR) this.addDir(root, "", null, out);
      else if (this.cur.kind === FILE) this.addSingle(root, out);
    }
  }

  /** A directory's stat moved (or is racy): list it again. Then stat its files. */
  private refresh(d: Dir, out: Change[]): void {
    if (d.single === undefined) {
      this.st.statAt(d.self, d.selfAddr, 0, this.cur);
      if (this.cur.kind !== DIR) {
        this.drop(d, out);
        this.touched(Date.now());
        return;
      }
      const mtimeMs = this.cur.mtimeSec * 1000 + this.cur.mtimeNsec / 1e6;
      if (mtimeMs !== d.mtimeMs || this.cur.ino !== d.ino || d.listedAt - d.mtimeMs < RACY_MS) this.list(d, out);
    }
    this.statFiles(d, out);
  }

  private newDir(key: string, abs: string, rel: string, parent: Dir | null, single?: string): Dir {
    const self = encodePath(abs);
    const d: Dir = {
      key, abs, rel, parent, self, selfAddr: this.st.address(self), mtimeMs: NaN, ino: 0, listedAt: 0,
      names: [], paths: new Uint8Array(0), pathsAddr: 0, offsets: new Uint32Array(0), stats: new Float64Array(0),
      subdirs: new Map(), rules: parent ? parent.rules : DEFAULT_RULES, hasGitignore: false, single,
    };
    this.dirs.set(key, d);
    return d;
  }

  private addDir(abs: string, rel: string, parent: Dir | null, out: Change[] | null): void {
    const d = this.newDir(abs, abs, rel, parent);
    this.readRules(d);
    this.list(d, out);
    this.statFiles(d, out);
  }

  /** A watched path that is a file (--autoreload-watch app.py): a directory entry with one name. */
  private addSingle(abs: string, out: Change[] | null): void {
    const d = this.newDir(abs, dirname(abs), "", null, basename(abs));
    this.setNames(d, [basename(abs)], new Map());
    this.statFiles(d, out);
  }

  private list(d: Dir, out: Change[] | null): void {
    this.st.statAt(d.self, d.selfAddr, 0, this.cur);
    d.mtimeMs = this.cur.mtimeSec * 1000 + this.cur.mtimeNsec / 1e6;
    d.ino = this.cur.ino;
    d.listedAt = Date.now();
    if (out) this.touched(d.mtimeMs); // entries were created, removed or renamed at about this time
    let entries: Dirent[] = [];
    try {
      entries = readdirSync(d.abs, { withFileTypes: true });
    } catch {
      // gone or unreadable: the next refresh drops it
    }
    const names: string[] = [];
    const seenDirs = new Set<string>();
    let gitignoreListed = false;
    for (const e of entries) {
      const rel = d.rel === "" ? e.name : `${d.rel}/${e.name}`;
      if (e.name === ".git") this.gitEntries.add(join(d.abs, e.name));
      const isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        // Follow links to files; never enter linked directories (a link to an ancestor would loop).
        this.st.stat(join(d.abs, e.name), this.cur);
        isFile = this.cur.kind === FILE;
      }
      if ((!isDir && !isFile) || isIgnored(d.rules, this.user, rel, isDir)) continue;
      if (isDir) {
        seenDirs.add(e.name);
        if (!d.subdirs.has(e.name)) this.addDirChild(d, e.name, rel, out);
        continue;
      }
      if (e.name === ".gitignore") gitignoreListed = true;
      if (this.include(rel)) names.push(e.name);
    }
    for (const [name, child] of d.subdirs) if (!seenDirs.has(name)) this.drop(child, out);
    const old = new Map(d.names.map((n, i) => [n, i]));
    const stats = d.stats;
    this.setNames(d, names, old, stats);
    for (const [name, i] of old) if (!Number.isNaN(stats[i * 4]!)) out?.push({ path: join(d.abs, name), kind: "deleted" });
    // A .gitignore that appeared or went away changes what this subtree holds.
    if (out && gitignoreListed !== d.hasGitignore) this.reloadRules(d, out);
  }

  private addDirChild(d: Dir, name: string, rel: string, out: Change[] | null): void {
    const abs = join(d.abs, name);
    this.addDir(abs, rel, d, out);
    const child = this.dirs.get(abs);
    if (child) d.subdirs.set(name, child);
  }

  /** Install a new file list; names kept from `old` keep their stats (and are removed from `old`), new ones are NaN (stat'ed next). */
  private setNames(d: Dir, names: string[], old: Map<string, number>, oldStats = d.stats): void {
    // One encode of all paths joined by NUL (a name cannot hold one), copied into stable memory.
    const prefix = d.abs.endsWith("/") ? d.abs : d.abs + "/";
    const bytes = encoder.encode(names.map((n) => prefix + n).join("\0") + "\0");
    const paths = stableBytes(names.length === 0 ? 0 : bytes.length);
    paths.set(names.length === 0 ? [] : bytes);
    const offsets = new Uint32Array(names.length);
    for (let i = 1, at = 0; i < names.length; i++) offsets[i] = at = paths.indexOf(0, at) + 1;
    const stats = new Float64Array(names.length * 4).fill(NaN);
    names.forEach((n, i) => {
      const j = old.get(n);
      if (j === undefined) return;
      stats.set(oldStats.subarray(j * 4, j * 4 + 4), i * 4);
      old.delete(n);
    });
    Object.assign(d, { names, paths, pathsAddr: this.st.address(paths), offsets, stats }); // d keeps `paths` alive for its address
  }

  private statFiles(d: Dir, out: Change[] | null): void {
    const { cur, prev } = this;
    const s = d.stats;
    let rulesChanged = false;
    for (let i = 0; i < d.names.length; i++) {
      this.st.statAt(d.paths, d.pathsAddr, d.offsets[i]!, cur);
      const had = !Number.isNaN(s[i * 4]!);
      if (had) {
        prev.mtimeSec = s[i * 4]!;
        prev.mtimeNsec = s[i * 4 + 1]!;
        prev.size = s[i * 4 + 2]!;
        prev.ino = s[i * 4 + 3]!;
      }
      const kind = compareStat(had ? prev : undefined, cur.kind === FILE ? cur : undefined);
      if (kind === null) continue;
      if (cur.kind === FILE) {
        s[i * 4] = cur.mtimeSec;
        s[i * 4 + 1] = cur.mtimeNsec;
        s[i * 4 + 2] = cur.size;
        s[i * 4 + 3] = cur.ino;
      } else s[i * 4] = NaN;
      if (!out) continue;
      this.touched(cur.kind === FILE ? cur.ctimeMs : Date.now());
      out.push({ path: join(d.abs, d.names[i]!), kind });
      if (d.names[i] === ".gitignore" && d.single === undefined) rulesChanged = true;
    }
    if (rulesChanged && out) this.reloadRules(d, out);
  }

  /** This directory's .gitignore changed: recompute the rules of the subtree and list it again. */
  private reloadRules(d: Dir, out: Change[]): void {
    this.readRules(d);
    for (const child of d.subdirs.values()) this.reloadRules(child, out);
    this.list(d, out);
    this.statFiles(d, out);
  }

  /** A directory went away (or became ignored): its files are deleted. */
  private drop(d: Dir, out: Change[] | null): void {
    for (const child of d.subdirs.values()) this.drop(child, out);
    d.names.forEach((n, i) => {
      if (!Number.isNaN(d.stats[i * 4]!)) out?.push({ path: join(d.abs, n), kind: "deleted" });
    });
    this.dirs.delete(d.key);
    d.parent?.subdirs.delete(basename(d.abs));
  }

  private readRules(d: Dir): void {
    const inherited = d.parent ? d.parent.rules : DEFAULT_RULES;
    let text: string | null = null;
    try {
      text = readFileSync(join(d.abs, ".gitignore"), "utf8");
    } catch {
      // none (or unreadable): nothing to add
    }
    d.hasGitignore = text !== null;
    d.rules = text === null ? inherited : inherited.concat(parseRules(text, d.rel));
  }

  private touched(ms: number): void {
    this.activity = Math.max(this.activity, Math.min(ms, Date.now()));
  }
}
