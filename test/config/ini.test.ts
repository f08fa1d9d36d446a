import { describe, expect, test } from "bun:test";
import { parseIni, readIni, type IniEntry } from "../../src/config/ini.ts";

const src = { path: "/srv/app/deploy/app.ini", name: "app.ini", env: { HOME: "/home/u", PORT: "8000" } };
const read = (text: string, section?: string, envName = "") => readIni(text, src, section, envName);
const values = (entries: IniEntry[]) => Object.fromEntries(entries.map((e) => [e.key, e.value]));

describe("parseIni", () => {
  test("keeps sections, line numbers, and skips ; and # comment lines", () => {
    const s = parseIni("; c\n[sup]\n# c\nprocesses = 4\n\n[other]\nx=1\n", "a.ini");
    expect(s.get("sup")).toEqual([{ key: "processes", value: "4", line: 4 }]);
    expect(s.get("other")).toEqual([{ key: "x", value: "1", line: 7 }]);
  });

  test("a bare key is true; a value keeps its inner = and ;", () => {
    const s = parseIni("[sup]\nmaster\nenv = A=1;B\n", "a.ini");
    expect(s.get("sup")).toEqual([
      { key: "master", value: "true", line: 2 },
      { key: "env", value: "A=1;B", line: 3 },
    ]);
  });

  test("CRLF line ends and a BOM are accepted", () => {
    expect(parseIni("\uFEFF[sup]\r\nprocesses = 2\r\n", "a.ini").get("sup")).toEqual([{ key: "processes", value: "2", line: 2 }]);
  });

  test("syntax errors name file:line", () => {
    expect(() => parseIni("[sup]\n[broken\n", "a.ini")).toThrow("a.ini:2: section header [broken has no closing ]");
    expect(() => parseIni("[sup]\nnot a key\n", "a.ini")).toThrow('a.ini:2: expected "key = value"');
    expect(() => parseIni("[sup]\n= 4\n", "a.ini")).toThrow("a.ini:2: bad key name");
    expect(() => parseIni("[]\n", "a.ini")).toThrow("a.ini:1: empty section name");
  });
});

describe("readIni", () => {
  test("repeated keys make lists for list options; a scalar keeps the last", () => {
    const r = read("[sup]\ntouch-reload = a\nprocesses = 2\ntouch-reload = b\nprocesses = 3\n");
    expect(values(r.base)).toEqual({ "touch-reload": ["a", "b"], processes: "3" });
    expect(r.base.find((e) => e.key === "touch-reload")!.line).toBe(2);
    expect(r.base.find((e) => e.key === "processes")!.line).toBe(5);
  });

  test("command is one line (a repeat replaces it), split later", () => {
    expect(values(read("[sup]\ncommand = a b\ncommand = c d\n").base)).toEqual({ command: "c d" });
  });

  test("[uwsgi] is used when there is no [sup]; [sup] wins when both exist", () => {
    expect(values(read("[uwsgi]\nprocesses = 2\n").base)).toEqual({ processes: "2" });
    expect(values(read("[uwsgi]\nprocesses = 2\n[sup]\nprocesses = 5\n").base)).toEqual({ processes: "5" });
  });

  test("FILE:SECTION picks a section, and its environment section is SECTION:NAME", () => {
    const text = "[sup]\nprocesses = 1\n[app]\nprocesses = 2\n[app:prod]\nprocesses = 3\n";
    expect(values(read(text, "app").base)).toEqual({ processes: "2" });
    const r = read(text, "app", "prod");
    expect(values(r.envSection)).toEqual({ processes: "3" });
    expect(r.envSection[0]!.line).toBe(6);
  });

  test("a file without headers (an rc file) is all base section", () => {
    expect(values(read("processes = 2\nmaster\n").base)).toEqual({ processes: "2", master: "true" });
  });

  test("%(key) placeholders, also of custom keys, which are reported as placeholders", () => {
    const r = read("[sup]\nbase = /srv/app\nchdir = %(base)/current\ntouch-reload = %(chdir)/reload\n");
    expect(values(r.base)).toMatchObject({ chdir: "/srv/app/current", "touch-reload": ["/srv/app/current/reload"] });
    expect([...r.placeholders].sort()).toEqual(["base", "chdir"]);
  });

  test("an environment section sees its own keys first, then the base section", () => {
    const r = read("[sup]\nroot = /a\nname = x\n[sup:prod]\nroot = /b\nchdir = %(root)/%(name)\n", undefined, "prod");
    expect(values(r.envSection)).toMatchObject({ chdir: "/b/x" });
  });

  test("$(VAR) from the environment; %d %n %p %s %c from the file's path", () => {
    const r = read("[sup]\nenv = HOME=$(HOME)\nenv = PORT=$(PORT)\nchdir = %d\npidfile = %n.pid\nlisten-mode = %s|%p|%c\n");
    expect(values(r.base)).toEqual({
      env: ["HOME=/home/u", "PORT=8000"],
      chdir: "/srv/app/deploy/",
      pidfile: "app.pid",
      "listen-mode": "app.ini|/srv/app/deploy/app.ini|deploy",
    });
  });

  test("an environment value is not expanded again", () => {
    const r = readIni("[sup]\nchdir = $(X)\n", { ...src, env: { X: "%(y)$(Z)" } }, undefined, "");
    expect(values(r.base)).toEqual({ chdir: "%(y)$(Z)" });
  });

  test("errors name file:line: missing placeholder, cycle, unset variable", () => {
    expect(() => read("[sup]\nprocesses = 1\nchdir = %(base)\n")).toThrow("app.ini:3: placeholder %(base) is not set in [sup]");
    expect(() => read("[sup]\na = %(b)\nb = %(a)\nchdir = %(a)\n")).toThrow("app.ini:3: placeholder %(a) refers to itself (a → b → a)");
    expect(() => read("[sup]\n\nchdir = $(NOPE)\n")).toThrow("app.ini:3: environment variable NOPE is not set (used as $(NOPE))");
  });

  test("section errors: none of [sup]/[uwsgi], a missing FILE:SECTION, a missing environment section, stray keys", () => {
    expect(() => read("[app]\nprocesses = 1\n")).toThrow("app.ini: no [sup] or [uwsgi] section");
    expect(() => read("[sup]\n", "web")).toThrow("app.ini: no [web] section (it has [sup])");
    expect(() => read("[sup]\n", undefined, "staging")).toThrow('app.ini: no [sup:staging] section for environment "staging"');
    expect(() => read("processes = 1\n[sup]\n")).toThrow('app.ini:1: key "processes" is outside any section');
  });
});
