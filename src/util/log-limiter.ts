/**
 * Rate limiting of repeated log lines: a client that repeats a bad request, or a fault hit
 * by every request, must not write a line per occurrence.
 *
 * Per key (a kind of line, in whatever scope the owner chooses: one connection, one remote
 * host):
 * - the first occurrence is written at once and opens a window of `intervalMs`;
 * - occurrences inside the window are not written, only counted (the last one's level,
 *   message and fields are kept);
 * - when the window ends with a count, one summary line is written: the last occurrence's
 *   message and fields plus `suppressed=<count>` and `windowMs=<span>`, and a new window
 *   opens; a window that ends without a count forgets the key, so the next occurrence is
 *   written at once again.
 * So a steady repetition writes its first line, then one line per interval with a count.
 *
 * Memory is bounded: at most `keysMax` keys are tracked; occurrences of further keys share
 * one extra key (`otherKindsKey`), limited like any other. `close()` writes the pending
 * counts, cancels the timers and forgets every key (the scope ended: a connection closed);
 * after it, lines are written unlimited (only stragglers of the closed scope arrive then).
 *
 * Time is the injected clock's (monotonic time, and its timers), so tests drive it by hand.
 */
import type { Logger, LogFields, LogLevel } from "./log.ts";

/**
 * The part of the platform `Clock` the limiter needs (util sits below platform, so the type
 * is stated here; a `Clock` is one).
 */
export interface LimiterClock {
  monotonicMs(): number;
  schedule(delayMs: number, fn: () => void): () => void;
}

export interface LogLimiterOptions {
  readonly clock: LimiterClock;
  /** Length of a window: at most one line per key per this many ms after the first. */
  readonly intervalMs: number;
  /** Keys tracked at once; occurrences of more keys share `otherKindsKey`. */
  readonly keysMax: number;
}

/** The key that occurrences of keys beyond `keysMax` are counted under. */
export const otherKindsKey = "(other kinds)";

interface Window {
  log: Logger;
  level: LogLevel;
  msg: string;
  fields: LogFields | undefined;
  suppressed: number;
  startMs: number;
  cancel: (() => void) | null;
}

export class LogLimiter {
  readonly #clock: LimiterClock;
  readonly intervalMs: number;
  readonly keysMax: number;
  readonly #windows = new Map<string, Window>();
  #closed = false;

  constructor(options: LogLimiterOptions) {
    if (!(Number.isSafeInteger(options.intervalMs) && options.intervalMs > 0)) throw new RangeError(`LogLimiter: intervalMs ${options.intervalMs} must be a positive integer`);
    if (!(Number.isSafeInteger(options.keysMax) && options.keysMax >= 1)) throw new RangeError(`LogLimiter: keysMax ${options.keysMax} must be an integer >= 1`);
    this.#clock = options.clock;
    this.intervalMs = options.intervalMs;
    this.keysMax = options.keysMax;
  }

  /** Keys with an open window (at most `keysMax` + 1). */
  get keys(): number {
    return this.#windows.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Writes `msg` to `log` at `level` unless a line of `key` was written less than
   * `intervalMs` ago, in which case it is counted for that key's next summary line.
   * Returns whether the line was written now.
   */
  log(log: Logger, level: LogLevel, key: string, msg: string, fields?: LogFields): boolean {
    if (!log.isEnabled(level)) return false; // nothing to write, nothing to remember
    if (this.#closed) {
      log[level](msg, fields);
      return true;
    }
    const tracked = this.#windows.has(key) || this.#windows.size < this.keysMax ? key : otherKindsKey;
    const open = this.#windows.get(tracked);
    if (open !== undefined) {
      open.suppressed++;
      open.log = log;
      open.level = level;
      open.msg = msg;
      open.fields = tracked === otherKindsKey ? { ...fields, kinds: "several" } : fields;
      return false;
    }
    if (!(this.#windows.size <= this.keysMax)) throw new Error(`LogLimiter: ${this.#windows.size} keys tracked, max ${this.keysMax} + 1`);
    const window: Window = { log, level, msg, fields, suppressed: 0, startMs: this.#clock.monotonicMs(), cancel: null };
    this.#windows.set(tracked, window);
    this.#arm(tracked, window);
    log[level](msg, fields);
    return true;
  }

  /** Writes every pending count now, cancels the timers and forgets all keys; later lines are not limited. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const now = this.#clock.monotonicMs();
    for (const window of this.#windows.values()) {
      window.cancel?.();
      window.cancel = null;
      if (window.suppressed > 0) this.#summarize(window, now);
    }
    this.#windows.clear();
  }

  #arm(key: string, window: Window): void {
    window.cancel = this.#clock.schedule(this.intervalMs, () => {
      window.cancel = null;
      if (this.#closed || this.#windows.get(key) !== window) return;
      if (window.suppressed === 0) {
        this.#windows.delete(key);
        return;
      }
      const now = this.#clock.monotonicMs();
      this.#summarize(window, now);
      window.startMs = now;
      this.#arm(key, window);
    });
  }

  #summarize(window: Window, nowMs: number): void {
    if (!(window.suppressed > 0)) throw new Error(`LogLimiter: summary of ${window.suppressed} lines`);
    const suppressed = window.suppressed;
    window.suppressed = 0;
    window.log[window.level](window.msg, { ...window.fields, suppressed, windowMs: Math.round(nowMs - window.startMs) });
  }
}
