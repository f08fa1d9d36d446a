// Runs the real dist/sup as a user would and cleans up every process tree it
// started, by pid, even when a test fails.
import { afterEach } from "bun:test";
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { onSuiteEnd } from "../preload.ts";

export const ROOT = resolve(import.meta.dir, "../..");
export const SUP = join(ROOT, "dist/sup");
export const FIXTURES = join(ROOT, "test/fixtures");
export const fixture = (name: string) => join(FIXTURES, name);

export { isAlive as alive } from "../../src/control/pidfile.ts";

/** A process that still runs: it exists and is not a zombie (dead, waiting for whoever reaps it; this machine's PID 1 may take its time). */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return false;
  }
}

/** Polls `fn` every 20 ms until it returns a truthy value; throws after `ms`. */
export async function waitUntil<T>(fn: () => T | Promise<T>, ms: number, what: string | (() => string)): Promise<NonNullable<Awaited<T>>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<Awaited<T>>;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === "string" ? what : what()}`);
    await Bun.sleep(20);
  }
}

/** A port nobody listens on right now (127.0.0.1). */
export async function freePort(): Promise<number> {
  return await new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A base port with n consecutive free ports (for --port-base). */
export async function freePorts(n: number): Promise<number> {
  const canBind = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
  for (let tries = 0; tries < 50; tries++) {
    const base = 20000 + Math.floor(Math.random() * 40000);
    let ok = true;
    for (let i = 0; i < n && ok; i++) ok = await canBind(base + i);
    if (ok) return base;
  }
  throw new Error(`no ${n} consecutive free ports found`);
}

const dirs: string[] = [];
/** A fresh dir, removed after the test; mode 0700 unless told (0o1777: shared like /tmp). */
export function tempDir(mode?: number): string {
  const d = mkdtempSync(join(tmpdir(), "sup-test-"));
  dirs.push(d);
  if (mode !== undefined) chmodSync(d, mode);
  return d;
}

export interface RunOpts {
  cwd?: string;
  env?: Record<string, string>;
  /** Another copy of the binary (one nobody can reach, see forNobody). */
  sup?: string;
  /** Turns [sup, ...args] into the argv to run: a user switch, a wrapper shell that exec's it. */
  wrap?: (argv: string[]) => string[];
}

const argvOf = (args: string[], opts: RunOpts) => (opts.wrap ?? ((a: string[]) => a))([opts.sup ?? SUP, ...args]);

export const isRoot = process.getuid?.() === 0;
/** Runs argv as nobody (uid and gid 65534, no groups); only root can. */
export const asNobody = (argv: string[]) => ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ...argv];

let nobodyCopy: { sup: string; fixture: (name: string) => string } | undefined;
/**
 * dist/sup and the fixtures where nobody can execute and read them: in place
 * when the checkout is traversable by others, otherwise copied into a
 * world-readable temp dir once.
 */
export function forNobody(): { sup: string; fixture: (name: string) => string } {
  if (nobodyCopy) return nobodyCopy;
  const probe = Bun.spawnSync(asNobody(["sh", "-c", 'test -x "$1" && test -r "$2"', "sh", SUP, fixture("sleeper.sh")]));
  if (probe.exitCode === 0) return (nobodyCopy = { sup: SUP, fixture });
  const d = mkdtempSync(join(tmpdir(), "sup-nobody-"));
  chmodSync(d, 0o755);
  cpSync(SUP, join(d, "sup"));
  cpSync(FIXTURES, join(d, "fixtures"), { recursive: true });
  onSuiteEnd(() => rmSync(d, { recursive: true, force: true })); // before the check for leftovers (test/preload.ts)
  return (nobodyCopy = { sup: join(d, "sup"), fixture: (name) => join(d, "fixtures", name) });
}

export class Master {
  out = "";
  readonly proc: ReturnType<typeof Bun.spawn>;
  readonly exited: Promise<number>;

  constructor(args: string[], opts: RunOpts = {}) {
    this.proc = Bun.spawn(argvOf(args, opts), {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const pumps = Promise.all([this.pump(this.proc.stdout as ReadableStream<Uint8Array>), this.pump(this.proc.stderr as ReadableStream<Uint8Array>)]);
    // The exit can be seen before the last lines are read from the pipes: a
    // test that reads `out` after the exit waits for them (at most 2 s: a
    // process that outlived the master may hold the pipes open).
    this.exited = this.proc.exited.then(async (code) => {
      await Promise.race([pumps, Bun.sleep(2000)]);
      return code;
    });
    started.push(this);
  }

  private async pump(s: ReadableStream<Uint8Array>) {
    const d = new TextDecoder();
    try {
      for await (const c of s) this.out += d.decode(c, { stream: true });
    } catch {
      // the stream was cancelled: what was read is kept
    }
  }

  get pid() {
    return this.proc.pid;
  }

  /** Waits until the output matches; returns the match. */
  async waitFor(re: RegExp, ms = 10_000): Promise<RegExpMatchArray> {
    return await waitUntil(() => this.out.match(re), ms, () => `${re} in output:\n${this.out}`);
  }

  /** Counts matches of a global regexp in the output so far. */
  count(re: RegExp): number {
    return [...this.out.matchAll(re)].length;
  }

  /** Pids of workers this master ever spawned, from its log. */
  workerPids(): number[] {
    return [...this.out.matchAll(/worker \d+ pid (\d+) gen \d+ spawned/g)].map((m) => Number(m[1]));
  }

  /** Pids of workers currently live, per the log (spawned and not exited). */
  livePids(): number[] {
    const exited = new Set([...this.out.matchAll(/worker \d+ pid (\d+) gen \d+ exited/g)].map((m) => Number(m[1])));
    return this.workerPids().filter((p) => !exited.has(p));
  }

  signal(sig: NodeJS.Signals) {
    process.kill(this.pid, sig);
  }

  async exitCode(ms = 15_000): Promise<number> {
    return await Promise.race([this.exited, Bun.sleep(ms).then(() => { throw new Error(`master did not exit within ${ms} ms:\n${this.out}`); })]);
  }

  /** Kills the master and every worker group it spawned. */
  kill() {
    for (const p of this.workerPids()) {
      try {
        process.kill(-p, "SIGKILL");
      } catch {}
    }
    try {
      process.kill(this.pid, "SIGKILL");
    } catch {}
  }
}

const started: Master[] = [];
const extraPids: number[] = [];
/** Registers a pid (a process group leader) for cleanup. */
export const track = (pid: number) => extraPids.push(pid);

/** Kills everything the test started; call once at the top of each e2e file. */
export function cleanup() {
  for (const m of started.splice(0)) m.kill();
  for (const p of extraPids.splice(0)) {
    try {
      process.kill(-p, "SIGKILL");
    } catch {}
    try {
      process.kill(p, "SIGKILL");
    } catch {}
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Registers cleanup() after each test of the calling file. */
export const useCleanup = () => afterEach(cleanup);

/** Runs dist/sup to completion (client verbs, errors). */
export async function runSup(args: string[], opts: RunOpts & { ms?: number } = {}) {
  const p = Bun.spawn(argvOf(args, opts), { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
  const timer = setTimeout(() => p.kill("SIGKILL"), opts.ms ?? 20_000);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { stdout, stderr, code };
}
