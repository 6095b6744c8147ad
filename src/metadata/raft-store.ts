/**
 * The metadata log replicated by the controller quorum: a `MetadataStore` over a Raft driver.
 *
 * - Every node (voter or observer) replays only committed records: on each "committed" event
 *   the records between what it applied and the new high watermark are read from the local
 *   Raft log (control batches such as LEADER_CHANGE skipped), decoded and pushed, in order, to
 *   the subscriber (the MetadataManager). A record that fails to decode stops the node
 *   (MetadataReplayError through the subscriber), as at start.
 * - Only the active controller (the Raft leader) decides. It may decide once its own epoch's
 *   LEADER_CHANGE is committed and everything before it applied (`whenWritable`): then its
 *   image holds every committed record of every earlier leader.
 * - `append` proposes one batch and resolves with its first offset once the high watermark
 *   passes its last offset in the same epoch, after the records were pushed. Leadership lost
 *   first: it rejects with NotControllerError (the records may still commit under the next
 *   leader; the requester retries and sees the outcome in the image).
 */
import { buildRecordBatch } from "../protocol/records/builder.ts";
import { walkBatches } from "../protocol/records/record-batch.ts";
import type { Clock } from "../platform/clock.ts";
import type { RaftDriver, RaftEvent } from "../raft/driver.ts";
import type { RaftLog } from "../raft/raft-log.ts";
import { MetadataReplayError } from "./image.ts";
import { METADATA_BATCH_BYTES_MAX } from "./log-store.ts";
import { type MetadataStore, NotControllerError, type ReplicatedMetadata } from "./metadata-manager.ts";
import { decodeMetadataRecord, encodeMetadataRecord, type MetadataRecord } from "./records.ts";

type Entry = { offset: number; record: MetadataRecord };

interface Pending {
  readonly lastOffset: number;
  readonly firstOffset: number;
  readonly epoch: number;
  readonly resolve: (first: number) => void;
  readonly reject: (e: Error) => void;
}

const readChunkBytes = 1 << 20;

export class RaftMetadataStore implements MetadataStore, ReplicatedMetadata {
  readonly replicated: ReplicatedMetadata = this;
  readonly #driver: RaftDriver;
  readonly #log: RaftLog;
  readonly #clock: Clock;
  #subscriber: ((entries: Entry[]) => void) | null = null;
  /** Next offset to read and push. */
  #applied: number;
  #highWatermark = 0;
  #pending: Pending[] = [];
  /** The epoch in which this node leads and has committed its LEADER_CHANGE; -1 otherwise. */
  #writableEpoch = -1;
  #waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  #catchUpWaiters: { offset: number; resolve: () => void }[] = [];
  #failed: Error | null = null;

