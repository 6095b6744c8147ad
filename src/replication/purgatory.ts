/**
 * Purgatory: operations that wait for a condition on some keys (a fetch waiting for
 * `minBytes` on its partitions, a produce with acks=all waiting for the ISR) and complete
 * when the condition holds or their deadline passes, whichever comes first.
 *
 * `wait(keys, timeoutMs, tryComplete)` checks once at once; if not complete it watches the
 * keys, and every `notify(key)` re-checks the operations watching that key. Exactly one of
 * "completed" / "expired" is delivered per operation, after which it is dropped from every
 * key. Deadlines use the injected Clock, so tests and the simulator drive them by hand.
 */
import type { CancelTimer, Clock } from "../platform/clock.ts";

export type WaitOutcome = "completed" | "expired";

interface Waiter<K> {
  keys: readonly K[];
  tryComplete: () => boolean;
  resolve: (outcome: WaitOutcome) => void;
  cancelTimer: CancelTimer | null;
  done: boolean;
}

export class Purgatory<K> {
  readonly #clock: Clock;
  readonly #watchers = new Map<K, Set<Waiter<K>>>();
  #pending = 0;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Operations still waiting. */
  get pending(): number {
    return this.#pending;
  }

  wait(keys: readonly K[], timeoutMs: number, tryComplete: () => boolean): Promise<WaitOutcome> {
    if (tryComplete()) return Promise.resolve("completed");
    if (timeoutMs <= 0 || keys.length === 0) return Promise.resolve("expired");
    return new Promise<WaitOutcome>((resolve) => {
      const waiter: Waiter<K> = { keys, tryComplete, resolve, cancelTimer: null, done: false };
      for (const key of keys) {
        let set = this.#watchers.get(key);
        if (set === undefined) this.#watchers.set(key, (set = new Set()));
        set.add(waiter);
      }
      this.#pending++;
      waiter.cancelTimer = this.#clock.schedule(timeoutMs, () => this.#finish(waiter, "expired"));
    });
  }

  /** Re-checks every operation watching `key`; returns how many completed. */
  notify(key: K): number {
    const set = this.#watchers.get(key);
    if (set === undefined) return 0;
    let completed = 0;
    for (const waiter of [...set]) {
      if (!waiter.done && waiter.tryComplete()) {
        this.#finish(waiter, "completed");
        completed++;
      }
    }
    return completed;
  }

  /** Expires every pending operation now (shutdown). */
  expireAll(): void {
    const all = new Set<Waiter<K>>();
    for (const set of this.#watchers.values()) for (const w of set) all.add(w);
    for (const w of all) this.#finish(w, "expired");
  }

  #finish(waiter: Waiter<K>, outcome: WaitOutcome): void {
    if (waiter.done) return;
    waiter.done = true;
    waiter.cancelTimer?.();
    for (const key of waiter.keys) {
      const set = this.#watchers.get(key);
      if (set === undefined) continue;
      set.delete(waiter);
      if (set.size === 0) this.#watchers.delete(key);
    }
    this.#pending--;
    waiter.resolve(outcome);
  }
}
