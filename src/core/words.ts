// A command written as one string in a config file becomes an argv the way
// a POSIX shell would split it (sh(1) "Quoting"), but with no expansion at
// all: no $VAR, no globs, no ~. sup never runs a shell unless `shell = true`.

/** Splits on blanks; '…' is literal, "…" honours \" \\ \$ \`, a bare \ escapes one character. */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false; // "" is a word, so track it apart from word.length
  let i = 0;
  while (i < text.length) {
    const c = text[i++]!;
    if (c === " " || c === "\t" || c === "\n") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = text.indexOf("'", i);
      if (end < 0) throw new Error("unterminated ' quote");
      word += text.slice(i, end);
      i = end + 1;
    } else if (c === '"') {
      for (;;) {
        if (i >= text.length) throw new Error('unterminated " quote');
        const d = text[i++]!;
        if (d === '"') break;
        // Inside double quotes a backslash escapes only these (sh(1)).
        if (d === "\\" && i < text.length && '"\\$`\n'.includes(text[i]!)) word += text[i++];
        else word += d;
      }
    } else if (c === "\\") {
      const n = text[i++];
      if (n !== undefined && n !== "\n") word += n; // backslash-newline joins lines
    } else {
      word += c;
    }
  }
  if (inWord) words.push(word);
  return words;
}
