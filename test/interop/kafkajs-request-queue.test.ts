/**
 * The kafkajs patch (patches/kafkajs@2.2.4.patch, applied by `bun install`): kafkajs 2.2.4's
 * request queue armed a "check pending requests" timer after every response even with
 * nothing pending, with `throttledUntil` (-1 until a broker throttles) minus `Date.now()` as
 * its delay: about minus the epoch in ms. The runtime ran it as 1 ms with a
 * TimeoutNegativeWarning, and it re-armed itself for ever (tulios/kafkajs#1751, #1704).
 *
 * Drives the queue directly, recording every delay it passes to setTimeout.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";

interface RequestQueue {
  throttleCheckTimeoutId: unknown;
  pending: unknown[];
  fulfillRequest(response: { correlationId: number; payload: Uint8Array | null; size: number }): void;
  maybeThrottle(clientSideThrottleTimeMs: number | null): void;
  push(request: { entry: { correlationId: number; resolve: (response: unknown) => void; reject: (error: unknown) => void }; expectResponse: boolean; sendRequest: () => void; requestTimeout?: number }): void;
  destroy(): void;
}
type RequestQueueClass = new (options: Record<string, unknown>) => RequestQueue;

// No type declarations ship for kafkajs's internals: the specifier is widened so tsc does not look.
const modulePath: string = "kafkajs/src/network/requestQueue/index.js";
const { default: RequestQueueImpl } = (await import(modulePath)) as { default: RequestQueueClass };

const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
let delays: number[] = [];
const realSetTimeout = globalThis.setTimeout;

beforeEach(() => {
  delays = [];
  const recording = ((fn: () => void, delayMs?: number) => {
    delays.push(delayMs ?? 0);
    return realSetTimeout(fn, delayMs);
  }) as typeof setTimeout;
  globalThis.setTimeout = recording;
});
afterEach(() => {
  globalThis.setTimeout = realSetTimeout;
});

function entry(correlationId: number): { correlationId: number; resolve: () => void; reject: () => void } {
  return { correlationId, resolve: () => {}, reject: () => {} };
}

function queue(maxInFlightRequests: number): RequestQueue {
  return new RequestQueueImpl({
    maxInFlightRequests,
    requestTimeout: 30_000,
    enforceRequestTimeout: false,
    clientId: "test",
    broker: "127.0.0.1:9092",
    logger: quiet,
  });
}

test("a response with nothing pending arms no timer (no negative delay, no 1 ms loop)", () => {
  const q = queue(1);
  q.push({ entry: entry(1), expectResponse: true, sendRequest: () => {} });
  q.fulfillRequest({ correlationId: 1, payload: null, size: 0 });
  q.fulfillRequest({ correlationId: 2, payload: null, size: 0 }); // unmatched: logged, nothing else
  expect(delays).toEqual([]);
  expect(q.throttleCheckTimeoutId).toBeNull();
  q.destroy();
});

test("a throttled queue with a request pending checks again when the throttle ends", () => {
  const q = queue(5);
  q.maybeThrottle(200);
  q.push({ entry: entry(1), expectResponse: true, sendRequest: () => {} });
  expect(q.pending.length).toBe(1);
  expect(delays.length).toBe(1);
  const [delay] = delays;
  expect(delay).toBeGreaterThan(0);
  expect(delay).toBeLessThanOrEqual(200);
  q.destroy();
});

test("a queue at its in-flight limit polls its pending requests with a positive delay", () => {
  const q = queue(1);
  q.push({ entry: entry(1), expectResponse: true, sendRequest: () => {} });
  q.push({ entry: entry(2), expectResponse: true, sendRequest: () => {} });
  expect(q.pending.length).toBe(1);
  expect(delays).toEqual([10]);
  for (const d of delays) expect(d).toBeGreaterThan(0);
  q.destroy();
});
