// "did you mean …?" for typos in option and key names.

/** Levenshtein distance, two rows. */
export function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The nearest known name, if it is near enough to be a typo. */
export function nearest(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const limit = Math.max(2, Math.floor(name.length / 3));
  for (const k of known) {
    // The distance is at least the difference in length: a name far longer
    // than any known one (a 4 MiB key in a config file) costs nothing.
    const floor = Math.abs(name.length - k.length);
    // A name cut short (--reload for --reload-mercy) counts as near, and so
    // does a known name followed by a word (strict-mode for strict); one that
    // only starts the given one does not: stopsignal is no typo of st.
    const prefix = k.startsWith(name) || (k.length >= 3 && name.startsWith(k) && /^[-_ ]/.test(name.slice(k.length)));
    if (!prefix && floor > limit) continue;
    const d = prefix ? (floor >= 2 ? 2 : Math.min(distance(name, k), 2)) : distance(name, k);
    // As many edits as half the known name leave little of it: app is no typo of pp.
    if (2 * d >= k.length) continue;
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best !== undefined && bestD <= limit ? best : undefined;
}

export const didYouMean = (name: string, known: Iterable<string>, prefix = "") => {
  const n = nearest(name, known);
  return n ? ` (did you mean ${prefix}${n}?)` : "";
};
