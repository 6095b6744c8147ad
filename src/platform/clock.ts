/**
 * Time, injected. Core layers never call `Date.now` or `setTimeout`: they take a `Clock`, so
 * the same code runs on real time (`src/platform/bun/clock.ts`) and under a seeded
 * simulator that advances time by hand (`SimClock`).
 */

export type CancelTimer = () => void;

export interface Clock {
  /** Wall-clock milliseconds since the Unix epoch: record timestamps, retention. */
  nowMs(): number;
  /** Monotonic milliseconds from an arbitrary origin: deadlines, durations. */
  monotonicMs(): number;
  /**
   * Runs `fn` once after `delayMs`, a finite number ≥ 0 (anything else is the caller's bug:
   * RangeError). The returned function cancels it if still pending.
   */
  schedule(delayMs: number, fn: () => void): CancelTimer;
}

type Timer = { dueMs: number; seq: number; fn: () => void; cancelled: boolean };

/**
 * A clock that moves only when told. Timers fire in due-time order (ties in scheduling
 * order) from `advance`, synchronously, so a test or simulator controls every interleaving.
 */
export class SimClock implements Clock {
  #nowMs: number;
  #monotonicMs = 0;
  #seq = 0;
  #timers: Timer[] = [];

  constructor(startWallMs = 1_700_000_000_000) {
    this.#nowMs = startWallMs;
  }

  nowMs(): number {
    return this.#nowMs;
  }

  monotonicMs(): number {
    return this.#monotonicMs;
  }

  schedule(delayMs: number, fn: () => void): CancelTimer {
    if (!(delayMs >= 0 && Number.isFinite(delayMs))) throw new RangeError(`SimClock.schedule: delayMs ${delayMs} must be a finite number >= 0`);
    const timer: Timer = { dueMs: this.#monotonicMs + delayMs, seq: this.#seq++, fn, cancelled: false };
    this.#timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /** Number of timers still pending. */
  pendingTimers(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`SimClock.advance: ms ${ms} must be >= 0`);
    const endMs = this.#monotonicMs + ms;
    for (;;) {
      let next: Timer | undefined;
      for (const t of this.#timers) {
        if (t.cancelled || t.dueMs > endMs) continue;
        if (next === undefined || t.dueMs < next.dueMs || (t.dueMs === next.dueMs && t.seq < next.seq)) next = t;
      }
      if (next === undefined) break;
      this.#nowMs += next.dueMs - this.#monotonicMs;
      this.#monotonicMs = next.dueMs;
      next.cancelled = true;
      this.#timers = this.#timers.filter((t) => !t.cancelled);
      next.fn();
    }
    this.#nowMs += endMs - this.#monotonicMs;
    this.#monotonicMs = endMs;
  }
}
