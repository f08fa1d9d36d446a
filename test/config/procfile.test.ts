// Procfiles as foreman reads them (test/fixtures/procfiles, modeled on
// public projects' files: SOURCES): every one through `sup check
// --procfile`, which passes or refuses with the line and what to do.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseProcfile } from "../../src/config/procfile.ts";
import { ROOT, cleanEnv, dirWith, load, sup } from "./helpers.ts";

const FIX = join(ROOT, "test/fixtures/procfiles");

/** The fixtures sup refuses, each with the message that names why. */
const REFUSED: Record<string, string[]> = {
  "celery-dup-worker.Procfile": ['celery-dup-worker.Procfile:4: process type "worker" is defined twice (first at line 3); foreman would run both, Heroku only the last: rename one (worker2: …) or remove it'],
  "stray-lines.Procfile": [
    'stray-lines.Procfile:2: expected "name: command" (a name of letters, digits, _ and -), got ".listen(process.env.PORT || 5000)"; foreman would skip this line without a word: name it, or make it a comment with #',
    'stray-lines.Procfile:4: expected "name: command" (a name of letters, digits, _ and -), got "python manage.py runserver --settings=main.settings.production"',
    'stray-lines.Procfile:6: process type "web" is defined twice (first at line 3)',
  ],
  "unterminated-quote.Procfile": ["program web (unterminated-quote.Procfile:1): /bin/sh cannot parse the command (", "fix its quoting"],
};

test("every Procfile fixture passes sup check, or is refused (exit 2) with the line and what to do; each is in SOURCES", async () => {
  const files = readdirSync(FIX).filter((f) => f !== "SOURCES").sort();
  expect(files.length).toBeGreaterThanOrEqual(20);
  const sources = readFileSync(join(FIX, "SOURCES"), "utf8");
  for (const f of files) {
    expect(sources).toContain(f);
    const r = await sup(["check", "--procfile", f], FIX);
    if (REFUSED[f]) {
      expect({ f, code: r.code }).toEqual({ f, code: 2 });
      for (const m of REFUSED[f]) expect(r.stderr).toContain(m);
    } else {
      expect({ f, code: r.code, stderr: r.stderr }).toEqual({ f, code: 0, stderr: "" });
      expect(r.stdout).toContain("config ok");
    }
  }
}, 120_000);

test("release runs first wherever it is in the file (every other type waits for it to complete); # lines, blank lines and a missing last newline are foreman's", async () => {
  const l = await load(["check", "--procfile", "puma-solid-queue.Procfile"], FIX);
  expect(l.programs.map((p) => [p.name, p.config["depends-on"], p.config.restart])).toEqual([["web", { release: "completed" }, "always"], ["worker", { release: "completed" }, "always"], ["release", {}, "never"]]);
  expect(parseProcfile(readFileSync(join(FIX, "commented-alternatives.Procfile"), "utf8"), "Procfile")).toEqual([{ name: "web", command: "bundle exec puma -t 5:5 -p ${PORT:-3000} -e ${RACK_ENV:-development}", line: 4 }]);
});

test("PORT as foreman's base_port: the .env file's PORT beats the environment's, then 100 more for each next type", async () => {
  const dir = dirWith({ Procfile: "web: python3 -m http.server $PORT\nworker: sleep 100\n", ".env": "PORT=3000\nRAILS_ENV=development\n" });
  const l = await load(["check", "--procfile", "Procfile"], dir, cleanEnv({ PORT: "8000" }));
  const env = (name: string) => l.programs.find((p) => p.name === name)!.config.env;
  expect(env("web").findLast((e) => e.startsWith("PORT="))).toBe("PORT=3000");
  expect(env("worker").findLast((e) => e.startsWith("PORT="))).toBe("PORT=3100");
  // Without a PORT in .env, the environment's is the base.
  const plain = dirWith({ Procfile: "web: sleep 1\n" });
  const p = await load(["check", "--procfile", "Procfile"], plain, cleanEnv({ PORT: "8000" }));
  expect(p.programs[0]!.config.env.findLast((e) => e.startsWith("PORT="))).toBe("PORT=8000");
});

test("each process runs in the Procfile's directory, as foreman's (its --root default): sup --procfile app/Procfile from elsewhere; a chdir set in the config wins", async () => {
  const dir = dirWith({ "app/Procfile": "web: python3 -m http.server $PORT\n" });
  const l = await load(["check", "--procfile", "app/Procfile"], dir);
  expect(l.programs[0]!.config.chdir).toBe(join(dir, "app"));
  const here = await load(["check", "--procfile", "Procfile"], join(dir, "app"));
  expect(here.programs[0]!.config.chdir).toBe("");
  const set = await load(["check", "--procfile", "app/Procfile", "--chdir", "/tmp"], dir);
  expect(set.programs[0]!.config.chdir).toBe("/tmp");
});

test("the master refuses a Procfile line /bin/sh cannot parse before it starts anything (exit 2), naming the program and its line as sup check does", async () => {
  const dir = dirWith({ Procfile: "web: sleep 100\nworker: sh -c \"echo unterminated\n" });
  const r = await sup(["--procfile", "Procfile"], dir);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("program worker (Procfile:2): /bin/sh cannot parse the command (");
  expect(r.stderr).toContain("fix its quoting");
});
