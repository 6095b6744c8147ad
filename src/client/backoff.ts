/**
 * Exponential backoff with jitter, as Kafka's clients compute `reconnect.backoff.ms` /
 * `reconnect.backoff.max.ms`: after `failures` consecutive failures the wait is
 * min(max, initial × multiplier^failures) × uniform(1 − jitter, 1 + jitter), the jitter drawn
 * from the injected Prng (so a simulator run reproduces its schedule). `failures` = 0 gives
 * the initial wait (Kafka waits `reconnect.backoff.ms` after any disconnect too).
 */
import type { Prng } from "../platform/prng.ts";

export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly multiplier: number;
  /** In [0, 1): the relative spread around the computed wait. */
  readonly jitter: number;
}

/** Exponents above this no longer change a capped result; keeps multiplier^n finite. */
const exponentMax = 62;

export function backoffMs(policy: BackoffPolicy, failures: number, prng: Prng): number {
  if (!(Number.isInteger(failures) && failures >= 0)) throw new RangeError(`backoffMs: failures ${failures}`);
  if (!(policy.jitter >= 0 && policy.jitter < 1 && policy.multiplier >= 1 && policy.initialMs >= 0)) {
    throw new RangeError(`backoffMs: bad policy ${JSON.stringify(policy)}`);
  }
  const capMs = Math.max(policy.maxMs, policy.initialMs);
  const term = Math.min(capMs, policy.initialMs * policy.multiplier ** Math.min(failures, exponentMax));
  if (policy.jitter === 0) return Math.round(term);
  const factor = 1 - policy.jitter + 2 * policy.jitter * prng.nextFloat();
  return Math.round(term * factor);
}
