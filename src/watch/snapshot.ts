// The stat diff at the heart of the poller: pure, so every case is a unit test.
//
// mtime is kept as whole seconds plus nanoseconds: one float of nanoseconds
// since 1970 rounds to 256 ns, and uWSGI's whole-second compare misses two
// saves within a second. The inode number tells an atomic-rename save (write
// a temp file, rename over the old one) from an in-place write, even when
// the new file has an older mtime (cp -p, tar, git checkout of an old blob).

/** What one stat(2) says about a file that matters for a reload. */
export interface FileStat {
  mtimeSec: number;
  mtimeNsec: number;
  size: number;
  ino: number;
}

export type ChangeKind = "modified" | "created" | "deleted" | "replaced";

export interface Change {
  readonly path: string;
  readonly kind: ChangeKind;
}

/** path → stat; a missing key is a missing file. */
export type Snapshot = ReadonlyMap<string, FileStat>;

/** How a file changed between two stats (undefined = not there), or null when it did not. */
export function compareStat(before: FileStat | undefined, after: FileStat | undefined): ChangeKind | null {
  if (!before) return after ? "created" : null;
  if (!after) return "deleted";
  if (before.ino !== after.ino) return "replaced";
  if (before.mtimeSec !== after.mtimeSec || before.mtimeNsec !== after.mtimeNsec || before.size !== after.size) return "modified";
  return null;
}

/** Every change from `before` to `after`, in the order of `after` then the deleted paths of `before`. */
export function diffSnapshots(before: Snapshot, after: Snapshot): Change[] {
  const changes: Change[] = [];
  for (const [path, st] of after) {
    const kind = compareStat(before.get(path), st);
    if (kind) changes.push({ path, kind });
  }
  for (const path of before.keys()) if (!after.has(path)) changes.push({ path, kind: "deleted" });
  return changes;
}
