// The uWSGI options src/config/uwsgi-options.ts does not list one by one,
// by family: a name prefix or the plugin that defines the option
// (src/config/uwsgi-names.ts). The first rule that matches decides. A key
// that is no uWSGI option at all is not decided here (src/config/uwsgi-translate.ts:
// a placeholder, or a typo with "did you mean").
import { UWSGI_NAMES } from "./uwsgi-names.ts";
import { UWSGI_RULES, type UwsgiRule, type Verdict } from "./uwsgi-options.ts";

export interface UwsgiFamily {
  /** What it covers, for docs/uwsgi.md. */
  readonly label: string;
  readonly prefix?: RegExp;
  readonly plugins?: readonly string[];
  readonly verdict: Verdict;
  readonly why: string;
  readonly issue?: number;
}

const ASYNC = "an async loop: run an ASGI app under uvicorn, or gunicorn -k gevent";

export const UWSGI_FAMILIES: readonly UwsgiFamily[] = [
  { label: "route-*, router-*, response-route-*, final-route-*, error-route-*", prefix: /^(route|router-|response-route|final-route|error-route)/, verdict: "decide", why: "request rewriting belongs to the web server (nginx rewrite, return) or to app middleware" },
  { label: "static-*", prefix: /^static-/, verdict: "decide", why: "static files belong to the web server or to WhiteNoise" },
  { label: "log-*, logger-*, req-logger-*, alarm-*", prefix: /^(log|req-log|alarm)/, verdict: "not-yet", issue: 22, why: "sup writes its log and the workers' output to stderr/stdout; log files, routing and alarms are coming" },
  { label: "stats-*, metric-*, carbon-*", prefix: /^(stats|metric|carbon)/, verdict: "not-yet", issue: 22, why: "stats are coming; `sup status --json` today" },
  { label: "harakiri-*, max-*, reload-on-*, evil-reload-*", prefix: /^(harakiri|max-|reload-on|evil-reload)/, verdict: "not-yet", why: "sup recycles workers by --max-worker-lifetime, --reload-on-rss, --watchdog and --health; this one has no sup form" },
  { label: "mule-*", prefix: /^mule/, verdict: "not-yet", issue: 20, why: "processes beside the workers are coming (issue 20)" },
  { label: "cheaper-*", prefix: /^cheap/, verdict: "not-yet", why: "sup runs a fixed worker count (TTIN/TTOU change it)" },
  { label: "emperor-*, vassal-*", prefix: /^(emperor|vassal|imperial)/, verdict: "decide", why: "one sup per app, each under its own systemd unit" },
  { label: "spooler-*", prefix: /^spooler/, verdict: "decide", why: "a task queue (Celery, RQ) as its own service" },
  { label: "hook-*, exec-*, call-*, mount-*, umount-*", prefix: /^(hook-|exec-|call-|mount-|umount-)/, verdict: "decide", why: "commands around the start belong to the systemd unit (ExecStartPre=) or a wrapper script" },
  { label: "cache-*, sharedarea-*, queue-*", prefix: /^(cache|sharedarea|queue)/, verdict: "decide", why: "uWSGI's shared memory: use Redis or memcached" },
  { label: "touch-*", prefix: /^touch-/, verdict: "not-yet", why: "sup reloads on touch-reload and touch-chain-reload only" },
  { label: "legion-*, subscribe-*, subscription-*", prefix: /^(legion|subscri)/, verdict: "decide", why: "uWSGI clustering: use your load balancer's health checks" },
  { label: "http-* (uWSGI's HTTP router)", prefix: /^https?-/, verdict: "no-op", why: "a setting of uWSGI's HTTP router process: sup has no router, the workers' server answers" },
  { label: "fastrouter, rawrouter, sslrouter, forkptyrouter, zergpool plugins", plugins: ["fastrouter", "rawrouter", "sslrouter", "forkptyrouter", "zergpool", "corerouter"], verdict: "decide", why: "a uWSGI router: put nginx or haproxy in front" },
  { label: "python plugin (py-*, wsgi-*, …)", plugins: ["python", "pypy"], verdict: "decide", why: "a setting of uWSGI's Python: set it on the server sup runs (its flags) or in the app" },
  { label: "gevent, greenlet, asyncio, tornado, ugreen, stackless plugins", plugins: ["gevent", "greenlet", "asyncio", "tornado", "ugreen", "stackless", "fiber", "coroae"], verdict: "decide", why: ASYNC },
  { label: "php plugin", plugins: ["php"], verdict: "decide", why: "PHP: run php-fpm as its own service (or as the command)" },
  { label: "rack plugin", plugins: ["rack", "rbthreads"], verdict: "decide", why: "Ruby: run puma or unicorn as the command" },
  { label: "psgi plugin", plugins: ["psgi"], verdict: "decide", why: "Perl: run starman or plackup as the command" },
  { label: "jvm, jwsgi, ring, mono, lua, gccgo, cgi plugins", plugins: ["jvm", "jwsgi", "ring", "mono", "lua", "gccgo", "cgi"], verdict: "decide", why: "sup runs any server as a command: run that language's own server" },
  { label: "other plugins", plugins: [], verdict: "decide", why: "an option of a uWSGI plugin: sup has no plugins, run that feature's own service" },
  { label: "other core options", plugins: ["core"], verdict: "not-yet", why: "a uWSGI feature sup has no equivalent for; sup ignores it" },
];

const BY_NAME = new Map<string, UwsgiRule>(UWSGI_RULES.flatMap((r) => r.names.map((n) => [n, r] as const)));

/** How sup treats a uWSGI option: its own row, else its family; undefined for a key uWSGI does not know. */
export function ruleFor(key: string): UwsgiRule | undefined {
  const own = BY_NAME.get(key);
  if (own) return own;
  const names = UWSGI_NAMES[key];
  if (names === undefined) return undefined;
  const plugin = names.split(" ")[0]!;
  const family = UWSGI_FAMILIES.find((f) => f.prefix?.test(key) || f.plugins?.includes(plugin) || (f.plugins?.length === 0 && plugin !== "core"))!;
  return { names: [key], verdict: family.verdict, why: family.why, issue: family.issue };
}
