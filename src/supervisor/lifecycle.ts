// What the master tells the service manager (sd_notify to systemd,
// Type=notify-reload semantics): READY=1 once the first generation serves,
// RELOADING=1 … READY=1 around each reload, STOPPING=1 once. The order is
// kept here, so it stays true whatever the loop does: nothing after STOPPING,
// no READY=1 for a reload that never said RELOADING=1.
export type LifecycleNote = "ready" | "reloading" | "reloaded" | "stopping";
export type NotifyFn = (what: LifecycleNote, detail: string) => void;

export class Lifecycle {
  private readySent = false;
  private reloading = false;
  private stopped = false;

  constructor(private readonly send: NotifyFn = () => {}) {}

  /** Every worker of the first generation is ready. */
  ready(detail: string) {
    if (this.stopped || this.readySent) return;
    this.readySent = true;
    this.send("ready", detail);
  }

  reloadStarted(detail: string) {
    if (this.stopped || this.reloading) return;
    this.reloading = true;
    this.send("reloading", detail);
  }

  /** A reload ended, done or rolled back: the service is ready again. */
  reloadEnded(detail: string) {
    if (this.stopped || !this.reloading) return;
    this.reloading = false;
    this.readySent = true;
    this.send("reloaded", detail);
  }

  stopping(detail: string) {
    if (this.stopped) return;
    this.stopped = true;
    this.send("stopping", detail);
  }
}
