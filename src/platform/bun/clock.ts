/**
 * The real clock: `Date.now`, `performance.now` and the runtime's timers.
 *
 * `schedule` keeps the Clock contract that a real `setTimeout` does not: a negative, NaN or
 * infinite delay is a caller's bug and throws RangeError (as SimClock does) instead of
 * becoming 1 ms with a TimeoutNegativeWarning; a delay above `timerDelayMsMax` (the runtime's
 * 32-bit limit, beyond which it also fires after 1 ms) is waited out in steps.
 */
import type { CancelTimer, Clock } from "../clock.ts";

/** Longest delay one runtime timer takes (2^31 - 1 ms, about 24.8 days). */
export const timerDelayMsMax = 0x7fff_ffff;

/** The timer functions the clock arms; the runtime's by default, a fake in tests. */
export interface TimerApi {
  setTimeout(fn: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

const runtimeTimers: TimerApi = {
  setTimeout: (fn, delayMs) => setTimeout(fn, delayMs),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export function createSystemClock(timers: TimerApi = runtimeTimers): Clock {
  return {
    nowMs: () => Date.now(),
    monotonicMs: () => performance.now(),
    schedule(delayMs: number, fn: () => void): CancelTimer {
      if (!(delayMs >= 0 && Number.isFinite(delayMs))) throw new RangeError(`systemClock.schedule: delayMs ${delayMs} must be a finite number >= 0`);
      let remainingMs = delayMs;
      let handle: unknown = null;
      let cancelled = false;
      const arm = (): void => {
        const stepMs = Math.min(remainingMs, timerDelayMsMax);
        remainingMs -= stepMs;
        handle = timers.setTimeout(() => {
          handle = null;
          if (cancelled) return;
          if (remainingMs > 0) arm();
          else fn();
        }, stepMs);
      };
      arm();
      return () => {
        cancelled = true;
        if (handle !== null) timers.clearTimeout(handle);
        handle = null;
      };
    },
  };
}

export const systemClock: Clock = createSystemClock();
