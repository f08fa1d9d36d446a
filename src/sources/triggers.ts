// File triggers (touch files, autoreload) as event sources: each change
// becomes one reload event in the master's queue. Restarted when a reload
// brings a config whose trigger settings differ.
//
// Paths mean what they mean to the workers: the default watch root and
// relative touch files and watch paths are in the workers' directory
// (--chdir, resolved against the directory sup started in), not sup's own.
import { resolve } from "node:path";
import { autoreloadMode, type Config } from "../config/schema.ts";
import type { Logger } from "../supervisor/world.ts";
import type { Event } from "../supervisor/events.ts";
import type { Queue } from "../core/queue.ts";

const KEYS = ["chdir", "pidfile", "touch-reload", "touch-chain-reload", "check-interval", "autoreload", "py-autoreload", "autoreload-watch", "autoreload-include", "autoreload-ignore", "autoreload-engine", "autoreload-settle"] as const;

export class Triggers {
  private stops: (() => void)[] = [];
  private key = "";

  constructor(
    private queue: Queue<Event>,
    private cwd: string,
    private log: Logger,
    /** The program whose files these are: its reload only. */
    private program?: string,
  ) {}

  private get targets(): string[] | undefined {
    return this.program === undefined ? undefined : [this.program];
  }

  static enabled(cfg: Config): boolean {
    return cfg["touch-reload"].length > 0 || cfg["touch-chain-reload"].length > 0 || autoreloadMode(cfg) !== null;
  }

  update(cfg: Config) {
    const key = JSON.stringify(KEYS.map((k) => cfg[k]));
    if (key === this.key) return;
    this.stop();
    this.key = key;
    void this.start(cfg, key);
  }

  private async start(cfg: Config, key: string) {
    const note = (msg: string) => this.log.info(msg, { event: "trigger" });
    const workDir = resolve(this.cwd, cfg.chdir || ".");
    if (cfg["touch-reload"].length > 0 || cfg["touch-chain-reload"].length > 0) {
      const { watchTouchFiles } = await import("../watch/touch.ts");
      if (this.key !== key) return; // replaced while loading
      const t = watchTouchFiles({ files: cfg["touch-reload"], chainFiles: cfg["touch-chain-reload"], interval: cfg["check-interval"], cwd: workDir }, (ev) => this.queue.push({ type: "reload", reason: `touch: ${ev.file}${ev.why === "modified" ? "" : ` ${ev.why}`}`, rolling: ev.rolling, targets: this.targets }), note);
      this.stops.push(() => t.stop());
    }
    const mode = autoreloadMode(cfg);
    if (mode) {
      const { watchTree } = await import("../watch/autoreload.ts");
      if (this.key !== key) return;
      // Files sup itself writes never trigger a reload (the pidfile is resolved
      // as run.ts does). Touch files are the touch trigger's: one touch is one
      // reload, not one from each trigger (docs/config.md, "What autoreload watches").
      const touchFiles = [...cfg["touch-reload"], ...cfg["touch-chain-reload"]].map((f) => resolve(workDir, f));
      const ownFiles = [...(cfg.pidfile ? [resolve(this.cwd, cfg.pidfile)] : []), ...touchFiles];
      const t = watchTree(
        { ...mode, watch: cfg["autoreload-watch"], include: cfg["autoreload-include"], ignore: cfg["autoreload-ignore"], settle: cfg["autoreload-settle"], cwd: workDir, ownFiles },
        (ev) => this.queue.push({ type: "reload", reason: `autoreload: ${ev.files[0] ?? "?"}${ev.count > 1 ? ` and ${(ev.count - 1).toLocaleString("en-US")} more` : ""}`, rolling: false, targets: this.targets }),
        note,
      );
      this.stops.push(() => t.stop());
    }
  }

  stop() {
    this.key = "";
    for (const s of this.stops.splice(0)) s();
  }
}

/** Each program's file triggers, restarted when its config's trigger settings change. */
export class ProgramTriggers {
  private readonly byProgram = new Map<string, Triggers>();

  constructor(
    private queue: Queue<Event>,
    private cwd: string,
    private log: Logger,
  ) {}

  update(program: string, cfg: Config) {
    let t = this.byProgram.get(program);
    if (!t) this.byProgram.set(program, (t = new Triggers(this.queue, this.cwd, this.log, program)));
    t.update(cfg);
  }

  /** --touch-logreopen (the master's, relative to where sup started): a touch reopens the --logto file. */
  logReopen(files: string[], interval: number) {
    if (files.length === 0) return;
    let stopped = false;
    this.stopLogReopen = () => (stopped = true);
    void import("../watch/touch.ts").then(({ watchTouchFiles }) => {
      if (stopped) return;
      const t = watchTouchFiles({ files, chainFiles: [], interval, cwd: this.cwd, option: "touch-logreopen" }, (ev) => this.queue.push({ type: "reopen", reason: `touch: ${ev.file}` }), (msg) => this.log.info(msg, { event: "trigger" }));
      this.stopLogReopen = () => t.stop();
    });
  }
  private stopLogReopen?: () => void;

  /** A program that is gone: its triggers stop. */
  drop(program: string) {
    this.byProgram.get(program)?.stop();
    this.byProgram.delete(program);
  }

  stop() {
    this.stopLogReopen?.();
    for (const t of this.byProgram.values()) t.stop();
    this.byProgram.clear();
  }
}
