// docs/systemd.md's unit through systemd-analyze verify, as Type=notify and
// with the page's Type=notify-reload change (ExecReload= dropped). systemd
// added notify-reload in 253: an older systemd-analyze may say only that it
// does not know the type.
import { expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, SUP, tempDir } from "./harness.ts";

const ANALYZE = "/usr/bin/systemd-analyze";
const doc = readFileSync(join(ROOT, "docs/systemd.md"), "utf8");
const blocks = [...doc.matchAll(/```ini\n([\s\S]*?)```/g)].map((m) => m[1]!);
const unit = blocks.find((b) => b.startsWith("[Unit]\nDescription=app (sup)"))!;
const reloadChange = blocks.find((b) => b.includes("Type=notify-reload"))!;

function verify(text: string) {
  if (!existsSync(ANALYZE)) throw new Error(`${ANALYZE} is missing: apt-get install systemd (.ci/run installs it)`);
  const file = join(tempDir(), "app.service");
  // The built sup stands for /usr/local/bin/sup (verify checks that ExecStart= is executable).
  writeFileSync(file, text.replace("/usr/local/bin/sup", SUP));
  const r = Bun.spawnSync([ANALYZE, "verify", file], { stdio: ["ignore", "pipe", "pipe"] });
  return { code: r.exitCode, out: (r.stdout.toString() + r.stderr.toString()).replaceAll(file, "app.service").trim() };
}

const version = Number(/systemd (\d+)/.exec(Bun.spawnSync([ANALYZE, "--version"]).stdout.toString())?.[1] ?? 0);

test("the Type=notify unit passes systemd-analyze verify", () => {
  expect(unit).toContain("Type=notify\n");
  expect(verify(unit)).toEqual({ code: 0, out: "" });
});

test("the Type=notify-reload unit passes too (systemd 253+; an older one only does not know the type)", () => {
  expect(reloadChange).toContain("Type=notify-reload");
  const text = unit.replace("Type=notify\n", "Type=notify-reload\n").replace(/^ExecReload=.*\n/m, "");
  expect(text).not.toContain("ExecReload");
  const r = verify(text);
  if (version >= 253) expect(r).toEqual({ code: 0, out: "" });
  else expect(r).toEqual({ code: 0, out: "app.service:6: Failed to parse service type, ignoring: notify-reload" });
});
