// Splits a worker's output stream into lines without growing: "\n" and "\r"
// both end a line (a progress bar redraws with "\r"; "\r\n" is one end), and
// a line longer than the cap is passed on cut at the cap, the rest of it
// skipped up to its end. Memory is the cap, whatever the worker writes.

export const LINE_CAP = 64 << 10;

const LF = 10;
const CR = 13;

/** `cut` is true for a line longer than the cap, passed on as its first `cap` bytes. */
export type LineFn = (line: Uint8Array, cut: boolean) => void;

export class LineSplitter {
  private readonly partial: Uint8Array;
  private used = 0;
  private skipping = false; // inside a line that was already passed on cut
  private afterCR = false; // the last byte seen was "\r": a "\n" right after it ends nothing

  constructor(private readonly onLine: LineFn, private readonly cap = LINE_CAP) {
    this.partial = new Uint8Array(cap);
  }

  push(chunk: Uint8Array): void {
    let at = 0;
    let nextLF = chunk.indexOf(LF);
    let nextCR = chunk.indexOf(CR);
    while (at < chunk.length) {
      if (this.afterCR) {
        this.afterCR = false;
        if (chunk[at] === LF) {
          at++;
          if (nextLF < at) nextLF = chunk.indexOf(LF, at);
          continue;
        }
      }
      if (nextLF !== -1 && nextLF < at) nextLF = chunk.indexOf(LF, at);
      if (nextCR !== -1 && nextCR < at) nextCR = chunk.indexOf(CR, at);
      const end = nextLF === -1 ? nextCR : nextCR === -1 ? nextLF : Math.min(nextLF, nextCR);
      if (end === -1) {
        this.keep(chunk.subarray(at));
        return;
      }
      this.keep(chunk.subarray(at, end));
      this.emitLine();
      this.afterCR = chunk[end] === CR;
      at = end + 1;
    }
  }

  /** The stream ended: a last line without a terminator is passed on. */
  end(): void {
    if (this.used > 0 || this.skipping) this.emitLine();
    this.afterCR = false;
  }

  private keep(bytes: Uint8Array): void {
    if (this.skipping || bytes.length === 0) return;
    const room = this.cap - this.used;
    if (bytes.length <= room) {
      this.partial.set(bytes, this.used);
      this.used += bytes.length;
      return;
    }
    this.partial.set(bytes.subarray(0, room), this.used);
    this.used = this.cap;
    this.onLine(this.partial.slice(0, this.cap), true);
    this.used = 0;
    this.skipping = true;
  }

  private emitLine(): void {
    if (this.skipping) {
      this.skipping = false;
      return;
    }
    this.onLine(this.partial.slice(0, this.used), false);
    this.used = 0;
  }
}
