// The uWSGI options of issue 22 in the table: stats, logto, log-maxsize,
// touch-logreopen become sup's options; daemonize is refused with what to
// do instead (sup stays in the foreground).
import { expect, test } from "bun:test";
import { cleanEnv, dirWith, load, sup } from "./helpers.ts";

const uwsgi = (body: string) => dirWith({ "uwsgi.ini": `[uwsgi]\nhttp-socket = :8000\n${body}` });

test("stats, logto, log-maxsize (bytes → MB) and touch-logreopen map to sup's options", async () => {
  const { config } = await load(["--ini", "uwsgi.ini"], uwsgi("stats = 127.0.0.1:9191\nstats-http = true\nlogto = /var/log/app.log\nlog-maxsize = 52428800\ntouch-logreopen = /run/app/reopen\nlog-reopen = true\nlog-master = true\n"), cleanEnv());
  expect({ stats: config.stats, logto: config.logto, max: config["log-maxsize"], touch: config["touch-logreopen"] }).toEqual({ stats: "127.0.0.1:9191", logto: "/var/log/app.log", max: 50, touch: ["/run/app/reopen"] });
  // uWSGI's stats on a bare path is a unix socket; logto2 is logto (sup drops no privileges).
  const other = await load(["--ini", "uwsgi.ini"], uwsgi("stats = /tmp/stats.sock\nlogto2 = /var/log/b.log\n"), cleanEnv());
  expect({ stats: other.config.stats, logto: other.config.logto }).toEqual({ stats: "unix:/tmp/stats.sock", logto: "/var/log/b.log" });
});

test("daemonize is refused: sup stays in the foreground, under systemd or as a container's entrypoint", async () => {
  const r = await sup(["check", "--ini", "uwsgi.ini"], uwsgi("daemonize = /var/log/app.log\n"));
  expect(r.code).toBe(2);
  expect(r.stdout + r.stderr).toMatch(/daemonize[\s\S]*sup stays in the foreground: run it under systemd[\s\S]*docs\/kubernetes\.md[\s\S]*logto = FILE/);
});
