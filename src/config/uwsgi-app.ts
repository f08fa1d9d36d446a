// The command that runs a uWSGI Python app under sup. uWSGI loads the app
// itself (module, wsgi-file, paste; callable; home; pythonpath); sup runs a
// WSGI server as the worker command instead: gunicorn, which adopts the
// sockets sup holds (LISTEN_FDS) and, with --preload, imports the app before
// it says READY=1, so a broken import fails the start and rolls a reload back.
//
// Layout (bench/wsgi-layout.ts, BENCHMARKS.md): one sup worker whose gunicorn
// forks `processes` workers from the preloaded app costs half the memory of
// as many sup workers of one gunicorn each (each carries an arbiter and its
// own copy of the app). A reload still starts a whole new gunicorn beside
// the old one and rolls back when it does not come up. With lazy-apps the
// file asks that no two workers share what the import made (connections,
// threads): then each sup worker is its own gunicorn.

export interface AppSpec {
  module?: string;
  "wsgi-file"?: string;
  callable?: string;
  home?: string;
  pythonpath: string[];
  paste?: string;
  threads?: number;
  "buffer-size"?: number;
  /** harakiri: gunicorn --timeout (a worker silent that long is killed and replaced by gunicorn). */
  timeout?: number;
  /** max-requests (and its delta): gunicorn --max-requests, --max-requests-jitter. */
  "max-requests"?: number;
  "max-requests-delta"?: number;
  lazy?: boolean;
  "need-app"?: boolean;
  /** The first line that named a part of the app. */
  where?: string;
}

export interface AppCommand {
  argv: string[];
  /** sup's worker count for this layout. */
  processes: number;
  /** One line for the log: what runs, why this layout, how to choose another. */
  description: string;
}

export interface AppHost {
  /** The absolute path of an executable on PATH, or undefined. */
  which(name: string): string | undefined;
  isExecutable(path: string): boolean;
  /** Build the command even when the server is not installed here (sup migrate: the config runs elsewhere). */
  elsewhere?: boolean;
  /** What a glob matches from `chdir`, sorted; none: the pattern as written (uWSGI's pythonpath handler globs). */
  glob?(pattern: string): string[];
}

/** gunicorn's own header limit (--limit-request-field_size default). */
const GUNICORN_FIELD_LIMIT = 8190;
const IDENTIFIER = /^[A-Za-z_]\w*$/;

/** Whether the file names an app for sup to run. */
export const hasApp = (app: AppSpec) => app.module !== undefined || app["wsgi-file"] !== undefined || app.paste !== undefined;

/** How gunicorn names the app: a directory for its Python path, args before it, the app argument. */
function target(app: AppSpec): { path?: string; args: string[]; what: string } | { error: string } {
  const callable = app.callable ?? "application";
  let module = app.module;
  let file = app["wsgi-file"];
  // uWSGI loads module first, then wsgi-file, then paste; the first takes the
  // root mount point (plugins/python/python_plugin.c uwsgi_python_init_apps).
  // `module = proj.wsgi` is Django's module proj/wsgi.py, which uWSGI imports
  // as a module even beside a file named proj.wsgi; only a name ending in .py
  // (no module's name: uWSGI fails to import it) is taken as the file meant.
  if (module !== undefined && /\.py$/.test(module)) [file, module] = [module, undefined];
  if (module !== undefined) return { args: [], what: module.includes(":") ? module : `${module}:${callable}` };
  if (file !== undefined) {
    const slash = file.lastIndexOf("/");
    const dir = slash >= 0 ? file.slice(0, slash) || "/" : ".";
    const stem = file.slice(slash + 1).replace(/\.(py|wsgi)$/, "");
    if (!IDENTIFIER.test(stem)) return { error: `wsgi-file ${file}: its name is no Python module name, so gunicorn cannot import it; rename it (e.g. ${dir}/wsgi.py) or set command = … ` };
    // A relative directory is found from the workers' directory, as uWSGI finds the file.
    return { ...(dir === "." ? {} : { path: dir }), args: [], what: `${stem}:${callable}` };
  }
  return { args: ["--paste", app.paste!.replace(/^config:/, "")], what: "" };
}

/** The command for `app`, or why there is none; undefined when the file names no app. `chdir` is the workers' directory, absolute. */
export function appCommand(app: AppSpec, processes: number, chdir: string, host: AppHost): AppCommand | { error: string } | undefined {
  if (!hasApp(app)) return undefined;
  let gunicorn: string | undefined;
  if (app.home !== undefined) {
    const home = app.home.replace(/\/+$/, "");
    gunicorn = `${home.startsWith("/") ? "" : `${chdir}/`}${home}/bin/gunicorn`;
    if (!host.elsewhere && !host.isExecutable(gunicorn)) {
      return { error: `the app runs from the virtualenv ${home} (home/virtualenv), which has no gunicorn: install it there (${home}/bin/pip install gunicorn), or set command = … to run another server` };
    }
  } else {
    gunicorn = host.elsewhere ? "gunicorn" : host.which("gunicorn");
    if (!gunicorn) return { error: "no WSGI server to run the app (uWSGI loaded it itself; sup runs a server as the command): install gunicorn (pip install gunicorn, or apt install gunicorn), or set command = … to run another server" };
  }
  const t = target(app);
  if ("error" in t) return t;
  const lazy = app.lazy === true;
  const argv = [gunicorn, "--preload"];
  if (!lazy && processes > 1) argv.push("--workers", String(processes));
  if ((app.threads ?? 1) > 1) argv.push("--threads", String(app.threads));
  if ((app["buffer-size"] ?? 0) > GUNICORN_FIELD_LIMIT) argv.push("--limit-request-field_size", String(app["buffer-size"]));
  if ((app.timeout ?? 0) > 0) argv.push("--timeout", String(app.timeout));
  if ((app["max-requests"] ?? 0) > 0) argv.push("--max-requests", String(app["max-requests"]));
  if ((app["max-requests-delta"] ?? 0) > 0 && (app["max-requests"] ?? 0) > 0) argv.push("--max-requests-jitter", String(app["max-requests-delta"]));
  // One --pythonpath: gunicorn keeps only the last of several, so the file's
  // directory joins the pythonpath lines' directories in the one list.
  const expand = (p: string) => (host.glob && /[*?[]/.test(p) ? host.glob(p) : [p]);
  const paths = [...app.pythonpath.flatMap(expand), ...(t.path === undefined ? [] : [t.path])];
  if (paths.length > 0) argv.push("--pythonpath", paths.join(","));
  argv.push(...t.args);
  if (t.what) argv.push(t.what);
  const layout = lazy
    ? `${processes} sup worker${processes === 1 ? "" : "s"} of one gunicorn each (lazy-apps: no two workers share the imported app)`
    : `one sup worker whose gunicorn forks ${processes} worker${processes === 1 ? "" : "s"} from the preloaded app (half the memory of one gunicorn per sup worker)`;
  return {
    argv,
    processes: lazy ? processes : 1,
    description: `${argv.join(" ")}: ${layout}, ready when the app is imported (ready = notify); to run another server, set command = … in the file or give it after --`,
  };
}
