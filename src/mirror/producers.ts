/**
 * The producer ids the mirror writes with, per cluster: batch provenance for loop prevention
 * and for finding the mirror's own batches in a target partition that others write too.
 *
 * Every producer id a flow obtains on a cluster (InitProducerId) is first recorded in that
 * cluster's `bunka-mirror-producers.internal` topic (one partition, acks=all), and only then
 * used. So whoever reads that topic to its end *after* fetching a batch knows whether a mirror
 * wrote the batch: if its producer id is not listed, no mirror did. A flow out of cluster X
 * skips X's batches written by any mirror (a record crosses at most once, whatever the naming
 * policy); a flow into a shared target partition recognises its own batches by the ids listed
 * under its name.
 *
 * Record format: key = the flow name in UTF-8 (`A->B`), value = int64 producer id (big-endian).
 */
import type { ClusterClient } from "../client/bootstrap.ts";
import { createTopic } from "../client/admin.ts";
import { describeFailure, produceBatch } from "../client/partition-io.ts";
import type { Clock } from "../platform/clock.ts";
import type { Compression } from "../platform/compression.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { buildRecordBatch } from "../protocol/records/builder.ts";
import { internalBatchBytesMax, readPartition } from "./offset-syncs.ts";

export const producersTopic = "bunka-mirror-producers.internal";
/** Producer ids remembered as not the mirror's, per registry (a bounded cache; misses re-read). */
export const foreignIdsMax = 100_000;

const enc = new TextEncoder();
const dec = new TextDecoder();

export class MirrorProducers {
  readonly #cluster: ClusterClient;
  readonly #compression: Compression;
  readonly #clock: Clock;
  readonly #replicationFactor: number;
  /** Producer id → flow name. */
  readonly #ids = new Map<number, string>();
  readonly #foreign = new Set<number>();
  #readTo = 0;
  #refreshing: Promise<string | null> | null = null;
  #topicReady = false;

  constructor(cluster: ClusterClient, compression: Compression, clock: Clock, replicationFactor: number) {
    this.#cluster = cluster;
    this.#compression = compression;
    this.#clock = clock;
    this.#replicationFactor = replicationFactor;
  }

  /** Records `producerId` as `flow`'s before it writes anything; resolves with why not, or null. */
  async register(flow: string, producerId: number): Promise<string | null> {
    if (!this.#topicReady) {
      const created = await createTopic(this.#cluster, { name: producersTopic, numPartitions: 1, replicationFactor: this.#replicationFactor, configs: new Map() });
      if (!created.ok && (created.error instanceof Error || created.error.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS)) return `creating ${producersTopic}: ${describeFailure(created.error)}`;
      await this.#cluster.refreshMetadata([producersTopic]);
      this.#topicReady = true;
    }
    const value = new Uint8Array(8);
    new DataView(value.buffer).setBigInt64(0, BigInt(producerId));
    const r = await produceBatch(this.#cluster, { topic: producersTopic, partition: 0 }, buildRecordBatch([{ key: enc.encode(flow), value, timestamp: this.#clock.nowMs() }]));
    if (!r.ok) return `registering producer id ${producerId}: ${describeFailure(r.error)}`;
    this.#ids.set(producerId, flow);
    this.#foreign.delete(producerId);
    return null;
  }

  /** Reads the topic from where the last read stopped to its end (concurrent calls share one read). */
  refresh(): Promise<string | null> {
    this.#refreshing ??= this.#read().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  async #read(): Promise<string | null> {
    await this.#cluster.refreshMetadata([producersTopic]);
    const t = this.#cluster.metadata.topics.find((x) => x.name === producersTopic);
    if (t === undefined || t.errorCode !== ErrorCode.NONE) return null; // no mirror ever wrote here
    const r = await readPartition(this.#cluster, { topic: producersTopic, partition: 0 }, this.#readTo === 0 ? "earliest" : this.#readTo, (b) => {
      if (b.isControl) return;
      for (const rec of b.records({ maxBytes: internalBatchBytesMax, compression: this.#compression })) {
        if (rec.key === null || rec.value === null || rec.value.length !== 8) continue;
        const id = new DataView(rec.value.buffer, rec.value.byteOffset, 8).getBigInt64(0);
        if (id < 0n || id > BigInt(Number.MAX_SAFE_INTEGER)) continue;
        this.#ids.set(Number(id), dec.decode(rec.key));
        this.#foreign.delete(Number(id));
      }
    });
    if (!r.ok) return r.message;
    this.#readTo = Math.max(this.#readTo, r.end);
    return null;
  }

  /**
   * Whether a mirror wrote the batch of `producerId` (fetched before this call). Unknown ids
   * re-read the topic once; an id still absent is remembered as foreign.
   */
  async isMirrors(producerId: number): Promise<boolean | string> {
    if (producerId < 0) return false;
    if (this.#ids.has(producerId)) return true;
    if (this.#foreign.has(producerId)) return false;
    const why = await this.refresh();
    if (why !== null) return why;
    if (this.#ids.has(producerId)) return true;
    if (this.#foreign.size >= foreignIdsMax) this.#foreign.clear();
    this.#foreign.add(producerId);
    return false;
  }

  /** The producer ids listed under `flow` (after a refresh by the caller). */
  idsOf(flow: string): Set<number> {
    const out = new Set<number>();
    for (const [id, f] of this.#ids) if (f === flow) out.add(id);
    return out;
  }
}
