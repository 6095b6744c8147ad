/**
 * AlterPartition batching: a leader's ISR changes for many partitions travel to the controller
 * as one request (one metadata decision, one commit) instead of one each — a broker that comes
 * back to a cluster where it follows hundreds of partitions rejoins hundreds of ISRs at once.
 *
 * Items given in the same turn of the event loop (collected until a timer at delay 0 fires)
 * go out together; items given while a request is in flight wait for it to end and go out
 * together in the next one. One request is in flight at a time, so the controller sees a
 * partition's changes in the order the leader made them. A partition appears at most once in
 * a request (the controller refuses a repeat): a second item for it waits for the next.
 * Each item's promise resolves with its own partition's error code (the request's error code
 * when the whole request failed) or rejects when the request could not be sent.
 */
import type { CancelTimer, Clock } from "../platform/clock.ts";
import type { AlterPartitionSender } from "../replication/replica-manager.ts";

export type AlterPartitionItem = Parameters<AlterPartitionSender>[0];

/** Sends one request for `items` (distinct partitions); resolves with one error code per item, in order. */
export type AlterPartitionTransport = (items: readonly AlterPartitionItem[]) => Promise<number[]>;

/** Partitions in one request at most: bounds one metadata decision. */
export const alterPartitionBatchMax = 1000;

interface Pending {
  item: AlterPartitionItem;
  resolve: (errorCode: number) => void;
  reject: (error: unknown) => void;
}

export class AlterPartitionBatcher {
  readonly #clock: Clock;
  readonly #transport: AlterPartitionTransport;
  #queue: Pending[] = [];
  #inFlight = false;
  #timer: CancelTimer | null = null;
  /** Requests sent so far (tests and logs). */
  requests = 0;

  constructor(clock: Clock, transport: AlterPartitionTransport) {
    this.#clock = clock;
    this.#transport = transport;
  }

  /** The AlterPartitionSender the ReplicaManager is given. */
  readonly send: AlterPartitionSender = (item) =>
    new Promise<number>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#maybeSchedule();
    });

  #maybeSchedule(): void {
    if (this.#inFlight || this.#timer !== null || this.#queue.length === 0) return;
    this.#timer = this.#clock.schedule(0, () => {
      this.#timer = null;
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    if (this.#inFlight) throw new Error("AlterPartition batcher: a flush while a request is in flight");
    const batch: Pending[] = [];
    const rest: Pending[] = [];
    const keys = new Set<string>();
    for (const p of this.#queue) {
      const key = `${p.item.topicId}:${p.item.partition}`;
      if (batch.length >= alterPartitionBatchMax || keys.has(key)) {
        rest.push(p);
        continue;
      }
      keys.add(key);
      batch.push(p);
    }
    this.#queue = rest;
    if (batch.length === 0) return;
    this.#inFlight = true;
    this.requests++;
    try {
      const codes = await this.#transport(batch.map((p) => p.item));
      if (codes.length !== batch.length) throw new Error(`AlterPartition answered ${codes.length} partitions for ${batch.length}`);
      batch.forEach((p, i) => p.resolve(codes[i]!));
    } catch (error) {
      for (const p of batch) p.reject(error);
    } finally {
      this.#inFlight = false;
      this.#maybeSchedule();
    }
  }

  /** Rejects whatever waits (the broker is stopping). */
  close(): void {
    this.#timer?.();
    this.#timer = null;
    const queue = this.#queue;
    this.#queue = [];
    for (const p of queue) p.reject(new Error("AlterPartition batcher closed"));
  }
}
