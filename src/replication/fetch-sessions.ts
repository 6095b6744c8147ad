/**
 * Incremental fetch sessions (KIP-227), the leader's side: a bounded cache of sessions, each
 * the set of partitions one fetcher (a consumer or a follower) reads, with what it last said
 * of each (fetch offset, epochs, limits) and what it was last told (HW, log start, error), so
 * that a fetch names only partitions whose request changed and is answered only with
 * partitions whose answer changed. An idle follower's fetch then carries no partitions.
 *
 * Request metadata (session id, epoch) and what it means here:
 *
 *   id \ epoch | -1 (final)                     | 0 (initial)                     | n > 0
 *   -----------+--------------------------------+---------------------------------+-------------------------
 *   0          | full fetch, no session         | full fetch, new session if room | FETCH_SESSION_ID_NOT_FOUND
 *   x != 0     | close x, full fetch, no session| close x, full fetch, new session| incremental on x: unknown
 *              |                                |                                 | id NOT_FOUND, n != x's
 *              |                                |                                 | epoch INVALID_FETCH_SESSION_EPOCH
 *
 * A full fetch answers every partition it names; an incremental one every partition of the
 * session with records or an error, or whose answer differs from the last one sent (a new HW
 * / last stable offset / log start, a diverging epoch). Partitions that returned records move to the end
 * of the session's order, so a response byte limit does not starve the later ones.
 *
 * Bounds: at most `slotsMax` sessions (`max.incremental.fetch.session.cache.slots`, 0: no
 * sessions). A new session when full evicts, in order: the least recently used session idle
 * for `evictionMs`; for a follower (privileged), the smallest consumer session; for a consumer,
 * the smallest consumer session with fewer partitions than its own. Otherwise no session is
 * created (id 0: the client goes on with full fetches). Session ids are random positive
 * int32s. A session holds at most `partitionsMax` partitions (see sessionPartitionsMaxDefault).
 */
import type { Clock } from "../platform/clock.ts";
import type { Prng } from "../platform/prng.ts";
import { ErrorCode } from "../protocol/errors.ts";

/** Kafka's FetchMetadata epochs. */
export const initialSessionEpoch = 0;
export const finalSessionEpoch = -1;
/** Kafka's min.incremental.fetch.session.eviction.ms. */
export const sessionEvictionMsDefault = 120_000;
/**
 * Partitions one session may hold. Incremental fetches add partitions a request names, so a
 * client could otherwise grow a session without bound across requests; a full fetch above it
 * gets no session, an incremental one that would pass it loses its session (the client starts
 * over with a full fetch, bounded by the request size).
 */
export const sessionPartitionsMaxDefault = 200_000;
const int32Max = 0x7fff_ffff;

interface CachedPartition<R> {
  request: R;
  /** What the last answer sent said of the partition (null: never answered). */
  sent: string | null;
}

export interface FetchSession<R> {
  readonly id: number;
  readonly privileged: boolean;
  /** The epoch the next incremental fetch must carry. */
  epoch: number;
  lastUsedMs: number;
  /** In fetch order; key = topic (id or name) + partition. */
  readonly partitions: Map<string, CachedPartition<R>>;
}

export type SessionContext<R> =
  | { readonly kind: "error"; readonly errorCode: number }
  | {
      readonly kind: "full" | "incremental";
      /** The session answered in the response (0: none). */
      readonly sessionId: number;
      /** Every partition to read, in order. */
      readonly partitions: readonly (readonly [string, R])[];
      readonly session: FetchSession<R> | null;
    };

export interface FetchSessionCacheOptions {
  readonly slotsMax: number;
  readonly partitionsMax?: number;
  readonly evictionMs?: number;
  readonly clock: Clock;
  readonly prng: Prng;
}

export class FetchSessionCache<R> {
  readonly #sessions = new Map<number, FetchSession<R>>();
  readonly #slotsMax: number;
  readonly #partitionsMax: number;
  readonly #evictionMs: number;
  readonly #clock: Clock;
  readonly #prng: Prng;
  /** Sessions evicted to make room (metrics, tests). */
  evictions = 0;

