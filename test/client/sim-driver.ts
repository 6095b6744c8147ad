/**
 * Drives client tests on simulated time: the SimClock moves 1 ms per step and pending promise
 * callbacks run between steps, so a test awaits a client promise without real time passing.
 */
import type { SimClock } from "../../src/platform/clock.ts";

export async function microtasks(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

/** Steps simulated time until `cond` holds; throws after `msMax` simulated ms. */
export async function until(clock: SimClock, cond: () => boolean, msMax = 300_000, what = "condition"): Promise<number> {
  const start = clock.monotonicMs();
  await microtasks();
  while (!cond()) {
    if (clock.monotonicMs() - start >= msMax) throw new Error(`${what} not reached within ${msMax} simulated ms`);
    clock.advance(1);
    await microtasks();
  }
  return clock.monotonicMs() - start;
}

/** Steps simulated time until `promise` settles; returns its value and the simulated ms it took (rethrows a rejection). */
export async function settle<T>(clock: SimClock, promise: Promise<T>, msMax = 300_000): Promise<{ value: T; ms: number }> {
  let done = false;
  let value!: T;
  let failed: { error: unknown } | null = null;
  promise.then(
    (v) => {
      done = true;
      value = v;
    },
    (error: unknown) => {
      done = true;
      failed = { error };
    },
  );
  const ms = await until(clock, () => done, msMax, "promise");
  if (failed !== null) throw (failed as { error: unknown }).error;
  return { value, ms };
}

/** Steps `ms` simulated milliseconds. */
export async function run(clock: SimClock, ms: number): Promise<void> {
  for (let i = 0; i < ms; i++) {
    clock.advance(1);
    await microtasks();
  }
}
