import { expect, test } from "bun:test";
import { splitWords } from "../../src/core/words.ts";

test("splitWords splits on blanks and keeps quoted blanks", () => {
  expect(splitWords("python  app.py\t--port 8000")).toEqual(["python", "app.py", "--port", "8000"]);
  expect(splitWords(`bun "my app.ts" 'a b' c\\ d`)).toEqual(["bun", "my app.ts", "a b", "c d"]);
});

test("splitWords never expands: $VAR, globs and ~ stay as written", () => {
  expect(splitWords("echo $HOME *.py ~ '$X'")).toEqual(["echo", "$HOME", "*.py", "~", "$X"]);
});

test("splitWords: escapes inside double quotes follow sh(1), single quotes are literal", () => {
  expect(splitWords(`"a \\"b\\" \\\\ \\x"`)).toEqual([`a "b" \\ \\x`]);
  expect(splitWords(`'a\\b'`)).toEqual(["a\\b"]);
  expect(splitWords(`x"y"'z'`)).toEqual(["xyz"]);
});

test("splitWords keeps empty quoted words and drops empty input", () => {
  expect(splitWords(`a "" b`)).toEqual(["a", "", "b"]);
  expect(splitWords("   ")).toEqual([]);
});

test("splitWords rejects an unterminated quote", () => {
  expect(() => splitWords(`python "app.py`)).toThrow('unterminated " quote');
  expect(() => splitWords("python 'app.py")).toThrow("unterminated ' quote");
});