  constructor(driver: RaftDriver, log: RaftLog, clock: Clock) {
    this.#driver = driver;
    this.#log = log;
    this.#clock = clock;
    this.#applied = log.logStartOffset;
    driver.onEvent((e) => this.#onEvent(e));
  }

  /** Nothing is known committed before the quorum says so: the image starts empty and is pushed. */
  load(): Entry[] {
    return [];
  }

  subscribe(apply: (entries: Entry[]) => void): void {
    this.#subscriber = apply;
  }

  /** The committed offset applied so far (everything below it is in the image). */
  get appliedOffset(): number {
    return this.#applied;
  }

  get highWatermark(): number {
    return this.#highWatermark;
  }

  /** Resolves once the image holds every record below `offset` (the quorum must commit it). */
  whenApplied(offset: number): Promise<void> {
    if (this.#applied >= offset) return Promise.resolve();
    return new Promise((resolve) => this.#catchUpWaiters.push({ offset, resolve }));
  }

  whenWritable(): Promise<void> {
    if (this.#failed !== null) return Promise.reject(this.#failed);
    const core = this.#driver.core;
    if (this.#writableEpoch === core.epoch && core.role.kind === "leader") return Promise.resolve();
    if (core.role.kind !== "leader") return Promise.reject(this.#notController());
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  append(records: readonly MetadataRecord[]): Promise<number> {
    if (this.#failed !== null) return Promise.reject(this.#failed);
    const now = this.#clock.nowMs();
    const batch = buildRecordBatch(records.map((r) => ({ ...encodeMetadataRecord(r), timestamp: now })));
    if (batch.length > METADATA_BATCH_BYTES_MAX) return Promise.reject(new Error(`metadata batch of ${batch.length} bytes exceeds ${METADATA_BATCH_BYTES_MAX}`));
    const result = this.#driver.propose(batch);
    if (result.kind === "notLeader") return Promise.reject(this.#notController());
    if (result.kind === "rejected") return Promise.reject(new Error(`metadata proposal rejected: ${result.detail}`));
    return new Promise((resolve, reject) => {
      this.#pending.push({ firstOffset: result.firstOffset, lastOffset: result.lastOffset, epoch: result.epoch, resolve, reject });
    });
  }

  /**
   * The quorum stopped for good (a metadata-log write failed): every waiting and later
   * proposal fails with `error`. Nothing is applied any more.
   */
  fail(error: Error): void {
    if (this.#failed === null) this.#failed = error;
    for (const p of this.#pending.splice(0)) p.reject(this.#failed);
    for (const w of this.#waiters.splice(0)) w.reject(this.#failed);
  }

  #notController(): NotControllerError {
    const core = this.#driver.core;
    const leader = core.leaderId;
    return new NotControllerError(leader, leader >= 0 ? `node ${leader} is the active controller` : "no active controller (an election is under way)");
  }

  #onEvent(e: RaftEvent): void {
    if (e.kind === "roleChanged") {
      if (e.role !== "leader") {
        this.#writableEpoch = -1;
        const error = this.#notController();
        for (const p of this.#pending.splice(0)) p.reject(error);
        for (const w of this.#waiters.splice(0)) w.reject(error);
      }
      return;
    }
    if (e.kind === "committed") {
      this.#highWatermark = Math.max(this.#highWatermark, e.highWatermark);
      this.#catchUp();
      const core = this.#driver.core;
      if (e.byLeader && core.role.kind === "leader" && e.epoch === core.epoch && this.#applied >= e.highWatermark) {
        this.#writableEpoch = e.epoch;
        for (const w of this.#waiters.splice(0)) w.resolve();
      }
      const stillPending: Pending[] = [];
      for (const p of this.#pending) {
        if (p.lastOffset < this.#applied && p.epoch === e.epoch) p.resolve(p.firstOffset);
        else if (p.epoch !== core.epoch) p.reject(this.#notController());
        else stillPending.push(p);
      }
      this.#pending = stillPending;
    }
  }

  /** Reads committed records [applied, hw) from the log and pushes them. */
  #catchUp(): void {
    const end = Math.min(this.#highWatermark, this.#log.logEndOffset);
    try {
      while (this.#applied < end) {
        const read = this.#log.read(this.#applied, readChunkBytes);
        if (read.kind !== "ok") throw new MetadataReplayError(this.#applied, `cannot read the metadata log: ${read.detail}`);
        if (read.records.length === 0) break;
        const walk = walkBatches(read.records, { verifyCrc: true, requireDenseOffsets: false, maxBatchBytes: METADATA_BATCH_BYTES_MAX });
        if (walk.problem !== null && walk.batches.length === 0) throw new MetadataReplayError(this.#applied, `metadata log batch: ${walk.problem}`);
        const entries: Entry[] = [];
        let next = this.#applied;
        for (const batch of walk.batches) {
          const batchEnd = batch.baseOffset + batch.lastOffsetDelta + 1;
          if (batchEnd > end) break; // not committed yet (batches commit whole)
          if (!batch.isControl) {
            for (const r of batch.records({ maxBytes: METADATA_BATCH_BYTES_MAX })) {
              if (r.offset < this.#applied) continue;
              if (r.value === null) throw new MetadataReplayError(r.offset, "metadata record without a value");
              const decoded = decodeMetadataRecord(r.value);
              if (!decoded.ok) throw new MetadataReplayError(r.offset, decoded.reason);
              entries.push({ offset: r.offset, record: decoded.record });
            }
          }
          next = batchEnd;
        }
        if (next === this.#applied) break;
        this.#applied = next;
        if (entries.length > 0) this.#subscriber?.(entries);
      }
    } catch (error) {
      this.#failed = error instanceof Error ? error : new Error(String(error));
      for (const p of this.#pending.splice(0)) p.reject(this.#failed);
      throw error;
    }
    const ready = this.#catchUpWaiters.filter((w) => w.offset <= this.#applied);
    this.#catchUpWaiters = this.#catchUpWaiters.filter((w) => w.offset > this.#applied);
    for (const w of ready) w.resolve();
  }
}
