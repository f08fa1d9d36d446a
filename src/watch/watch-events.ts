// The events engine: inotify watches on the tree's directories tell which
// directories to look at, at once; nothing runs while nothing changes. Parts
// of the tree inotify cannot cover are polled instead, each said once in the
// log: past the kernel's watch limit (ENOSPC, fs.inotify.max_user_watches),
// and on network, FUSE, 9p and VM-share filesystems (statfs), where a change
// made on the other side never sends an event.
import { readFileSync } from "node:fs";
import { byteKey, display } from "../core/bytes.ts";
import { ENOENT, ENOSPC, ENOTDIR, IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_DELETE_SELF, IN_IGNORED, IN_ISDIR, IN_MOVE_SELF, IN_MOVED_FROM, IN_MOVED_TO, IN_Q_OVERFLOW, Inotify, remoteFs, type InotifyEvent } from "./inotify.ts";
import { D, D_FLAGS, D_PATH, D_WD, NONE, SINGLE } from "./tree-index.ts";
import type { Tree } from "./tree.ts";
import { strerror } from "../native/libc.ts";

const BATCH_MS = 2; // the events of one save arrive within a ms or two: look once

export interface EventsHooks {
  /** Directories to stat, and those whose entries came or went (to be listed again). */
  batch(dirs: Set<number>, relist: Set<number>): void;
  /** The kernel dropped events (IN_Q_OVERFLOW): scan everything. */
  overflow(): void;
}

/** What the engine needs of inotify.ts (tests put a fake in its place). */
export interface Kernel {
  open(): Pick<Inotify, "add" | "remove" | "start" | "close"> | string;
  remoteFs(path: Uint8Array): string | null;
}

const realKernel: Kernel = { open: () => Inotify.open(), remoteFs };

