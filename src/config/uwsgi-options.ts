// Every uWSGI option real uwsgi.ini files use, as data: what sup does with
// it. One row per concept, with all of uWSGI's spellings of it.
//   mapped   the sup option it becomes (`to`), through a conversion (`as`,
//            src/config/uwsgi-convert.ts); "app.*" targets are parts of the
//            command sup builds to run a WSGI app (src/config/uwsgi-app.ts)
//   no-op    sup does it anyway, or it has no meaning for sup: the reason
//   decide   the user chooses: what to do, concretely; `blocks` when sup
//            cannot start the file until they have
//   not-yet  sup has no such feature today; `issue` is where it is coming.
//            To map one when it lands: verdict "mapped", `to` and `as`.
// Options not listed here fall to the family rules of
// src/config/uwsgi-families.ts. docs/uwsgi.md is generated from both
// (scripts/gen-uwsgi-doc.ts; test/config/uwsgi-doc.test.ts checks it).

export type Verdict = "mapped" | "no-op" | "decide" | "not-yet";
export type Conversion = "int" | "bool" | "text" | "address" | "socket" | "mode" | "owner" | "user" | "env" | "daemon" | "daemon-control" | "daemon-smart" | "mib" | "logger";

export interface UwsgiRule {
  readonly names: readonly string[];
  readonly verdict: Verdict;
  readonly to?: string;
  readonly as?: Conversion;
  readonly why: string;
  readonly issue?: number;
  readonly blocks?: boolean;
  /** A value for which the line means nothing to sup, and why. */
  readonly noopWhen?: { readonly value: RegExp; readonly why: string; /** The values it matches, in words, for docs/uwsgi.md. */ readonly shown?: string };
}

export const APP_SERVER = "part of the app command sup builds (gunicorn; `sup check` shows it), or set `command = …` to run another server";

