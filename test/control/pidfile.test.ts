import { afterAll, describe, expect, test } from "bun:test";
import { lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readPidfile, writePidfile } from "../../src/control/pidfile.ts";

const dir = mkdtempSync(join(tmpdir(), "sup-pidfile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("writePidfile", () => {
  test("writes the pid alone, mode 0644, and leaves no temp file", () => {
    const f = join(dir, "a.pid");
    writePidfile(f, 4711);
    expect(readFileSync(f, "utf8")).toBe("4711\n");
    expect(lstatSync(f).mode & 0o777).toBe(0o644);
    expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });

  test("a symlink planted at the pidfile is replaced, its target left alone", () => {
    const victim = join(dir, "victim");
    writeFileSync(victim, "precious\n");
    const f = join(dir, "b.pid");
    symlinkSync(victim, f);
    writePidfile(f, 42);
    expect(readFileSync(victim, "utf8")).toBe("precious\n");
    expect(lstatSync(f).isFile()).toBe(true);
    expect(readFileSync(f, "utf8")).toBe("42\n");
  });

  test("the temp names of the old scheme (PIDFILE.PID.tmp) are not used", () => {
    const victim = join(dir, "victim2");
    writeFileSync(victim, "precious\n");
    const f = join(dir, "c.pid");
    symlinkSync(victim, `${f}.${process.pid}.tmp`);
    writePidfile(f, process.pid);
    expect(readFileSync(victim, "utf8")).toBe("precious\n");
    expect(readFileSync(f, "utf8")).toBe(`${process.pid}\n`);
  });

  test("an unwritable place is an error that names the pidfile and the errno in words", () => {
    expect(() => writePidfile(join(dir, "no-such-dir", "x.pid"), 1)).toThrow(/cannot write the pidfile .*no-such-dir\/x\.pid: no such file or directory \(ENOENT\); create .*no-such-dir first/);
  });
});

describe("readPidfile", () => {
  test("1 is a pid (a master that is PID 1 of a container)", () => {
    writeFileSync(join(dir, "one.pid"), "1\n");
    expect(readPidfile(join(dir, "one.pid"))).toBe(1);
  });

  test("only the first line counts", () => {
    writeFileSync(join(dir, "two.pid"), "123\nsomething else\n");
    expect(readPidfile(join(dir, "two.pid"))).toBe(123);
  });

  for (const text of ["0\n", "-5\n", "abc\n", "", "99999999999\n"]) {
    test(`${JSON.stringify(text)} is not a pid`, () => {
      writeFileSync(join(dir, "bad.pid"), text);
      expect(() => readPidfile(join(dir, "bad.pid"))).toThrow("does not hold a pid");
    });
  }
});
