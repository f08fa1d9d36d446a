// The one way sup builds C at run time: bun:ffi's `cc` (TinyCC, carried in
// every Bun binary) compiling a source into this process's memory.
//
// tcc cannot read Bun's embedded files ($bunfs), so the source is written to
// a private mkdtemp directory first (DESIGN.md §7) and removed once built.
// The sources declare what they use themselves: a server may have no C
// headers. TinyCC may emit calls to memset/memcpy for aggregate
// initialisers, bound to Bun's own (defining them again is an error): code
// that must run without the rest of the process (the guard) avoids both.
import { cc, type FFIFunction } from "bun:ffi";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Why a source could not be built: the message is for the log. */
export class CompileError extends Error {}

/**
 * Compiles `source` (named `name` in tcc's messages) and returns its symbols;
 * throws CompileError with the reason (another platform, no writable temp
 * dir, a tcc error). Each call compiles again: see compileOnce.
 */
export function compileC<S extends Record<string, FFIFunction>>(name: string, source: string, symbols: S) {
  if (process.platform !== "linux" || (process.arch !== "x64" && process.arch !== "arm64")) {
    throw new CompileError(`no TinyCC build of ${name} for ${process.platform}-${process.arch}`);
  }
  let dir = "";
  try {
    dir = mkdtempSync(join(tmpdir(), "sup-cc-"));
    const file = join(dir, name);
    writeFileSync(file, source, { mode: 0o600, flag: "wx" });
    return cc({ source: file, symbols }).symbols;
  } catch (e) {
    throw new CompileError(`TinyCC could not build ${name}: ${(e as Error).message.split("\n")[0]}`);
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

/** compileC on first use, then the same answer: the symbols, or why there are none (a string). */
export function compileOnce<S extends Record<string, FFIFunction>>(name: string, source: string, symbols: S) {
  let built: ReturnType<typeof compileC<S>> | string | undefined;
  return () => {
    if (built === undefined) {
      try {
        built = compileC(name, source, symbols);
      } catch (e) {
        built = (e as Error).message;
      }
    }
    return built;
  };
}