export const UWSGI_RULES: readonly UwsgiRule[] = [
  // workers
  { names: ["processes", "workers"], verdict: "mapped", to: "processes", as: "int", why: "worker count; with the app command sup builds, one gunicorn forks this many workers (half the memory of as many single-worker gunicorns, BENCHMARKS.md)" },
  { names: ["master"], verdict: "no-op", why: "sup is always a master process" },
  { names: ["lazy-apps", "lazy"], verdict: "mapped", to: "app.lazy", as: "bool", why: "each worker imports the app itself: sup runs one single-worker gunicorn per worker instead of forking them from one preloaded arbiter" },
  { names: ["threads"], verdict: "mapped", to: "app.threads", as: "int", why: "gunicorn --threads N (its gthread worker)" },
  { names: ["enable-threads"], verdict: "no-op", why: "Python threads always run under gunicorn; uWSGI needed this to start the GIL" },
  { names: ["single-interpreter"], verdict: "no-op", why: "gunicorn runs one interpreter per process" },
  { names: ["thunder-lock"], verdict: "no-op", why: "serialises accept() inside uWSGI; sup's workers accept on the shared socket as gunicorn's do" },
  { names: ["cheaper", "cheaper-initial", "cheaper-step", "cheaper-algo", "cheaper-overload", "cheaper-rss-limit-soft", "cheaper-rss-limit-hard", "cheap", "idle", "die-on-idle"], verdict: "not-yet", why: "a worker count that follows the load; sup runs a fixed count (TTIN/TTOU change it by hand)" },
  { names: ["vacuum"], verdict: "no-op", why: "sup always removes its pidfile and the unix sockets it made" },
  { names: ["die-on-term"], verdict: "no-op", why: "TERM always stops sup gracefully (uWSGI reloads on TERM without it); reload with HUP" },
  { names: ["no-orphans"], verdict: "no-op", why: "sup's workers die with the master (PR_SET_PDEATHSIG, and its guard kills what they left)" },
  { names: ["need-app"], verdict: "mapped", to: "app.need-app", as: "bool", why: "the app command preloads the app and says READY=1 only then (gunicorn --preload, ready = notify): an app that does not load fails the start, and a reload into it rolls back" },
  { names: ["reload-mercy", "worker-reload-mercy"], verdict: "mapped", to: "worker-reload-mercy", as: "int", why: "seconds a stopping worker gets before SIGKILL" },
  { names: ["mule-reload-mercy"], verdict: "no-op", why: "sup has no mules; its programs stop with worker-reload-mercy" },
  // the app: the command sup runs
  { names: ["module", "wsgi"], verdict: "decide", to: "app.module", as: "text", why: `the app to load (package.module[:callable]): ${APP_SERVER}` },
  { names: ["wsgi-file", "file"], verdict: "decide", to: "app.wsgi-file", as: "text", why: `the file that defines the app: ${APP_SERVER} (the file's directory goes on the Python path, its name is the module)` },
  { names: ["callable"], verdict: "decide", to: "app.callable", as: "text", why: `the app's name in the module (default application): ${APP_SERVER}` },
  { names: ["home", "virtualenv", "venv", "pyhome"], verdict: "decide", to: "app.home", as: "text", why: "the virtualenv: sup runs its bin/gunicorn (install gunicorn there: HOME/bin/pip install gunicorn)" },
  { names: ["pythonpath", "python-path", "pp"], verdict: "decide", to: "app.pythonpath", as: "text", why: "gunicorn --pythonpath DIR; a glob is expanded as uWSGI expands it, on the machine that reads the file (gunicorn does not glob)" },
  { names: ["paste"], verdict: "decide", to: "app.paste", as: "text", why: "a PasteDeploy app (Pyramid): gunicorn --paste FILE (PasteDeploy must be installed)" },
  { names: ["paste-logger", "ini-paste-logged"], verdict: "no-op", why: "gunicorn --paste sets up logging from the same file's [loggers] sections" },
  { names: ["ini-paste"], verdict: "decide", to: "app.paste", as: "text", why: "a PasteDeploy app read from this file: gunicorn --paste FILE" },
  { names: ["mount", "worker-mount", "manage-script-name"], verdict: "decide", why: "several apps under URL prefixes: run each with its own command (one program each), or mount them in one WSGI app (werkzeug DispatcherMiddleware); gunicorn takes the prefix from SCRIPT_NAME (`mount = /=APP`, the app at the root URL, is the app of the command sup builds, as module = APP)" },
  { names: ["import", "pyimport", "py-import", "python-import", "shared-import", "shared-pyimport", "shared-py-import", "shared-python-import"], verdict: "decide", why: "import the module from your WSGI file instead (or gunicorn -c with an on_starting hook)" },
  { names: ["gevent", "gevent-early-monkey-patch", "gevent-monkey-patch", "async", "ugreen", "greenlet"], verdict: "decide", why: "an async loop: add `-k gevent --worker-connections N` to the gunicorn command (install gevent), or run an ASGI app under uvicorn" },
  { names: ["buffer-size"], verdict: "mapped", to: "app.buffer-size", as: "int", why: "largest request header: gunicorn --limit-request-field_size N (gunicorn's own limit, 8190 bytes, is kept when larger)" },
  { names: ["post-buffering", "post-buffering-bufsize", "body-read-warning"], verdict: "no-op", why: "gunicorn reads the body as the app asks for it; buffering a slow client's upload is the proxy's job (nginx buffers bodies by default)" },
  { names: ["wsgi-disable-file-wrapper", "wsgi-accept-buffers", "wsgi-strict", "wsgi-accept-buffer", "wsgi-env-behaviour", "wsgi-env-behavior"], verdict: "no-op", why: "uWSGI's WSGI internals; gunicorn implements WSGI itself" },
  { names: ["plugin", "plugins", "need-plugin", "need-plugins", "plugins-dir", "plugin-dir"], verdict: "no-op", why: "sup has no plugins: it runs a server as a command" },
  { names: ["py-tracebacker", "py-executable", "py-programname", "py-program-name", "py-sys-executable", "optimize", "pyargv", "python-version", "pyshell"], verdict: "decide", why: "Python interpreter settings: set them on the command (PYTHONOPTIMIZE, sys.argv) or in your WSGI file" },
  // sockets
  { names: ["http", "httprouter", "http-socket", "http11-socket"], verdict: "mapped", to: "listen", as: "address", why: "an HTTP listener: sup binds it and hands it to every worker (fd 3, LISTEN_FDS; gunicorn adopts it)", noopWhen: { value: /^$/, why: "empty: no address" } },
  { names: ["socket", "uwsgi-socket", "suwsgi-socket", "puwsgi-socket"], verdict: "decide", to: "listen", as: "socket", blocks: true, why: "uWSGI's binary protocol, which only uWSGI speaks: change nginx's `uwsgi_pass ADDR;` (and `include uwsgi_params;`) to `proxy_pass http://ADDR;` (a unix socket: `proxy_pass http://unix:/PATH;`); sup then serves HTTP on the same address" },
  { names: ["protocol", "socket-protocol"], verdict: "mapped", to: "listen", as: "socket", why: "http: the sockets speak HTTP, so `socket` lines become HTTP listeners; uwsgi: see socket" },
  { names: ["https", "https-socket", "ssl-socket", "https2"], verdict: "decide", blocks: true, why: "TLS: terminate it in the proxy (nginx listen 443 ssl) and give sup an http address, or add --certfile/--keyfile to the gunicorn command" },
  { names: ["shared-socket", "fastcgi-socket", "fastcgi-nph-socket", "scgi-socket", "scgi-nph-socket", "raw-socket", "zerg", "zerg-server", "undeferred-shared-socket"], verdict: "decide", blocks: true, why: "sup hands plain HTTP listeners to its workers: serve HTTP (http = ADDR) and point the proxy at it" },
  { names: ["listen"], verdict: "mapped", to: "listen-backlog", as: "int", why: "the listen queue length (uWSGI's listen is the backlog, not an address)" },
  { names: ["chmod-socket", "chmod"], verdict: "mapped", to: "listen-mode", as: "mode", why: "permission of unix listen sockets (empty: 666, as in uWSGI)" },
  { names: ["chown-socket"], verdict: "mapped", to: "listen-owner", as: "owner", why: "owner of unix listen sockets, USER[:GROUP]" },
  { names: ["reuse-port", "so-keepalive", "tcp-nodelay", "no-defer-accept", "freebind", "socket-timeout", "so-send-timeout", "so-write-timeout", "socket-send-timeout", "socket-write-timeout"], verdict: "no-op", why: "socket details: sup binds with SO_REUSEADDR; accept() and timeouts are the server's (gunicorn --timeout, --keep-alive)" },
  { names: ["http-timeout", "http-keepalive", "http-auto-chunked", "http-auto-gzip", "http-enable-proxy-protocol", "http-raw-body", "http-websockets", "http-buffer-size", "http-headers-timeout", "http-connect-timeout", "http-processes", "http-workers", "http-stats", "http-ss", "http-stats-server", "http-to", "http-manage-expect", "http-chunked-input"], verdict: "no-op", why: "settings of uWSGI's HTTP router process; sup has no router: the workers' server answers (gunicorn --keep-alive, --timeout) and the proxy in front does the rest" },
  // users
  { names: ["uid", "immediate-uid"], verdict: "mapped", to: "uid", as: "user", why: "workers run as this user, with its groups; sup stays root to bind sockets and write its files" },
  { names: ["gid", "immediate-gid"], verdict: "mapped", to: "gid", as: "user", why: "workers run with this group" },
  { names: ["umask"], verdict: "not-yet", why: "sup has no umask option yet: set UMask= in the systemd unit, or wrap the command (sh -c 'umask 022; exec …')" },
  { names: ["cap", "unshare", "chroot", "jail", "namespace", "ns", "pivot-root", "pivot_root", "emperor-use-clone"], verdict: "decide", why: "isolation: let systemd do it (CapabilityBoundingSet=, PrivateTmp=, RootDirectory=)" },
  // files, environment
  { names: ["chdir", "chdir2"], verdict: "mapped", to: "chdir", as: "text", why: "the workers' directory" },
  { names: ["env"], verdict: "mapped", to: "env", as: "env", why: "a worker environment variable, KEY=VALUE", noopWhen: { value: /^(?![^=]*=)(?:$|[#;]|.*\s)/, shown: "empty, a comment or words, with no \"=\"", why: "uWSGI unsets the variable so named (there is no \"=\"), and no environment has one: the blank and comment lines of a file `for-readline` reads into env = %(_)" } },
  { names: ["unenv"], verdict: "not-yet", why: "sup cannot remove a variable from the workers' environment yet: unset it before starting sup" },
  { names: ["pidfile", "pidfile2", "safe-pidfile", "safe-pidfile2"], verdict: "mapped", to: "pidfile", as: "text", why: "the master's pid, written atomically (as safe-pidfile does)" },
  { names: ["procname", "procname-prefix", "procname-prefix-spaced", "procname-append", "procname-master", "auto-procname"], verdict: "no-op", why: "process names: sup status names workers by id and pid; gunicorn --name sets titles when setproctitle is installed" },
  { names: ["strict"], verdict: "no-op", why: "sup checks every key anyway (with strict, a key that is not an option is an error, as in uWSGI)" },
  { names: ["print", "show-config", "dump-options", "version"], verdict: "no-op", why: "sup logs what it runs; `sup config` prints the effective config" },
  { names: ["honour-stdin"], verdict: "no-op", why: "workers' stdin is /dev/null under sup" },
  { names: ["max-fd", "limit-as", "limit-nproc"], verdict: "decide", why: "resource limits: set LimitNOFILE=, LimitAS= in the systemd unit, or ulimit before sup" },
  // reloads
  { names: ["touch-reload"], verdict: "mapped", to: "touch-reload", as: "text", why: "graceful reload when the file is touched" },
  { names: ["touch-chain-reload", "touch-workers-reload"], verdict: "mapped", to: "touch-chain-reload", as: "text", why: "rolling reload, one worker at a time, when the file is touched" },
  { names: ["fs-reload", "fs-brutal-reload"], verdict: "mapped", to: "touch-reload", as: "text", why: "reload when the file or directory changes (its mtime; a directory's changes when entries come and go)" },
  { names: ["py-autoreload", "py-auto-reload", "python-autoreload", "python-auto-reload"], verdict: "mapped", to: "py-autoreload", as: "int", why: "reload when a source file changes, checked every N seconds (sup watches the files under chdir, not the modules Python loaded)" },
  { names: ["py-auto-reload-ignore"], verdict: "no-op", why: "names Python modules; sup watches files and skips caches and virtualenvs itself (autoreload-ignore takes globs)" },
  { names: ["check-interval"], verdict: "mapped", to: "check-interval", as: "int", why: "seconds between touch-file checks" },
  { names: ["touch-logreopen"], verdict: "mapped", to: "touch-logreopen", as: "text", why: "reopen the logto file when this file is touched (logrotate's postrotate)" },
  { names: ["log-reopen"], verdict: "no-op", why: "sup reopens the logto file on USR1, `sup reopen-logs` and touch-logreopen (what logrotate's postrotate runs), not on a reload" },
  { names: ["master-fifo", "master-as-root"], verdict: "decide", why: "control a running sup with signals or `sup reload|stop|status --pidfile F`" },
  { names: ["reload-on-exception", "catch-exceptions"], verdict: "no-op", why: "gunicorn answers 500 and keeps the worker" },
  // limits and recycling
  { names: ["harakiri"], verdict: "mapped", to: "app.timeout", as: "int", why: "uWSGI kills a worker whose request takes longer; sup does not see requests, so with the app command sup builds, gunicorn's --timeout N does the closest: gunicorn kills a worker silent for N seconds (a sync worker is silent while one request runs) and starts another. For any other server, sup's --watchdog N replaces a worker that stops sending WATCHDOG=1 (docs/uwsgi.md)" },
  { names: ["harakiri-verbose", "harakiri-no-arh", "no-harakiri-arh", "no-harakiri-after-req-hook", "harakiri-graceful-timeout", "harakiri-graceful-signal"], verdict: "no-op", why: "details of uWSGI's per-request timeout; gunicorn's --timeout logs the worker it kills, and sup's --watchdog sends --watchdog-signal (SIGABRT) before stopping one" },
  { names: ["max-requests"], verdict: "mapped", to: "app.max-requests", as: "int", why: "sup does not see requests, so it cannot count them; with the app command sup builds, gunicorn's --max-requests N recycles a worker after N requests. For recycling whatever the server, use --max-worker-lifetime (seconds)" },
  { names: ["max-requests-delta"], verdict: "mapped", to: "app.max-requests-delta", as: "int", why: "gunicorn --max-requests-jitter: each worker's limit is spread by up to this many requests" },
  { names: ["min-worker-lifetime"], verdict: "no-op", why: "sup replaces a worker only after its successor is ready, so a worker never recycles faster than one boots" },
  { names: ["max-worker-lifetime"], verdict: "mapped", to: "max-worker-lifetime", as: "int", why: "seconds a worker serves before it is replaced; sup starts its successor first and retires it only once the successor is ready, so recycling costs no capacity" },
  { names: ["max-worker-lifetime-delta"], verdict: "mapped", to: "max-worker-lifetime-delta", as: "int", why: "spreads the workers' lifetimes so they never come due together (worker N of P: + delta*(N-1)/P seconds)" },
  { names: ["reload-on-rss", "evil-reload-on-rss"], verdict: "mapped", to: "reload-on-rss", as: "int", why: "MB of resident memory (of the worker's whole process group) past which it is replaced, its successor ready first: uWSGI's kills it mid-request, sup's never does" },
  { names: ["reload-on-as", "evil-reload-on-as"], verdict: "decide", why: "address space is not what a worker costs; use reload-on-rss (resident memory) instead" },
  { names: ["limit-post"], verdict: "decide", why: "the largest request body: the proxy's job (nginx client_max_body_size)" },
  { names: ["memory-report"], verdict: "no-op", why: "`sup status` and USR1 show each worker's RSS" },
  // logs and stats
  { names: ["logto", "logto2"], verdict: "mapped", to: "logto", as: "text", why: "the master's log and the workers' output go to this file (appended, 0640); sup never drops privileges, so logto2 is logto" },
  { names: ["log-maxsize"], verdict: "mapped", to: "log-maxsize", as: "mib", why: "rotate the logto file past this size (uWSGI's bytes become sup's MB); the rotated file is FILE.1" },
  { names: ["daemonize", "daemonize2"], verdict: "decide", blocks: true, why: "sup stays in the foreground: run it under systemd (`sup systemd-unit …` writes a Type=notify unit, docs/systemd.md) or as a container's entrypoint (docs/kubernetes.md); for the log file daemonize named, set logto = FILE" },
  { names: ["log-master", "log-master-bufsize"], verdict: "no-op", why: "with logto, the master writes every worker's lines itself (through a bounded writer that never blocks)" },
  { names: ["logfile-chown", "logfile-chmod"], verdict: "decide", why: "sup creates the logto file 0640, owned by the master's user: chown or chmod it once yourself (logrotate's `create MODE OWNER GROUP` does it at each rotation)" },
  { names: ["log-backupname"], verdict: "decide", why: "with log-maxsize, sup keeps the rotated file as FILE.1; for other names or more files, rotate with logrotate" },
  { names: ["log-truncate"], verdict: "decide", why: "sup appends to the logto file; truncate it before starting sup if you want it empty" },
  { names: ["disable-logging", "log-4xx", "log-5xx", "log-slow", "log-big", "log-sendfile", "log-x-forwarded-for", "log-format", "logformat", "log-date", "logdate", "logformat-strftime", "log-format-strftime", "req-logger", "logger-req", "log-req-route", "log-req-encoder", "log-ioerror", "log-micros", "log-zero"], verdict: "decide", why: "request logs are the server's: gunicorn --access-logfile - and --access-logformat, or the proxy's access log" },
  { names: ["logger"], verdict: "mapped", to: "logto", as: "logger", why: "file:PATH (file:logfile=PATH,maxsize=BYTES), uWSGI's log file, is sup's logto (and log-maxsize); another logger, or one named for log-route, is not in sup yet (issue 22)", noopWhen: { value: /^stdio:?$/, shown: "stdio", why: "sup writes its log to stderr already" } },
  { names: ["log-route", "log-encoder", "log-drain", "log-filter", "log-alarm", "alarm-log"], verdict: "not-yet", issue: 22, why: "sup prefixes each worker's output lines and writes them to its stdout/stderr; routing and encoders are not there yet" },
  { names: ["stats", "stats-server"], verdict: "mapped", to: "stats", as: "address", why: "sup's stats server: /metrics (Prometheus), /healthz, /readyz and /status (the JSON of sup status --json) over HTTP; uwsgitop does not read it: use `sup top`" },
  { names: ["stats-http", "stats-minified", "stats-min"], verdict: "no-op", why: "sup's stats server always speaks HTTP, and /status is its own JSON" },
  { names: ["enable-metrics", "metrics-dir", "metric-dir"], verdict: "no-op", why: "sup's metrics are always kept, and served at /metrics with stats" },
  { names: ["stats-push", "carbon"], verdict: "decide", why: "sup pushes no metrics: let Prometheus scrape /metrics (stats = ADDR), or a Prometheus agent forward them" },
  // other programs
  { names: ["attach-daemon", "attach-daemon2"], verdict: "mapped", to: "program", as: "daemon", why: "a program of one worker beside the app (docs/programs.md): restarted when it dies, with the crash backoff, run by /bin/sh -c as uWSGI runs it; unlike uWSGI's, a HUP leaves it alone unless its line changed" },
  { names: ["attach-control-daemon"], verdict: "mapped", to: "program", as: "daemon-control", why: "a program beside the app whose exit stops the whole master (on-exit = \"stop-all\"), as uWSGI's control daemon does" },
  { names: ["smart-attach-daemon", "smart-attach-daemon2"], verdict: "decide", to: "program", as: "daemon-smart", why: "a daemon that puts itself in the background and is followed by its pidfile: sup supervises processes in the foreground; it becomes a program with this command, from which you remove the daemonize flag (memcached -d, redis daemonize yes, …)" },
  { names: ["legion-attach-daemon", "legion-smart-attach-daemon"], verdict: "not-yet", why: "a daemon run only on the Legion's lord: sup has no Legion (cluster) support" },
  { names: ["mule", "mules", "farm"], verdict: "not-yet", issue: 20, why: "background processes beside the workers are coming (issue 20): run the mule's code as its own program" },
  { names: ["cron", "unique-cron", "cron2", "legion-cron", "cron-harakiri"], verdict: "decide", why: "a schedule: a systemd timer or crontab entry that runs the command" },
  { names: ["spooler", "spooler-processes", "spooler-ordered", "spooler-frequency", "spooler-freq", "spooler-py-import", "spooler-import", "spooler-pyimport", "spooler-python-import", "spooler-chdir", "spooler-max-tasks", "spooler-harakiri"], verdict: "decide", why: "a task queue: Celery, RQ or Dramatiq, run as its own service" },
  { names: ["hook-master-start", "hook-pre-app", "hook-post-app", "hook-accepting", "hook-accepting1", "hook-as-user", "hook-as-root", "hook-asap", "hook-post-fork", "exec-asap", "exec-pre-app", "exec-post-app", "exec-as-root", "exec-as-user", "exec-as-user-atexit", "exec-pre-jail", "exec-post-jail", "exec-in-jail", "call-asap", "call-pre-app", "call-post-app"], verdict: "decide", why: "commands around the start: ExecStartPre=/ExecStartPost= in the systemd unit, or a wrapper script as the command", noopWhen: { value: /^unix_signal:15 gracefully_kill_them_all$/, why: "TERM already stops sup gracefully" } },
  // what the web server does
  { names: ["static-map", "static-map2", "static-expires", "static-expires-uri", "static-expires-type", "static-gzip", "static-gzip-all", "static-index", "static-skip-ext", "check-static", "static-safe", "static-cache-paths", "offload-threads", "offload-thread", "file-serve-mode", "mimefile", "mime-file"], verdict: "decide", why: "static files belong to the web server (nginx: location /static/ { alias DIR/; }) or to the app (WhiteNoise for Django/Flask)" },
  { names: ["route", "route-if", "route-if-not", "route-run", "route-label", "route-uri", "route-host", "route-qs", "route-user-agent", "route-remote-addr", "final-route", "error-route", "response-route", "add-header", "del-header", "rem-header", "response-header-collect", "collect-header", "pull-header"], verdict: "decide", why: "request rewriting and headers belong to the web server (nginx rewrite, add_header) or to app middleware" },
  { names: ["vhost", "vhost-host", "no-default-app"], verdict: "decide", why: "uWSGI's virtual hosting: run one sup per app and let the web server pick it by host name" },
  { names: ["cache", "cache2", "cache-blocksize", "cache-store", "locks", "sharedarea", "queue"], verdict: "decide", why: "uWSGI's shared memory API: use Redis or memcached from the app" },
  { names: ["ignore-sigpipe", "ignore-write-errors", "disable-write-exception"], verdict: "no-op", why: "quiets uWSGI's logs when a client goes away; gunicorn does not raise these" },
  { names: ["pcre-jit", "ksm", "never-swap", "cpu-affinity"], verdict: "no-op", why: "uWSGI internals with no meaning for sup" },
  { names: ["emperor", "vassal-sos", "emperor-tyrant", "emperor-on-demand-directory", "emperor-on-demand-dir", "vassals-inherit"], verdict: "decide", why: "one sup per app, each under its own systemd unit (`sup systemd-unit` writes one)" },
  // the reader's own keys: they were acted on while reading
  { names: ["ini", "include", "inherit", "config", "set", "set-placeholder", "set-ph", "for", "for-glob", "for-times", "for-readline", "endfor", "end-for", "if-env", "ifenv", "if-not-env", "if-opt", "if-not-opt", "if-exists", "ifexists", "if-not-exists", "if-file", "if-not-file", "if-dir", "ifdir", "if-directory", "if-not-dir", "if-hostname", "if-not-hostname", "if-hostname-match", "if-not-hostname-match", "if-plugin", "ifplugin", "if-not-plugin", "if-reload", "if-not-reload", "endif", "end-if", "end"], verdict: "no-op", why: "read as uWSGI reads it: what it includes or sets is listed line by line" },
];
