import { expect, test } from "bun:test";
import { nearest } from "../../src/core/suggest.ts";

const UWSGI = ["st", "pp", "gid", "processes", "threads", "stats", "touch-reload", "reload-mercy"];

test("a typo or a name cut short is near", () => {
  expect(nearest("guid", UWSGI)).toBe("gid");
  expect(nearest("process", UWSGI)).toBe("processes");
  expect(nearest("thread", UWSGI)).toBe("threads");
  expect(nearest("touch-reloads", UWSGI)).toBe("touch-reload");
  expect(nearest("reload", UWSGI)).toBe("reload-mercy");
  expect(nearest("strict-mode", [...UWSGI, "strict"])).toBe("strict");
});

test("a known name that only starts the given one, or one mostly edited away, is not (supervisord keys in a uwsgi.ini)", () => {
  expect(nearest("stopsignal", UWSGI)).toBeUndefined();
  expect(nearest("stdout_logfile", UWSGI)).toBeUndefined();
  expect(nearest("app", UWSGI)).toBeUndefined();
});
