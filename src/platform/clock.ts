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
 * `fireNext` fires one timer at a time, for a driver that lets promise callbacks run between
 * two timers as an event loop would. Timers wait in a binary heap on (dueMs, seq); a cancelled
 * one stays there until it reaches the top.
 */
export class SimClock implements Clock {
  #nowMs: number;
  #monotonicMs = 0;
  #seq = 0;
  #heap: Timer[] = [];
  #pending = 0;

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
    this.#push(timer);
    this.#pending++;
    return () => {
      if (timer.cancelled) return;
      timer.cancelled = true;
      this.#pending--;
    };
  }

  /** Number of timers still pending. */
  pendingTimers(): number {
    return this.#pending;
  }

  /** Monotonic time at which the next pending timer is due, or null when none is. */
  nextDueMs(): number | null {
    return this.#top()?.dueMs ?? null;
  }

  /**
   * Moves time to the next pending timer due at or before `limitMs` and fires that one timer.
   * Returns false (time unchanged) when there is none.
   */
  fireNext(limitMs = Number.POSITIVE_INFINITY): boolean {
    const next = this.#top();
    if (next === undefined || next.dueMs > limitMs) return false;
    this.#pop();
    this.#fire(next);
    return true;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`SimClock.advance: ms ${ms} must be >= 0`);
    const endMs = this.#monotonicMs + ms;
    while (this.fireNext(endMs));
    this.#nowMs += endMs - this.#monotonicMs;
    this.#monotonicMs = endMs;
  }

  #fire(timer: Timer): void {
    this.#nowMs += timer.dueMs - this.#monotonicMs;
    this.#monotonicMs = timer.dueMs;
    timer.cancelled = true;
    this.#pending--;
    timer.fn();
  }

  /** The earliest timer not cancelled (cancelled ones above it are dropped). */
  #top(): Timer | undefined {
    while (this.#heap.length > 0 && this.#heap[0]!.cancelled) this.#pop();
    return this.#heap[0];
  }

  #push(t: Timer): void {
    const h = this.#heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!earlier(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop();
    if (h.length === 0 || last === undefined) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && earlier(h[l]!, h[m]!)) m = l;
      if (r < h.length && earlier(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

function earlier(a: Timer, b: Timer): boolean {
  return a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.seq < b.seq);
}
