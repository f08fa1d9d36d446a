import { describe, expect, test } from "bun:test";
import { compareStat, diffSnapshots, type FileStat } from "../../src/watch/snapshot.ts";

const st = (over: Partial<FileStat> = {}): FileStat => ({ mtimeSec: 1_700_000_000, mtimeNsec: 500, size: 10, ino: 42, ...over });

describe("compareStat", () => {
  test("same stat: no change", () => expect(compareStat(st(), st())).toBeNull());
  test("nothing before or after: no change", () => expect(compareStat(undefined, undefined)).toBeNull());
  test("appeared: created; vanished: deleted", () => {
    expect(compareStat(undefined, st())).toBe("created");
    expect(compareStat(st(), undefined)).toBe("deleted");
  });
  test("a nanosecond of mtime is a change (two saves within one second)", () => {
    expect(compareStat(st(), st({ mtimeNsec: 501 }))).toBe("modified");
    expect(compareStat(st(), st({ mtimeSec: 1_700_000_001 }))).toBe("modified");
  });
  test("same mtime, other size: modified", () => expect(compareStat(st(), st({ size: 11 }))).toBe("modified"));
  test("a new inode is a replace, even with an older mtime (atomic-rename save, cp -p)", () => {
    expect(compareStat(st(), st({ ino: 43 }))).toBe("replaced");
    expect(compareStat(st(), st({ ino: 43, mtimeSec: 1 }))).toBe("replaced");
  });
});

describe("diffSnapshots", () => {
  test("lists created, modified, replaced and deleted paths, nothing else", () => {
    const before = new Map([["a", st()], ["b", st()], ["c", st()], ["d", st()]]);
    const after = new Map([["a", st()], ["b", st({ size: 1 })], ["c", st({ ino: 7 })], ["e", st()]]);
    expect(diffSnapshots(before, after)).toEqual([
      { path: "b", kind: "modified" },
      { path: "c", kind: "replaced" },
      { path: "e", kind: "created" },
      { path: "d", kind: "deleted" },
    ]);
  });
  test("two empty snapshots: no change", () => expect(diffSnapshots(new Map(), new Map())).toEqual([]));
});
