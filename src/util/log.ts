/**
 * Structured logging: one logfmt line per event.
 *
 * Format (owned here; tests and operators grep it):
 *   ts=2026-11-21T05:30:00.000Z level=info msg="listening" listener=PLAINTEXT port=9092
 * - `ts` (ISO-8601 UTC, from the injected wall clock), `level`, `msg` come first, then the
 *   logger's context fields (outermost child first), then the call's own fields.
 * - Keys are `[A-Za-z0-9_.-]+` (other characters become `_`). A value is written bare when it
 *   is non-empty and has no space, `=`, `"`, `\` or control character; otherwise it is quoted
 *   with `\"`, `\\`, `\n`, `\r`, `\t` escaped and other control characters as `\u00XX`.
 *   An `Error` value is written as its message, and `<key>_type` holds its name.
 *   `undefined` fields are omitted; `null` is written as `null`.
 * - A line never contains a raw newline, so one event is one line whatever the input.
 *
 * The sink is injected: production writes to stderr through the platform, tests capture
 * lines with `memorySink`. Logging never throws into the caller: a failing sink is ignored.
 */

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogValue = string | number | boolean | bigint | null | undefined | Error;
export type LogFields = Readonly<Record<string, LogValue>>;
/** Receives one finished line (no trailing newline). */
export type LogSink = (line: string, level: LogLevel) => void;

const levelRank: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

export function isLogLevel(text: string): text is LogLevel {
  return Object.hasOwn(levelRank, text);
}

export interface LoggerOptions {
  sink: LogSink;
  /** Lowest level written; default "info". */
  level?: LogLevel;
  /** Wall-clock milliseconds for `ts`; default `Date.now`. Simulations pass their clock. */
  nowMs?: () => number;
}

export class Logger {
  readonly #sink: LogSink;
  readonly #level: LogLevel;
  readonly #minRank: number;
  readonly #nowMs: () => number;
  /** Pre-rendered context, starting with a space, or "". */
  readonly #context: string;

  constructor(options: LoggerOptions, context = "") {
    this.#sink = options.sink;
    this.#level = options.level ?? "info";
    this.#minRank = levelRank[this.#level];
    this.#nowMs = options.nowMs ?? Date.now;
    this.#context = context;
  }

  /** A logger that adds `fields` to every line, after this logger's own context. */
  child(fields: LogFields): Logger {
    const options: LoggerOptions = { sink: this.#sink, level: this.level, nowMs: this.#nowMs };
    return new Logger(options, this.#context + renderFields(fields));
  }

  get level(): LogLevel {
    return this.#level;
  }

  isEnabled(level: LogLevel): boolean {
    return levelRank[level] >= this.#minRank;
  }

  debug(msg: string, fields?: LogFields): void {
    this.#log("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.#log("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.#log("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.#log("error", msg, fields);
  }

  #log(level: LogLevel, msg: string, fields: LogFields | undefined): void {
    if (levelRank[level] < this.#minRank) return;
    let ts: string;
    try {
      ts = new Date(this.#nowMs()).toISOString();
    } catch {
      ts = "invalid-time";
    }
    const line = `ts=${ts} level=${level} msg=${renderValue(msg)}${this.#context}${fields === undefined ? "" : renderFields(fields)}`;
    try {
      this.#sink(line, level);
    } catch {
      // A broken sink (closed stderr) must not take a connection or the broker down.
    }
  }
}

/** A logger that drops everything (for code paths that require one and tests that do not care). */
export const nullLogger: Logger = new Logger({ sink: () => {}, level: "error" });

function renderFields(fields: LogFields): string {
  let out = "";
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const k = renderKey(key);
    if (value instanceof Error) {
      out += ` ${k}=${renderValue(value.message)} ${k}_type=${renderValue(value.name)}`;
    } else {
      out += ` ${k}=${renderValue(value === null ? "null" : String(value))}`;
    }
  }
  return out;
}

function renderKey(key: string): string {
  const k = key.replace(/[^A-Za-z0-9_.-]/g, "_");
  return k.length === 0 ? "_" : k;
}

// eslint-disable-next-line no-control-regex
const needsQuoting = /[\s="\\\u0000-\u001f\u007f]/;

function renderValue(text: string): string {
  if (text.length > 0 && !needsQuoting.test(text)) return text;
  let out = '"';
  for (const ch of text) {
    const c = ch.charCodeAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20 || c === 0x7f) out += `\\u${c.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

/**
 * Parses one logfmt line as written by `Logger` into key → value (later duplicates win).
 * For tests and tools; returns null on a malformed line.
 */
export function parseLogfmt(line: string): Record<string, string> | null {
  const out: Record<string, string> = {};
  let i = 0;
  const n = line.length;
  while (i < n) {
    while (i < n && line[i] === " ") i++;
    if (i >= n) break;
    const eq = line.indexOf("=", i);
    if (eq <= i) return null;
    const key = line.slice(i, eq);
    if (key.includes(" ")) return null;
    i = eq + 1;
    let value = "";
    if (line[i] === '"') {
      i++;
      let closed = false;
      while (i < n) {
        const ch = line[i];
        if (ch === '"') {
          closed = true;
          i++;
          break;
        }
        if (ch === "\\") {
          const esc = line[i + 1];
          if (esc === "n") value += "\n";
          else if (esc === "r") value += "\r";
          else if (esc === "t") value += "\t";
          else if (esc === "u") {
            const hex = line.slice(i + 2, i + 6);
            if (!/^[0-9a-f]{4}$/.test(hex)) return null;
            value += String.fromCharCode(Number.parseInt(hex, 16));
            i += 4;
          } else if (esc === '"' || esc === "\\") value += esc;
          else return null;
          i += 2;
          continue;
        }
        value += ch;
        i++;
      }
      if (!closed) return null;
    } else {
      const sp = line.indexOf(" ", i);
      const end = sp < 0 ? n : sp;
      value = line.slice(i, end);
      i = end;
    }
    out[key] = value;
  }
  return out;
}

/** Captures lines in memory: `records()` parses them for assertions. */
export function memorySink(): { sink: LogSink; lines: string[]; records(): Record<string, string>[] } {
  const lines: string[] = [];
  return {
    sink: (line) => {
      lines.push(line);
    },
    lines,
    records: () => lines.map((l) => parseLogfmt(l) ?? { unparsable: l }),
  };
}
