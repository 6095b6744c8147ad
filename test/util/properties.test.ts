import { expect, test } from "bun:test";
import { formatProperties, parseProperties, propertiesToMap } from "../../src/util/properties.ts";

function parse(text: string): Record<string, string> {
  const r = parseProperties(text);
  if (!r.ok) throw new Error(`line ${r.line}: ${r.message}`);
  return Object.fromEntries(propertiesToMap(r.entries));
}

test("separators, comments, blank lines and whitespace follow java.util.Properties", () => {
  expect(
    parse(
      [
        "# comment",
        "! also a comment",
        "   # indented comment",
        "",
        "a=1",
        "b = 2",
        "c:3",
        "d : 4",
        "e 5",
        "f\t\t6",
        "g=",
        "h",
        "  i = spaced value  ",
        "j==x",
        "k=a=b:c",
        "l:=x",
      ].join("\n"),
    ),
  ).toEqual({ a: "1", b: "2", c: "3", d: "4", e: "5", f: "6", g: "", h: "", i: "spaced value  ", j: "=x", k: "a=b:c", l: "=x" });
});

test("line continuations, escapes and line endings", () => {
  const text = "list = one,\\\n      two,\\\r\n   three\nkey\\ with\\ spaces = v\nx\\=y = 1\nunicode=caf\\u00e9 \\t tab\ncr=1\rlf=2\nodd=ends\\\\\nlast=continues\\";
  expect(parse(text)).toEqual({
    list: "one,two,three",
    "key with spaces": "v",
    "x=y": "1",
    unicode: "café \t tab",
    cr: "1",
    lf: "2",
    odd: "ends\\",
    last: "continues",
  });
  // A continuation line starting with # is not a comment.
  expect(parse("a=1\\\n# not a comment")).toEqual({ a: "1# not a comment" });
});

test("entries keep the line where they start; later duplicates win; bad \\u is an error", () => {
  const r = parseProperties("# c\na=1\nb=x\\\n y\n\na=2\n");
  expect(r.ok).toBe(true);
  if (!r.ok) return;
  expect(r.entries.map((e) => [e.key, e.line])).toEqual([
    ["a", 2],
    ["b", 3],
    ["a", 6],
  ]);
  expect(propertiesToMap(r.entries).get("a")).toBe("2");
  const bad = parseProperties("ok=1\nbad=\\u12x4\n");
  expect(bad).toEqual({ ok: false, line: 2, message: 'malformed \\uXXXX escape in the value of "bad"' });
});

test("formatProperties round-trips awkward keys and values", () => {
  const entries: [string, string][] = [
    ["plain", "value"],
    ["with space", " leading space"],
    ["sep=:chars", "a=b:c#d!e"],
    ["unicode", "café ✓ \u0001"],
    ["multi", "line1\nline2\r\t"],
    ["backslash", "C:\\path\\"],
  ];
  const text = formatProperties(entries, ["comment"]);
  expect(parse(text)).toEqual(Object.fromEntries(entries));
});
