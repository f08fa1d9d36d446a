// Which file is the C library: glibc's is libc.so.6, musl's (Alpine) is
// libc.musl-<arch>.so.1. Kept apart from libc.ts so the exec shim can use it
// without loading the socket bindings.

export const LIBC_NAMES = ["libc.so.6", `libc.musl-${process.arch === "arm64" ? "aarch64" : "x86_64"}.so.1`];

/** Calls `open` with each candidate name until one loads. */
export function openLibc<T>(open: (name: string) => T): T {
  let last: unknown;
  for (const name of LIBC_NAMES) {
    try {
      return open(name);
    } catch (e) {
      last = e;
    }
  }
  throw new Error(`cannot load the C library (tried ${LIBC_NAMES.join(", ")}): ${String(last)}; sup runs on Linux with glibc or musl`);
}
