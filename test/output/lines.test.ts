import { describe, expect, test } from "bun:test";
import { LineSplitter } from "../../src/output/lines.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function split(chunks: string[], cap?: number) {
  const out: string[] = [];
  const s = new LineSplitter((line, cut) => out.push(dec.decode(line) + (cut ? "<cut>" : "")), cap);
  for (const c of chunks) s.push(enc.encode(c));
  s.end();
  return out;
}

describe("LineSplitter", () => {
  test("\\n, \\r and \\r\\n each end one line; empty lines stay", () => {
    expect(split(["a\nb\rc\r\nd\n\ne"])).toEqual(["a", "b", "c", "d", "", "e"]);
  });

  test("a line split across chunks, and \\r\\n split across chunks, are one line", () => {
    expect(split(["hel", "lo\r", "\nwor", "ld\n"])).toEqual(["hello", "world"]);
  });

  test("a progress bar drawn with \\r gives one line per redraw", () => {
    expect(split(["10%\r20%\r", "30%\r100%\n"])).toEqual(["10%", "20%", "30%", "100%"]);
  });

  test("a line longer than the cap is passed on cut once, the rest up to its end skipped", () => {
    expect(split(["abcdefgh", "ijkl\nnext\n"], 5)).toEqual(["abcde<cut>", "next"]);
    expect(split(["abcdefghijkl"], 5)).toEqual(["abcde<cut>"]);
  });

  test("a line of exactly the cap is whole, not cut", () => {
    expect(split(["abcde\nf\n"], 5)).toEqual(["abcde", "f"]);
  });

  test("without a terminator at the end, the last line still comes out", () => {
    expect(split(["last"])).toEqual(["last"]);
    expect(split([""])).toEqual([]);
  });

  test("memory stays at the cap: 50 MB with no newline yields one cut line", () => {
    const out: number[] = [];
    const s = new LineSplitter((line, cut) => out.push(cut ? -line.length : line.length), 64 << 10);
    const chunk = new Uint8Array(1 << 20).fill(120);
    for (let i = 0; i < 50; i++) s.push(chunk);
    s.push(enc.encode("\nok\n"));
    s.end();
    expect(out).toEqual([-(64 << 10), 2]);
  });
});