export class EventsEngine {
  /** Directories without a watch: the poller's share. */
  readonly unwatched = new Set<number>();
  private readonly ino: ReturnType<Kernel["open"]> & object | null;
  private readonly dirsOf = new Map<number, Set<number>>(); // wd → dirs (a watched file's directory can be a watched directory too: one wd)
  private readonly said = new Set<string>();
  private dirs = new Set<number>();
  private relist = new Set<number>();
  private rewatch = new Set<number>();
  /** Files created and not yet closed, or deleted and maybe coming back ("dir/name" keys). */
  readonly incomplete = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly tree: Tree,
    private readonly hooks: EventsHooks,
    private readonly log: (msg: string) => void,
    private readonly pollEvery: number,
    private readonly kernel: Kernel = realKernel,
  ) {
    const ino = kernel.open();
    if (typeof ino === "string") this.once("init", `autoreload: ${ino}; polling every ${pollEvery} s instead`);
    this.ino = typeof ino === "string" ? null : ino;
    tree.onDir = { added: (d) => this.watch(d), removed: (d) => this.unwatch(d) };
    for (let d = 0; d < tree.ix.dirsLen; d++) if (tree.ix.isLive(d)) this.watch(d);
    this.ino?.start((evs) => this.take(evs), (why) => this.once("read", `autoreload: reading inotify events failed (${why}); polling every ${pollEvery} s instead`));
  }

  private once(key: string, msg: string): void {
    if (!this.said.has(key)) this.log(msg);
    this.said.add(key);
  }

  private watch(d: number): void {
    const { ix } = this.tree;
    // One statfs per directory, once: cheaper than knowing where mount points are.
    const fs = this.kernel.remoteFs(ix.pathZ(d));
    if (fs) {
      this.unwatched.add(d);
      return this.once(`fs ${fs}`, `autoreload: ${display(ix.name(ix.dirs[d * D + D_PATH]!))} is on ${fs}, where inotify misses changes made elsewhere; polling it every ${this.pollEvery} s`);
    }
    if (!this.ino) return void this.unwatched.add(d);
    const wd = this.ino.add(ix.pathZ(d));
    if (wd >= 0) {
      ix.dirs[d * D + D_WD] = wd;
      const set = this.dirsOf.get(wd) ?? new Set();
      this.dirsOf.set(wd, set.add(d));
      return;
    }
    if (-wd === ENOENT || -wd === ENOTDIR) return; // gone already: the next scan drops it
    this.unwatched.add(d);
    if (-wd === ENOSPC) this.once("enospc", `autoreload: inotify watch limit reached (fs.inotify.max_user_watches = ${maxWatches()}) at ${display(ix.name(ix.dirs[d * D + D_PATH]!))}; polling the directories past it every ${this.pollEvery} s`);
    else this.once(`add ${-wd}`, `autoreload: cannot watch ${display(ix.name(ix.dirs[d * D + D_PATH]!))} (inotify_add_watch: ${strerror(-wd)}); polling it every ${this.pollEvery} s`);
  }

  private unwatch(d: number): void {
    const wd = this.tree.ix.dirs[d * D + D_WD]!;
    const set = this.dirsOf.get(wd);
    if (wd !== NONE && set?.delete(d) && set.size === 0) {
      this.dirsOf.delete(wd);
      this.ino?.remove(wd);
    }
    this.tree.ix.dirs[d * D + D_WD] = NONE;
    this.unwatched.delete(d);
  }

  /**
   * A new watch on d's path, whatever became of the old one: after
   * `rm -rf D && mkdir D` the index still holds D (the same name), but its
   * watch died with the old directory (IN_IGNORED) and nothing would report
   * an edit in the new one. inotify_add_watch on a path still watched gives
   * back the same wd, so this is also how an overflow checks every watch.
   */
  private renew(d: number): void {
    const { ix } = this.tree;
    const old = ix.dirs[d * D + D_WD]!;
    const set = this.dirsOf.get(old);
    if (old !== NONE && set?.delete(d) && set.size === 0) this.dirsOf.delete(old);
    ix.dirs[d * D + D_WD] = NONE;
    this.unwatched.delete(d);
    this.watch(d);
    // The old watch follows a directory moved away (IN_MOVE_SELF): let it go.
    if (old !== NONE && ix.dirs[d * D + D_WD] !== old && !this.dirsOf.has(old)) this.ino?.remove(old);
  }

  private take(events: InotifyEvent[]): void {
    for (const ev of events) {
      if (ev.mask & IN_Q_OVERFLOW) {
        // Events were lost, watches' ends among them: renew every watch,
        // then the whole tree is scanned.
        for (let d = 0; d < this.tree.ix.dirsLen; d++) if (this.tree.ix.isLive(d)) this.renew(d);
        this.hooks.overflow();
        continue;
      }
      const set = this.dirsOf.get(ev.wd);
      if (!set) continue;
      if (ev.mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
        // The directory was deleted or moved and its watch has ended or
        // follows it elsewhere: rescan it now, as a new directory (a new
        // watch, then a listing), whether or not the path is there again.
        if (ev.mask & IN_IGNORED) this.dirsOf.delete(ev.wd);
        for (const d of set) this.rewatch.add(d);
        continue;
      }
      for (const d of set) this.note(d, ev);
    }
    if ((this.dirs.size > 0 || this.relist.size > 0 || this.rewatch.size > 0) && !this.timer) this.timer = setTimeout(() => this.flush(), BATCH_MS);
  }

  private note(d: number, ev: InotifyEvent): void {
    const single = (this.tree.ix.dirs[d * D + D_FLAGS]! & SINGLE) !== 0;
    if (ev.name.length === 0) {
      (single ? this.dirs : this.relist).add(d); // the directory itself changed (its mode, say): look again
      return;
    }
    const isDir = (ev.mask & IN_ISDIR) !== 0;
    if (this.tree.ignores(d, ev.name, isDir)) return;
    const entries = (ev.mask & (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)) !== 0;
    if (entries && !single) this.relist.add(d);
    else this.dirs.add(d);
    if (isDir) return;
    const key = `${d}/${byteKey(ev.name)}`;
    if (ev.mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) this.incomplete.delete(key);
    else if (entries) this.incomplete.add(key); // created (not yet closed), or deleted (may come back)
  }

  private flush(): void {
    this.timer = null;
    const { dirs, relist, rewatch } = this;
    this.dirs = new Set();
    this.relist = new Set();
    this.rewatch = new Set();
    // The watch first, then the listing: what is created in between is in the listing.
    for (const d of rewatch) {
      if (!this.tree.ix.isLive(d)) continue;
      this.renew(d);
      // A watched file's directory is never listed (it holds that one name): stat it.
      if (this.tree.ix.dirs[d * D + D_FLAGS]! & SINGLE) dirs.add(d);
      else relist.add(d);
    }
    this.hooks.batch(dirs, relist);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.tree.onDir = null;
    this.ino?.close();
  }
}

function maxWatches(): string {
  try {
    return readFileSync("/proc/sys/fs/inotify/max_user_watches", "utf8").trim();
  } catch {
    return "?";
  }
}
