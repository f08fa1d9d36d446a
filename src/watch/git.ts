// "Is git in the middle of something?" While git rewrites the working tree
// (checkout, pull, rebase, merge) it holds .git/index.lock; a rebase or a
// conflicted merge leaves rebase-merge/, rebase-apply/ or MERGE_HEAD behind
// (gitrepository-layout(5)). A reload in the middle would boot half-old code.
import { dirname, join, resolve } from "node:path";
import { readConfigText } from "../config/read.ts";
import { DIR, FILE, newStatOut, type Stater } from "../native/statx.ts";

const MARKERS = ["index.lock", "rebase-merge", "rebase-apply", "MERGE_HEAD"];

/** The git directory a ".git" entry stands for: itself, or where a ".git" file (worktree, submodule) points. */
export function resolveGitDir(dotGit: string, st: Stater): string | null {
  const out = newStatOut();
  st.stat(dotGit, out);
  if (out.kind === DIR) return dotGit;
  if (out.kind !== FILE) return null;
  try {
    // Not opened blindly: a FIFO swapped in since the stat would block the master's loop.
    const m = /^gitdir: (.+)$/m.exec(readConfigText(dotGit, dotGit));
    return m ? resolve(dirname(dotGit), m[1]!.trim()) : null;
  } catch {
    return null; // went away since the stat, or not a regular file now
  }
}

/** The ".git" of the repository holding `path`, searching upward like git does. */
export function findDotGit(path: string, st: Stater): string | null {
  const out = newStatOut();
  for (let dir = path; ; dir = dirname(dir)) {
    st.stat(join(dir, ".git"), out);
    if (out.kind === DIR || out.kind === FILE) return join(dir, ".git");
    if (dirname(dir) === dir) return null;
  }
}

/** The first marker of a running git operation found in these git directories, or null. */
export function gitBusy(gitDirs: Iterable<string>, st: Stater): string | null {
  const out = newStatOut();
  for (const dir of gitDirs) {
    for (const m of MARKERS) {
      st.stat(join(dir, m), out);
      if (out.kind === DIR || out.kind === FILE) return join(dir, m);
    }
  }
  return null;
}
