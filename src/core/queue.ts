// The master's event queue: many producers (signal handlers, timers, worker
// exits, the control socket, pollers), one consumer (the arbiter loop).

export class Queue<T> {
  private items: T[] = [];
  private wake?: () => void;

  push(item: T): void {
    this.items.push(item);
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** The next item, waiting for one if the queue is empty. */
  async take(): Promise<T> {
    while (this.items.length === 0) await new Promise<void>((r) => (this.wake = r));
    return this.items.shift()!;
  }

  get size(): number {
    return this.items.length;
  }
}
