// The notify socket as an event source: every datagram becomes a "notify"
// event with its sender's pid and uid, read as soon as it arrives (a reader
// thread wakes the loop, native/fdwatch.ts), so a worker that talks sd_notify
// all day never blocks and an idle master still has no timer. Where no
// thread can be made, the socket is drained on a short timer instead.
import { watchReadable, watchUnavailable, type FdWatch } from "../native/fdwatch.ts";
import { NotifyServer } from "../net/notify.ts";
import type { Logger } from "../supervisor/world.ts";
import type { Event } from "../supervisor/events.ts";
import type { Queue } from "../core/queue.ts";

/** Drain interval when there is no reader thread. */
const FALLBACK_POLL_MS = 50;

export class NotifyChannel {
  private watch?: FdWatch;
  private timer?: ReturnType<typeof setInterval>;

  private constructor(private readonly server: NotifyServer, private readonly queue: Queue<Event>, private readonly log: Logger) {}

  get path(): string {
    return this.server.path;
  }

  static open(path: string, queue: Queue<Event>, log: Logger): NotifyChannel {
    const ch = new NotifyChannel(NotifyServer.open(path), queue, log);
    ch.watch = watchReadable(ch.server.handle, () => ch.drain());
    if (!ch.watch) {
      log.warn(`notify: no reader thread (${watchUnavailable()}); reading the notify socket every ${FALLBACK_POLL_MS} ms instead`, { event: "notify.poll" });
      ch.timer = setInterval(() => ch.drain(), FALLBACK_POLL_MS);
    }
    return ch;
  }

  private drain() {
    let msgs;
    try {
      msgs = this.server.drain();
    } catch (e) {
      this.log.error(`notify: ${(e as Error).message}`, { event: "notify.error" });
      return; // not re-armed: a broken socket would wake us forever
    }
    for (const m of msgs) this.queue.push({ type: "notify", text: m.text, pid: m.pid, uid: m.uid });
    this.watch?.rearm();
  }

  close() {
    this.watch?.close();
    clearInterval(this.timer);
    this.server.close();
  }
}
