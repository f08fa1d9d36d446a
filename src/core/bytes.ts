// File names are bytes to the kernel and need not be UTF-8 (a Latin-1 name
// from an old archive, say). The watcher keeps them as bytes; these turn them
// into strings for the three places that need one, each with its own rule.

const utf8 = new TextDecoder();
const strict = new TextDecoder("utf-8", { fatal: true });
const latin1 = new TextDecoder("latin1");
const encoder = new TextEncoder();

/** For ignore globs: invalid bytes become U+FFFD (a glob can still match the rest). */
export const lossy = (b: Uint8Array): string => utf8.decode(b);

/** A Map key that is exactly the bytes, one char per byte. */
export const byteKey = (b: Uint8Array): string => latin1.decode(b);

/** For the log: the name as it reads, each byte that is not part of valid UTF-8 as \xNN. */
export function display(b: Uint8Array): string {
  try {
    return strict.decode(b);
  } catch {
    // fall through: decode piecewise
  }
  let s = "";
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    const len = c < 0x80 ? 1 : c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
    if (len > 0) {
      try {
        s += strict.decode(b.subarray(i, i + len));
        i += len;
        continue;
      } catch {
        // not a whole character: escape its first byte
      }
    }
    s += `\\x${c.toString(16).padStart(2, "0")}`;
    i++;
  }
  return s;
}

/** dir + "/" + name, as bytes. */
export function joinBytes(dir: Uint8Array, name: Uint8Array): Uint8Array {
  const slash = dir.length > 0 && dir[dir.length - 1] === 0x2f;
  const out = new Uint8Array(dir.length + (slash ? 0 : 1) + name.length);
  out.set(dir);
  if (!slash) out[dir.length] = 0x2f;
  out.set(name, out.length - name.length);
  return out;
}

export const encode = (s: string): Uint8Array => encoder.encode(s);
