import { describe, expect, test } from "bun:test";
import { parseCli } from "../../src/verbs/cli.ts";
import { defaults } from "../../src/config/schema.ts";
import { execWord, renderUnit, unitName, type UnitInput } from "../../src/verbs/systemd-unit.ts";

function input(argv: string[], over: Partial<UnitInput> = {}): UnitInput {
  const cli = parseCli(argv);
  return { exe: "/usr/local/bin/sup", cwd: "/srv/Shop App", flags: cli.flags, command: cli.command, config: defaults(), env: {}, ...over };
}

const line = (unit: string, key: string) => unit.split("\n").filter((l) => l.startsWith(`${key}=`));

describe("execWord", () => {
  test("leaves plain words alone", () => {
    expect(execWord("/usr/bin/python3")).toBe("/usr/bin/python3");
    expect(execWord("--port=8000")).toBe("--port=8000");
  });
  test("doubles $ and % so systemd does not expand them", () => {
    expect(execWord("$HOME")).toBe('"$$HOME"');
    expect(execWord("100%")).toBe('"100%%"');
  });
  test("quotes spaces, quotes and backslashes; escapes a lone ;", () => {
    expect(execWord("a b")).toBe('"a b"');
    expect(execWord('say "hi"\\')).toBe('"say \\"hi\\"\\\\"');
    expect(execWord(";")).toBe("\\;");
  });
});

describe("renderUnit", () => {
  test("a notify service that reloads with HUP and lets sup stop its workers", () => {
    const unit = renderUnit(input(["-p", "4", "--", "python3", "app.py"]));
    expect(line(unit, "Type")).toEqual(["Type=notify"]);
    expect(line(unit, "NotifyAccess")).toEqual(["NotifyAccess=main"]);
    expect(line(unit, "ExecReload")).toEqual(["ExecReload=/bin/kill -HUP $MAINPID"]);
    expect(line(unit, "KillMode")).toEqual(["KillMode=mixed"]);
    expect(line(unit, "Delegate")).toEqual(["Delegate=yes"]);
    expect(line(unit, "ExecStart")).toEqual([
      "ExecStart=/usr/local/bin/sup --pidfile /run/shop-app/sup.pid --processes 4 -- python3 app.py",
    ]);
    expect(line(unit, "RuntimeDirectory")).toEqual(["RuntimeDirectory=shop-app"]);
    expect(line(unit, "WorkingDirectory")).toEqual(["WorkingDirectory=/srv/Shop App"]);
  });

  test("TimeoutStopSec outlasts worker-reload-mercy", () => {
    const config = { ...defaults(), "worker-reload-mercy": 62.5 };
    const unit = renderUnit(input(["--worker-reload-mercy", "62.5", "--", "x"], { config }));
    expect(line(unit, "TimeoutStopSec")).toEqual(["TimeoutStopSec=78"]);
  });

  test("keeps the user's pidfile, lists, booleans and command words exactly", () => {
    const config = { ...defaults(), pidfile: "/run/app/sup.pid" };
    const unit = renderUnit(input(["--pidfile", "/run/app/sup.pid", "--touch-reload", "a.ini", "--touch-reload", "b.ini", "--no-log-prefix", "--", "sh", "-c", "echo $PORT"], { config }));
    expect(line(unit, "ExecStart")).toEqual([
      'ExecStart=/usr/local/bin/sup --pidfile /run/app/sup.pid --touch-reload a.ini --touch-reload b.ini --no-log-prefix -- sh -c "echo $$PORT"',
    ]);
    expect(line(unit, "RuntimeDirectory")).toEqual([]);
  });

  test("names a config file found in the directory, and carries SUP_* variables", () => {
    const unit = renderUnit(input([], { configFile: "/srv/app/sup.ini", env: { SUP_PROCESSES: "3" } }));
    expect(line(unit, "ExecStart")[0]).toContain("--config /srv/app/sup.ini");
    expect(line(unit, "Environment")).toEqual(['Environment="SUP_PROCESSES=3"']);
  });

  test("points at socket activation when sup binds sockets itself", () => {
    const config = { ...defaults(), listen: ["127.0.0.1:8000"] };
    expect(renderUnit(input(["--listen", "127.0.0.1:8000", "--", "x"], { config }))).toContain("ListenStream=");
    expect(renderUnit(input(["--", "x"]))).not.toContain("ListenStream=");
  });
});

test("unitName makes a unit name of the directory", () => {
  expect(unitName("/srv/My Shop")).toBe("my-shop");
  expect(unitName("/")).toBe("sup");
});