  constructor(o: FetchSessionCacheOptions) {
    if (!(Number.isInteger(o.slotsMax) && o.slotsMax >= 0)) throw new Error(`fetch session slots ${o.slotsMax}`);
    this.#slotsMax = o.slotsMax;
    this.#partitionsMax = o.partitionsMax ?? sessionPartitionsMaxDefault;
    if (!(this.#partitionsMax >= 1)) throw new Error(`fetch session partitions max ${this.#partitionsMax}`);
    this.#evictionMs = o.evictionMs ?? sessionEvictionMsDefault;
    this.#clock = o.clock;
    this.#prng = o.prng;
  }

  get size(): number {
    return this.#sessions.size;
  }

  session(id: number): FetchSession<R> | undefined {
    return this.#sessions.get(id);
  }

  /**
   * Opens a fetch's context (see the module table). `named` are the partitions the request
   * names (with their request fields), `forgotten` those it removes from its session.
   */
  begin(sessionId: number, epoch: number, named: readonly (readonly [string, R])[], forgotten: readonly string[], privileged: boolean): SessionContext<R> {
    const now = this.#clock.monotonicMs();
    if (epoch === initialSessionEpoch || epoch === finalSessionEpoch) {
      if (sessionId !== 0) this.#sessions.delete(sessionId);
      const session = epoch === initialSessionEpoch ? this.#create(named, privileged, now) : null;
      return { kind: "full", sessionId: session?.id ?? 0, partitions: named, session };
    }
    if (epoch < finalSessionEpoch) return { kind: "error", errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH };
    const session = this.#sessions.get(sessionId);
    if (session === undefined) return { kind: "error", errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND };
    if (session.epoch !== epoch) return { kind: "error", errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH };
    for (const key of forgotten) session.partitions.delete(key);
    for (const [key, request] of named) {
      const cached = session.partitions.get(key);
      if (cached !== undefined) {
        cached.request = request;
        continue;
      }
      if (session.partitions.size >= this.#partitionsMax) {
        this.#sessions.delete(session.id);
        return { kind: "error", errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND };
      }
      session.partitions.set(key, { request, sent: null });
    }
    session.epoch = nextEpoch(epoch);
    session.lastUsedMs = now;
    // The session's LRU position: most recently used last.
    this.#sessions.delete(session.id);
    this.#sessions.set(session.id, session);
    const partitions: (readonly [string, R])[] = [];
    for (const [key, c] of session.partitions) partitions.push([key, c.request]);
    return { kind: "incremental", sessionId: session.id, partitions, session };
  }

  /**
   * Whether the answer of `key` goes into the response: always in a full fetch; in an
   * incremental one when it carries records or an error, or its `signature` (HW, log start,
   * diverging epoch...) differs from the last one sent. Records the signature sent — none
   * after an error, so the answer that ends the error is sent too.
   */
  include(ctx: SessionContext<R>, key: string, signature: string, hasRecords: boolean, hasError: boolean): boolean {
    if (ctx.kind === "error") throw new Error("FetchSessionCache.include on an error context");
    const cached = ctx.session?.partitions.get(key);
    const changed = ctx.kind === "full" || cached === undefined || hasRecords || hasError || cached.sent !== signature;
    if (cached !== undefined) cached.sent = hasError ? null : signature;
    return changed;
  }

  /** After the answer: partitions that returned records move to the end of the session's order. */
  rotate(ctx: SessionContext<R>, withRecords: readonly string[]): void {
    if (ctx.kind === "error" || ctx.session === null) return;
    const parts = ctx.session.partitions;
    for (const key of withRecords) {
      const c = parts.get(key);
      if (c === undefined) continue;
      parts.delete(key);
      parts.set(key, c);
    }
  }

  #create(named: readonly (readonly [string, R])[], privileged: boolean, now: number): FetchSession<R> | null {
    if (this.#slotsMax === 0 || named.length > this.#partitionsMax) return null;
    if (this.#sessions.size >= this.#slotsMax && !this.#evictFor(named.length, privileged, now)) return null;
    let id = 0;
    do id = (this.#prng.nextU32() & int32Max) || 1;
    while (this.#sessions.has(id));
    const partitions = new Map<string, CachedPartition<R>>();
    for (const [key, request] of named) partitions.set(key, { request, sent: null });
    const session: FetchSession<R> = { id, privileged, epoch: 1, lastUsedMs: now, partitions };
    this.#sessions.set(id, session);
    if (!(this.#sessions.size <= this.#slotsMax)) throw new Error(`fetch sessions ${this.#sessions.size} above ${this.#slotsMax}`);
    return session;
  }

  /** Frees one slot by the module's eviction order; false when none may go. */
  #evictFor(size: number, privileged: boolean, now: number): boolean {
    // The map is in LRU order: the first stale one is the least recently used.
    for (const s of this.#sessions.values()) {
      if (now - s.lastUsedMs >= this.#evictionMs) return this.#evict(s);
    }
    let smallest: FetchSession<R> | null = null;
    for (const s of this.#sessions.values()) {
      if (s.privileged) continue;
      if (smallest === null || s.partitions.size < smallest.partitions.size) smallest = s;
    }
    if (smallest === null) return false;
    if (privileged || smallest.partitions.size < size) return this.#evict(smallest);
    return false;
  }

  #evict(s: FetchSession<R>): boolean {
    this.#sessions.delete(s.id);
    this.evictions++;
    return true;
  }
}

/** The epoch after `epoch`: wraps from Int32.MAX to 1 (0 and -1 are the full-fetch epochs). */
export function nextEpoch(epoch: number): number {
  return epoch >= int32Max ? 1 : epoch + 1;
}
