// --autoreload N: watch a tree and call `emit` once per storm of changes.
//
// poll (default, like uWSGI's --py-autoreload and the only engine that works
// on network and container mounts): a Tree scan every N seconds; while a
// storm settles, extra scans at its settle deadline. events: fs.watch
// (recursive, inotify on Linux) tells which directories to look at at once,
// and a full scan every max(10 s, 10 N) catches what inotify misses
// (overflowed queues, network mounts). Either way the first walk only
// records, and git operations in progress hold the emit (git.ts).
import { watch, type FSWatcher } from "node:fs";
import { join, relative, resolve } from "node:path";
import { findDotGit, gitBusy, resolveGitDir } from "./git.ts";
import { maxWaitFor, Settle } from "./settle.ts";
import type { Change } from "./snapshot.ts";
import { stater } from "./statx.ts";
import { Tree } from "./tree.ts";

export interface TreeWatchOptions {
  interval: number; // s, > 0
  watch: string[]; // default [cwd]
  include: string[];
  ignore: string[];
  engine: "poll" | "events";
  settle: number; // s
  cwd: string;
}

export interface TreeEvent {
  files: string[]; // a sample, relative to cwd
  count: number;
}

const SAMPLE = 10;
const GIT_RECHECK_MS = 100; // git's lock is usually gone within a second
const EVENT_BATCH_MS = 10; // one save is several inotify events

export function watchTree(
  opts: TreeWatchOptions,
  emit: (ev: TreeEvent) => void,
  log: (msg: string) => void,
): { stop(): void; pending(): boolean } {
  const st = stater();
  const roots = (opts.watch.length > 0 ? opts.watch : [opts.cwd]).map((p) => resolve(opts.cwd, p));
  const tree = new Tree({ roots, ignore: opts.ignore, include: opts.include }, st);
  const started = performance.now();
  tree.walk();
  const walkMs = performance.now() - started;
  for (const r of tree.missingRoots()) log(`autoreload-watch ${r}: not there yet, will watch it when it is created`);
  log(
    `autoreload: watching ${tree.fileCount.toLocaleString("en-US")} files in ${tree.dirs.size.toLocaleString("en-US")} directories ` +
      `every ${opts.interval} s (${opts.engine}; first walk ${walkMs.toFixed(0)} ms)`,
  );

  const settleMs = opts.settle * 1000;
  const settle = new Settle({ settle: settleMs, maxWait: maxWaitFor(settleMs) });
  const fullEvery = opts.engine === "poll" ? opts.interval * 1000 : Math.max(10_000, 10 * opts.interval * 1000);
  const changed = new Set<string>();
  const found: Change[] = [];
  let nextFull = Date.now() + fullEvery;
  let holding: string | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;

  const gitDirs = (): Set<string> => {
    const dirs = new Set<string>();
    const entries = new Set(tree.gitEntries);
    for (const r of roots) {
      const up = findDotGit(r, st);
      if (up) entries.add(up);
    }
    for (const e of entries) {
      const dir = resolveGitDir(e, st);
      if (dir) dirs.add(dir);
    }
    return dirs;
  };

  /** Fold what a scan found into the storm. */
  const collect = (activity: number, now: number) => {
    if (found.length === 0) return;
    for (const c of found) changed.add(c.path);
    found.length = 0;
    settle.changed(Math.min(activity || now, now));
  };

  const schedule = (at: number) => {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(wake, Math.max(0, at - Date.now()));
  };

  const nextWake = () => Math.min(nextFull, holding ? Date.now() + GIT_RECHECK_MS : (settle.dueAt() ?? Infinity));

  function wake(): void {
    timer = null;
    let now = Date.now();
    if (holding) {
      if (gitBusy(gitDirs(), st)) return schedule(now + GIT_RECHECK_MS);
      holding = null;
      nextFull = 0; // git is done: everything it wrote is visible to the next scan
    }
    if (now >= nextFull || (opts.engine === "poll" && settle.pending())) {
      const activity = tree.scan(found);
      now = Date.now();
      collect(activity, now);
      if (now >= nextFull) nextFull = now + fullEvery;
    }
    if (settle.due(now)) {
      const busy = gitBusy(gitDirs(), st);
      if (busy) {
        holding = busy;
        log(`autoreload: waiting for git to finish (${relative(opts.cwd, busy) || busy})`);
        return schedule(now + GIT_RECHECK_MS);
      }
      settle.take();
      const paths = [...changed].map((p) => relative(opts.cwd, p) || p);
      changed.clear();
      emit({ files: paths.slice(0, SAMPLE), count: paths.length });
    }
    schedule(nextWake());
  }

  const watchers: FSWatcher[] = [];
  if (opts.engine === "events") {
    const queued = new Set<string>();
    let batch: ReturnType<typeof setTimeout> | null = null;
    const flush = () => {
      batch = null;
      if (stopped) return;
      const activity = tree.check(queued, found);
      queued.clear();
      collect(activity, Date.now());
      if (settle.pending() && !holding) schedule(nextWake());
    };
    for (const root of roots) {
      try {
        const w = watch(root, { recursive: true }, (_type, name) => {
          queued.add(name ? join(root, name.toString()) : root);
          batch ??= setTimeout(flush, EVENT_BATCH_MS);
        });
        w.on("error", (e) => log(`autoreload: fs.watch ${root} failed (${e.message}); the ${fullEvery / 1000} s poll goes on`));
        watchers.push(w);
      } catch (e) {
        log(`autoreload: cannot fs.watch ${root} (${(e as Error).message}); polling every ${fullEvery / 1000} s`);
      }
    }
  }

  schedule(nextFull);
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      for (const w of watchers) w.close();
    },
    pending: () => settle.pending() || holding !== null,
  };
}
