// --autoreload N: watch trees and call `emit` once per storm of changes.
//
// events (the default of --autoreload): inotify tells which directories to
// look at, at once (watch-events.ts); nothing runs while nothing changes but
// a verification scan of the whole tree every max(30 s, 2000 times that
// scan's own duration), at most 0.05 % of a core, for what inotify cannot
// report. Directories inotify cannot watch are polled every N seconds.
// poll (--py-autoreload N, as uWSGI does it, or --autoreload-engine poll):
// a scan of the whole tree every N seconds; while a storm settles, extra
// scans at its settle deadline. Either way the first walk only records, and
// git operations in progress hold the emit (git.ts).
import { relative, resolve } from "node:path";
import { findDotGit, gitBusy, resolveGitDir } from "./git.ts";
import { nativeFailure, nativeScanner, type Scanner } from "../native/scan.ts";
import { fsScanner } from "./scan-fs.ts";
import { maxWaitFor, Settle } from "./settle.ts";
import type { Change } from "./snapshot.ts";
import { stater } from "../native/statx.ts";
import { Tree } from "./tree.ts";
import { EventsEngine, type Kernel } from "./watch-events.ts";
import { timerDelay } from "../core/timer.ts";

export interface TreeWatchOptions {
  interval: number; // s, > 0
  watch: string[]; // default [cwd]
  include: string[];
  ignore: string[];
  engine: "poll" | "events";
  settle: number; // s
  cwd: string; // the workers' directory: watch roots and the log's paths are relative to it
  ownFiles?: string[]; // absolute paths of files sup writes (its pidfile): never a reason to reload
  scanner?: Scanner; // tests: the node:fs scanner
  kernel?: Kernel; // tests: a fake inotify
}

export interface TreeEvent {
  files: string[]; // a sample, relative to cwd
  count: number;
}

const SAMPLE = 10;
const GIT_RECHECK_MS = 100; // git's lock is usually gone within a second
const VERIFY_MIN_MS = 30_000;
const VERIFY_SHARE = 2000; // verification scans every 2000x their own duration: ≤ 0.05 % of a core
// A file created and not yet closed, or deleted and maybe about to come back
// (vim renames the old file away, then writes the new one): the events
// engine waits up to this long for the save to end.
const INCOMPLETE_HOLD_MS = 500;

export function watchTree(
  opts: TreeWatchOptions,
  emit: (ev: TreeEvent) => void,
  log: (msg: string) => void,
): { stop(): void; pending(): boolean; tree: Tree } {
  const st = stater();
  const scanner = opts.scanner ?? nativeScanner() ?? fsScanner;
  const roots = (opts.watch.length > 0 ? opts.watch : [opts.cwd]).map((p) => resolve(opts.cwd, p));
  const tree = new Tree({ roots, ignore: opts.ignore, include: opts.include, skip: opts.ownFiles ?? [] }, scanner, log);
  const intervalMs = opts.interval * 1000;
  const settleMs = opts.settle * 1000;
  const settle = new Settle({ settle: settleMs, maxWait: maxWaitFor(settleMs) });
  const changed = new Set<string>();
  const found: Change[] = [];
  let holding: string | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  let verifyMs = VERIFY_MIN_MS; // until the first walk says what a scan costs

  const events = opts.engine === "events"
    ? new EventsEngine(tree, {
        batch(dirs, relist) {
          if (stopped) return;
          collect(tree.check(dirs, relist, found), Date.now());
          if (settle.pending() && !holding) schedule(nextWake());
        },
        overflow() {
          nextFull = 0; // the kernel dropped events: look at everything now
          schedule(0);
        },
      }, log, opts.interval, opts.kernel)
    : null;

  const started = performance.now();
  tree.walk();
  const walkMs = performance.now() - started;
  // The walk's garbage (a few strings per entry) is gone at once, so the
  // allocator can give its pages back: the index itself is ~50 bytes a file.
  if (tree.fileCount >= 1000) Bun.gc(true);
  verifyMs = Math.max(VERIFY_MIN_MS, walkMs * VERIFY_SHARE); // a walk costs more than a scan: the first one comes late, not early
  const fullEvery = () => (events ? verifyMs : intervalMs);
  let nextFull = Date.now() + fullEvery();
  let nextPart = Date.now() + intervalMs; // the unwatched directories (events engine)
  const how = events ? `events, a full scan every ${Math.round(verifyMs / 1000)} s` : `poll every ${opts.interval} s`;
  log(
    `autoreload: watching ${tree.fileCount.toLocaleString("en-US")} files in ${tree.dirCount.toLocaleString("en-US")} directories under ${roots.join(", ")} ` +
      `(${how}; first walk ${walkMs.toFixed(0)} ms${scanner.name === "native" ? "" : `; ${scanner.name} scanner: ${nativeFailure() || "chosen"}`})`,
  );
  for (const r of tree.missingRoots()) log(`autoreload-watch ${r}: not there yet, will watch it when it is created`);

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
  function collect(activity: number, now: number): void {
    if (events && events.incomplete.size === 0) settle.hold(0); // the save that was under way has ended
    if (found.length === 0) return;
    for (const c of found) changed.add(c.path);
    found.length = 0;
    settle.changed(Math.min(activity || now, now));
    if (events) settle.hold(events.incomplete.size > 0 ? now + INCOMPLETE_HOLD_MS : 0);
  }

  function schedule(at: number): void {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(wake, timerDelay(at - Date.now()));
  }

  const nextWake = () => {
    const part = events && (events.unwatched.size > 0 || tree.missingRoots().length > 0) ? nextPart : Infinity;
    return Math.min(nextFull, part, holding ? Date.now() + GIT_RECHECK_MS : (settle.dueAt() ?? Infinity));
  };

  function wake(): void {
    timer = null;
    let now = Date.now();
    if (holding) {
      if (gitBusy(gitDirs(), st)) return schedule(now + GIT_RECHECK_MS);
      holding = null;
      nextFull = 0; // git is done: everything it wrote is visible to the next scan
    }
    if (now >= nextFull || (!events && settle.pending())) {
      const t0 = performance.now();
      const activity = tree.scan(found);
      if (events) verifyMs = Math.max(VERIFY_MIN_MS, (performance.now() - t0) * VERIFY_SHARE);
      now = Date.now();
      collect(activity, now);
      if (now >= nextFull) nextFull = now + fullEvery();
    } else if (events && now >= nextPart) {
      collect(Math.max(tree.checkRoots(found), tree.check(events.unwatched, [], found)), Date.now());
      now = Date.now();
      nextPart = now + intervalMs;
    }
    if (settle.due(now)) {
      const busy = gitBusy(gitDirs(), st);
      if (busy) {
        holding = busy;
        log(`autoreload: waiting for git to finish (${relative(opts.cwd, busy) || busy})`);
        return schedule(now + GIT_RECHECK_MS);
      }
      settle.take();
      events?.incomplete.clear();
      const paths = [...changed].map((p) => relative(opts.cwd, p) || p);
      changed.clear();
      emit({ files: paths.slice(0, SAMPLE), count: paths.length });
    }
    schedule(nextWake());
  }

  schedule(nextWake());
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      events?.close();
    },
    pending: () => settle.pending() || holding !== null,
    tree,
  };
}
