// File triggers (touch files, autoreload) as event sources: each change
// becomes one reload event in the master's queue. Restarted when a reload
// brings a config whose trigger settings differ.
import type { Config } from "../config/schema.ts";
import type { Logger } from "./arbiter.ts";
import type { Event } from "./events.ts";
import type { Queue } from "./queue.ts";

const KEYS = ["touch-reload", "touch-chain-reload", "check-interval", "autoreload", "autoreload-watch", "autoreload-include", "autoreload-ignore", "autoreload-engine", "autoreload-settle"] as const;

export class Triggers {
  private stops: (() => void)[] = [];
  private key = "";

  constructor(
    private queue: Queue<Event>,
    private cwd: string,
    private log: Logger,
  ) {}

  static enabled(cfg: Config): boolean {
    return cfg["touch-reload"].length > 0 || cfg["touch-chain-reload"].length > 0 || cfg.autoreload > 0;
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
    if (cfg["touch-reload"].length > 0 || cfg["touch-chain-reload"].length > 0) {
      const { watchTouchFiles } = await import("../reload/touch.ts");
      if (this.key !== key) return; // replaced while loading
      const t = watchTouchFiles({ files: cfg["touch-reload"], chainFiles: cfg["touch-chain-reload"], interval: cfg["check-interval"], cwd: this.cwd }, (ev) => this.queue.push({ type: "reload", reason: `touch: ${ev.file}${ev.why === "modified" ? "" : ` ${ev.why}`}`, rolling: ev.rolling }), note);
      this.stops.push(() => t.stop());
    }
    if (cfg.autoreload > 0) {
      const { watchTree } = await import("../reload/autoreload.ts");
      if (this.key !== key) return;
      const t = watchTree(
        { interval: cfg.autoreload, watch: cfg["autoreload-watch"], include: cfg["autoreload-include"], ignore: cfg["autoreload-ignore"], engine: cfg["autoreload-engine"], settle: cfg["autoreload-settle"], cwd: this.cwd },
        (ev) => this.queue.push({ type: "reload", reason: `autoreload: ${ev.files[0] ?? "?"}${ev.count > 1 ? ` and ${(ev.count - 1).toLocaleString("en-US")} more` : ""}`, rolling: false }),
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
