/** The real clock: `Date.now`, `performance.now` and `setTimeout`. */
import type { CancelTimer, Clock } from "../clock.ts";

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
  schedule(delayMs: number, fn: () => void): CancelTimer {
    const handle = setTimeout(fn, delayMs);
    return () => clearTimeout(handle);
  },
};
