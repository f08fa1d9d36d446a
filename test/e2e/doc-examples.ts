// What the docs show besides the recipes (recipes.ts): `sup` lines and
// example files that are not one command's recipe, each with the test file
// that runs it. recipes-docs.test.ts accepts a doc's line or config block
// only when it is here (a block must begin with its file's first line and
// be that file to the letter) and the doc names the test.

export interface DocLine {
  line: string;
  test: string;
}

/** docs/health.md's line; test/e2e/health.test.ts runs it (with its own port). */
export const HEALTH_LINE = "sup -p 4 --listen 127.0.0.1:8000 --ready notify --max-worker-lifetime 4 --max-worker-lifetime-delta 4 -- python3 examples/hello.py";

export const DOC_LINES: DocLine[] = [
  { line: "sup --ini sup.ini", test: "test/e2e/programs.test.ts" },
  { line: "sup --procfile Procfile", test: "test/e2e/programs.test.ts" },
  { line: "sup -c supervisord.conf", test: "test/e2e/programs.test.ts" },
  { line: "sup --ini uwsgi.ini", test: "test/e2e/uwsgi-dropin.test.ts" },
  { line: "sup migrate uwsgi uwsgi.ini", test: "test/config/uwsgi-corpus.test.ts" },
  { line: HEALTH_LINE, test: "test/e2e/health.test.ts" },
];

/** Example files a doc shows whole, and the test that runs each. */
export const DOC_FILES: { file: string; test: string }[] = [
  { file: "examples/programs/sup.toml", test: "test/e2e/programs.test.ts" },
  { file: "examples/programs/sup.ini", test: "test/e2e/programs.test.ts" },
  { file: "examples/programs/Procfile", test: "test/e2e/programs.test.ts" },
];
