/**
 * Java `.properties` text (server.properties, meta.properties), as `java.util.Properties.load`
 * reads it, and a writer whose output that reader (and Kafka's) reads back unchanged.
 *
 * Reading rules:
 * - Natural lines end at `\n`, `\r` or `\r\n`. A natural line ending in an odd number of
 *   backslashes continues on the next one, whose leading whitespace is dropped.
 * - A logical line whose first non-whitespace character is `#` or `!` is a comment; blank
 *   lines are skipped. (A continuation line is never a comment.)
 * - The key runs from the first non-whitespace character to the first unescaped `=`, `:` or
 *   whitespace; then whitespace, at most one `=` or `:`, and whitespace again are skipped; the
 *   rest is the value. Whitespace is space, tab and form feed.
 * - Escapes in keys and values: `\t \n \r \f`, `\uXXXX`, and `\` before any other character
 *   stands for that character. A malformed `\u` is an error (Java throws too).
 * - A later duplicate key replaces the earlier one; `entries` keeps every occurrence in order
 *   with the 1-based line where its logical line starts, so errors can name `file:line`.
 */

export interface PropertyEntry {
  readonly key: string;
  readonly value: string;
  /** 1-based number of the natural line where this entry starts. */
  readonly line: number;
}

export type PropertiesResult =
  | { readonly ok: true; readonly entries: readonly PropertyEntry[] }
  | { readonly ok: false; readonly line: number; readonly message: string };

function isWhitespace(ch: string | undefined): boolean {
  return ch === " " || ch === "\t" || ch === "\f";
}

/** Splits into natural lines; index + 1 is the line number. */
function naturalLines(text: string): string[] {
  return text.split(/\r\n|\r|\n/);
}

function endsWithContinuation(line: string): boolean {
  let slashes = 0;
  for (let i = line.length - 1; i >= 0 && line[i] === "\\"; i--) slashes++;
  return slashes % 2 === 1;
}

export function parseProperties(text: string): PropertiesResult {
  const lines = naturalLines(text.startsWith("\uFEFF") ? text.slice(1) : text);
  const entries: PropertyEntry[] = [];
  let i = 0;
  while (i < lines.length) {
    const startLine = i + 1;
    let first = lines[i] ?? "";
    i++;
    let p = 0;
    while (isWhitespace(first[p])) p++;
    if (p >= first.length) continue;
    if (first[p] === "#" || first[p] === "!") continue;
    first = first.slice(p);
    // Join continuation lines into one logical line.
    let logical = "";
    let current = first;
    for (;;) {
      if (!endsWithContinuation(current)) {
        logical += current;
        break;
      }
      logical += current.slice(0, -1);
      if (i >= lines.length) break;
      let next = lines[i] ?? "";
      i++;
      let q = 0;
      while (isWhitespace(next[q])) q++;
      next = next.slice(q);
      current = next;
    }
    const parsed = splitKeyValue(logical);
    if (!parsed.ok) return { ok: false, line: startLine, message: parsed.message };
    entries.push({ key: parsed.key, value: parsed.value, line: startLine });
  }
  return { ok: true, entries };
}

type Split = { ok: true; key: string; value: string } | { ok: false; message: string };

function splitKeyValue(logical: string): Split {
  let k = 0;
  while (k < logical.length) {
    const ch = logical[k];
    if (ch === "\\") {
      k += 2;
      continue;
    }
    if (ch === "=" || ch === ":" || isWhitespace(ch)) break;
    k++;
  }
  const rawKey = logical.slice(0, Math.min(k, logical.length));
  let v = k;
  while (isWhitespace(logical[v])) v++;
  if (logical[v] === "=" || logical[v] === ":") {
    v++;
    while (isWhitespace(logical[v])) v++;
  }
  const key = unescape(rawKey);
  if (key === null) return { ok: false, message: `malformed \\uXXXX escape in key "${rawKey}"` };
  const value = unescape(logical.slice(v));
  if (value === null) return { ok: false, message: `malformed \\uXXXX escape in the value of "${key}"` };
  return { ok: true, key, value };
}

function unescape(text: string): string | null {
  if (!text.includes("\\")) return text;
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch !== "\\") {
      out += ch;
      continue;
    }
    i++;
    const esc = text[i];
    if (esc === undefined) break; // a trailing lone backslash (end of file continuation) is dropped
    if (esc === "t") out += "\t";
    else if (esc === "n") out += "\n";
    else if (esc === "r") out += "\r";
    else if (esc === "f") out += "\f";
    else if (esc === "u") {
      const hex = text.slice(i + 1, i + 5);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) return null;
      out += String.fromCharCode(Number.parseInt(hex, 16));
      i += 4;
    } else out += esc;
  }
  return out;
}

/** Key → value with later duplicates winning. */
export function propertiesToMap(entries: readonly PropertyEntry[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const e of entries) map.set(e.key, e.value);
  return map;
}

function escapeText(text: string, isKey: boolean): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] ?? "";
    const c = ch.charCodeAt(0);
    if (ch === "\\") out += "\\\\";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\f") out += "\\f";
    else if (ch === "=" || ch === ":" || ch === "#" || ch === "!") out += `\\${ch}`;
    else if (ch === " " && (isKey || i === 0)) out += "\\ ";
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return out;
}

/** Renders `key=value` lines (in the given order) after optional `#` comment lines. */
export function formatProperties(entries: Iterable<readonly [string, string]>, comments: readonly string[] = []): string {
  let out = "";
  for (const c of comments) out += `#${c.replace(/[\r\n]/g, " ")}\n`;
  for (const [key, value] of entries) out += `${escapeText(key, true)}=${escapeText(value, false)}\n`;
  return out;
}
