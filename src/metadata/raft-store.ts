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
 *
 * Snapshots (KIP-630; the image's form: image-snapshot.ts):
 * - At start the image is the latest local snapshot's (`startImage`), and the log is replayed
 *   from the snapshot's end as it commits.
 * - Every node (controller or not) snapshots its own image once `shouldSnapshot` says so
 *   (`metadata.log.max.record.bytes.between.snapshots` of log applied since the last one, or
 *   `metadata.log.max.snapshot.interval.ms` since it with anything applied), at the offset it
 *   has applied: a committed batch boundary, so at or below the high watermark. The Raft core
 *   then deletes what retention allows (`metadata.max.retention.*`) and moves the log start.
 *   The snapshot is taken on a timer (at once when due, else when the interval runs out),
 *   never inside a Raft event: every listener of a commit sees the log it committed before
 *   retention may delete it, and the core is not re-entered while it hands out outputs.
 * - "snapshotLoaded" (this node fetched the leader's snapshot: it was behind the leader's log
 *   start): the image is replaced by the snapshot's, pushed as one `snapshot` update, and
 *   replay goes on from the snapshot's end. The subscriber sees images in log order only: an
 *   update is either the records after the image it has, or a snapshot at or past it.
 */
import { buildRecordBatch } from "../protocol/records/builder.ts";
import { walkBatches } from "../protocol/records/record-batch.ts";
import type { CancelTimer, Clock } from "../platform/clock.ts";
import { type RaftConfig, shouldSnapshot } from "../raft/config.ts";
import type { RaftDriver, RaftEvent } from "../raft/driver.ts";
import type { RaftLog } from "../raft/raft-log.ts";
import { type SnapshotId, snapshotIdText } from "../raft/snapshot.ts";
import type { Logger } from "../util/log.ts";
import { MetadataDelta, MetadataImage, MetadataReplayError } from "./image.ts";
import { decodeImageSnapshot, encodeImageSnapshot } from "./image-snapshot.ts";
import { METADATA_BATCH_BYTES_MAX } from "./log-store.ts";
import { type CommittedMetadata, type MetadataStore, NotControllerError, type ReplicatedMetadata } from "./metadata-manager.ts";
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

export interface RaftMetadataStoreOptions {
  /** When to snapshot (`shouldSnapshot`): the metadata.log.max.* settings. */
  readonly snapshot: Pick<RaftConfig, "snapshotRecordBytesBetween" | "snapshotIntervalMs">;
  readonly log?: Logger;
}

/** What the store did with snapshots, for tests and operators. */
export interface MetadataSnapshotStats {
  /** Snapshots this node took of its image. */
  taken: number;
  /** Snapshots fetched from the leader and installed. */
  loaded: number;
  /** Snapshots the Raft core refused (logged). */
  rejected: number;
  /** Snapshots taken after which retention moved the log start (the log before it deleted). */
  logStartMoves: number;
  /** The latest snapshot taken or loaded, or the one started from. */
  latest: SnapshotId | null;
}

export class RaftMetadataStore implements MetadataStore, ReplicatedMetadata {
  readonly replicated: ReplicatedMetadata = this;
  readonly #driver: RaftDriver;
  readonly #log: RaftLog;
  readonly #clock: Clock;
  readonly #snapshotConfig: RaftMetadataStoreOptions["snapshot"];
  readonly #logger: Logger | null;
  readonly startImage: MetadataImage;
  #subscriber: ((committed: CommittedMetadata) => MetadataImage) | null = null;
  /** The subscriber's image at `#applied` (what a snapshot at `#applied` holds). */
  #image: MetadataImage;
  /** Next offset to read and push. */
  #applied: number;
  /** Log bytes applied since the latest snapshot, and when that was (monotonic). */
  #bytesSinceSnapshot = 0;
  #lastSnapshotMs: number;
  /** The timer of the next snapshot check, and when it is due (monotonic). */
  #snapshotTimer: CancelTimer | null = null;
  #snapshotTimerAtMs = Number.POSITIVE_INFINITY;
  #closed = false;
  readonly stats: MetadataSnapshotStats = { taken: 0, loaded: 0, rejected: 0, logStartMoves: 0, latest: null };
  #highWatermark = 0;
  #pending: Pending[] = [];
  /** The epoch in which this node leads and has committed its LEADER_CHANGE; -1 otherwise. */
  #writableEpoch = -1;
  #waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  #catchUpWaiters: { offset: number; resolve: () => void }[] = [];
  #failed: Error | null = null;

  /**
   * Reads the latest local snapshot (throws MetadataReplayError when its content is not an
   * image, SnapshotError or StorageError when the file cannot be read).
   */
  constructor(driver: RaftDriver, log: RaftLog, clock: Clock, opts: RaftMetadataStoreOptions) {
    this.#driver = driver;
    this.#log = log;
    this.#clock = clock;
    this.#snapshotConfig = opts.snapshot;
    this.#logger = opts.log ?? null;
    this.#lastSnapshotMs = clock.monotonicMs();
    const latest = log.latestSnapshot();
    this.startImage = latest === null ? MetadataImage.EMPTY : decodeImageSnapshot(log.readSnapshotContent(latest), latest.endOffset - 1);
    this.#image = this.startImage;
    this.#applied = latest?.endOffset ?? log.logStartOffset;
    this.stats.latest = latest;
    driver.onEvent((e) => this.#onEvent(e));
  }

  /** Nothing is known committed before the quorum says so: the image starts at `startImage`, the rest is pushed. */
  load(): Entry[] {
    return [];
  }

  subscribe(apply: (committed: CommittedMetadata) => MetadataImage): void {
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

  /**
   * Proposes `records` as one batch. A batch larger than a proposal may be (the Raft log's
   * segment, `METADATA_BATCH_BYTES_MAX`) is refused, unless the decision is not atomic
   * (`atomic: false`, as Kafka's non-atomic controller results: a broker fenced with the
   * leadership of its partitions moved, where each record stands alone): then it goes as
   * consecutive batches, proposed in this same turn, in order. Resolves once the last is
   * committed; if a later one is lost, earlier ones may still commit (which is why only
   * non-atomic decisions are split).
   */
  append(records: readonly MetadataRecord[], opts: { atomic?: boolean } = {}): Promise<number> {
    if (this.#failed !== null) return Promise.reject(this.#failed);
    const now = this.#clock.nowMs();
    const limit = Math.min(METADATA_BATCH_BYTES_MAX, this.#driver.core.appendBytesMax);
    const encoded = records.map((r) => ({ ...encodeMetadataRecord(r), timestamp: now }));
    const whole = buildRecordBatch(encoded);
    const batches = whole.length <= limit || opts.atomic !== false ? [whole] : splitBatches(encoded, limit);
    if (batches.some((b) => b.length > limit)) {
      const largest = Math.max(...batches.map((b) => b.length));
      return Promise.reject(new Error(`metadata proposal rejected: ${largest} bytes, must be 1..${limit}`));
    }
    let first: { firstOffset: number; epoch: number } | null = null;
    let lastOffset = -1;
    for (const batch of batches) {
      const result = this.#driver.propose(batch);
      if (result.kind === "notLeader") return Promise.reject(this.#notController());
      if (result.kind === "rejected") return Promise.reject(new Error(`metadata proposal rejected: ${result.detail}`));
      first ??= { firstOffset: result.firstOffset, epoch: result.epoch };
      if (result.epoch !== first.epoch) return Promise.reject(this.#notController());
      lastOffset = result.lastOffset;
    }
    const { firstOffset, epoch } = first!;
    return new Promise((resolve, reject) => {
      this.#pending.push({ firstOffset, lastOffset, epoch, resolve, reject });
    });
  }

  /**
   * The quorum stopped for good (a metadata-log write failed): every waiting and later
   * proposal fails with `error`. Nothing is applied any more.
   */
  fail(error: Error): void {
    if (this.#failed === null) this.#failed = error;
    this.#snapshotTimer?.();
    this.#snapshotTimer = null;
    for (const p of this.#pending.splice(0)) p.reject(this.#failed);
    for (const w of this.#waiters.splice(0)) w.reject(this.#failed);
  }

  #notController(): NotControllerError {
    const core = this.#driver.core;
    const leader = core.leaderId;
    return new NotControllerError(leader, leader >= 0 ? `node ${leader} is the active controller` : "no active controller (an election is under way)");
  }

  #onEvent(e: RaftEvent): void {
    if (e.kind === "snapshotLoaded") {
      this.#loadSnapshot(e.snapshotId, e.content);
      return;
    }
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
        this.#bytesSinceSnapshot += appliedBytes(walk.batches, next);
        this.#applied = next;
        if (entries.length > 0) this.#push({ kind: "records", entries });
      }
    } catch (error) {
      this.#fail(error);
      throw error;
    }
    this.#wakeCatchUpWaiters();
    this.#armSnapshot();
  }

  /** Arms the snapshot timer for when `shouldSnapshot` will say yes (nothing applied: never). */
  #armSnapshot(): void {
    if (this.#closed || this.#failed !== null || this.#bytesSinceSnapshot <= 0) return;
    const now = this.#clock.monotonicMs();
    const { snapshotRecordBytesBetween, snapshotIntervalMs } = this.#snapshotConfig;
    const atMs =
      this.#bytesSinceSnapshot >= snapshotRecordBytesBetween ? now : snapshotIntervalMs > 0 ? Math.max(now, this.#lastSnapshotMs + snapshotIntervalMs) : Number.POSITIVE_INFINITY;
    if (!(atMs < this.#snapshotTimerAtMs)) return;
    this.#snapshotTimer?.();
    this.#snapshotTimerAtMs = atMs;
    this.#snapshotTimer = this.#clock.schedule(atMs - now, () => {
      this.#snapshotTimer = null;
      this.#snapshotTimerAtMs = Number.POSITIVE_INFINITY;
      this.#maybeSnapshot();
      this.#armSnapshot();
    });
  }

  /** Stops snapshotting (the quorum closes: the log is about to close). */
  close(): void {
    this.#closed = true;
    this.#snapshotTimer?.();
    this.#snapshotTimer = null;
  }

  /** The leader's snapshot, installed by the core: it replaces the image; replay goes on from its end. */
  #loadSnapshot(id: SnapshotId, content: Uint8Array): void {
    if (this.#failed !== null) return;
    if (!(id.endOffset >= this.#applied)) throw new Error(`metadata snapshot ${snapshotIdText(id)} ends before the applied offset ${this.#applied}`);
    try {
      const image = decodeImageSnapshot(content, id.endOffset - 1);
      this.#applied = id.endOffset;
      this.#highWatermark = Math.max(this.#highWatermark, id.endOffset);
      this.#push({ kind: "snapshot", image });
    } catch (error) {
      this.#fail(error);
      throw error;
    }
    this.#bytesSinceSnapshot = 0;
    this.#lastSnapshotMs = this.#clock.monotonicMs();
    this.stats.loaded++;
    this.stats.latest = id;
    this.#logger?.info("metadata snapshot loaded from the leader", { snapshot: snapshotIdText(id), bytes: content.length, topics: this.#image.topicsById.size, brokers: this.#image.brokers.size });
    this.#wakeCatchUpWaiters();
  }

  /** Snapshots the image at the applied offset when `shouldSnapshot` says it is time. */
  #maybeSnapshot(): void {
    if (this.#closed || this.#failed !== null) return;
    const now = this.#clock.monotonicMs();
    if (!shouldSnapshot(this.#snapshotConfig, this.#bytesSinceSnapshot, now - this.#lastSnapshotMs)) return;
    // Whatever comes of it, the next attempt waits for as much again: a refusal is not retried per commit.
    this.#bytesSinceSnapshot = 0;
    this.#lastSnapshotMs = now;
    const latest = this.#log.latestSnapshot();
    if (latest !== null && latest.endOffset >= this.#applied) return;
    // A snapshot holds committed records only: what was applied, never past the high watermark.
    if (!(this.#applied <= this.#highWatermark && this.#image.offset < this.#applied)) {
      throw new Error(`metadata snapshot at ${this.#applied}: high watermark ${this.#highWatermark}, image at ${this.#image.offset}`);
    }
    const content = encodeImageSnapshot(this.#image, this.#clock.nowMs());
    const logStartBefore = this.#log.logStartOffset;
    const r = this.#driver.createSnapshot(this.#applied, content);
    if (r.kind !== "ok") {
      this.stats.rejected++;
      this.#logger?.warn("metadata snapshot refused", { endOffset: this.#applied, detail: r.detail });
      return;
    }
    if (r.snapshotId.endOffset !== this.#applied) throw new Error(`metadata snapshot ${snapshotIdText(r.snapshotId)} taken for the applied offset ${this.#applied}`);
    this.stats.taken++;
    this.stats.latest = r.snapshotId;
    if (r.logStartOffset > logStartBefore) this.stats.logStartMoves++;
    this.#logger?.info("metadata snapshot taken", {
      snapshot: snapshotIdText(r.snapshotId),
      bytes: content.length,
      topics: this.#image.topicsById.size,
      logStartOffset: r.logStartOffset,
      logStartBefore,
    });
  }

  /** Hands `committed` to the subscriber and keeps the image it leads to (replayed here when nobody subscribed). */
  #push(committed: CommittedMetadata): void {
    if (this.#subscriber !== null) {
      this.#image = this.#subscriber(committed);
      return;
    }
    if (committed.kind === "snapshot") {
      this.#image = committed.image;
      return;
    }
    const delta = new MetadataDelta(this.#image);
    for (const { offset, record } of committed.entries) delta.replay(record, offset);
    this.#image = delta.apply();
  }

  /** The image at the applied offset, as the subscriber built it. */
  get image(): MetadataImage {
    return this.#image;
  }

  #fail(error: unknown): void {
    this.fail(error instanceof Error ? error : new Error(String(error)));
  }

  #wakeCatchUpWaiters(): void {
    const ready = this.#catchUpWaiters.filter((w) => w.offset <= this.#applied);
    this.#catchUpWaiters = this.#catchUpWaiters.filter((w) => w.offset > this.#applied);
    for (const w of ready) w.resolve();
  }
}

/** Bytes of the batches read that end at or before `end` (the part of a read that was applied). */
function appliedBytes(batches: readonly { baseOffset: number; lastOffsetDelta: number; sizeInBytes: number }[], end: number): number {
  let n = 0;
  for (const b of batches) if (b.baseOffset + b.lastOffsetDelta + 1 <= end) n += b.sizeInBytes;
  return n;
}

/** A v2 batch's header, and the most a record adds besides its key and value (its varints and attributes). */
const batchHeaderBytes = 61;
const recordOverheadBytesMax = 32;

/**
 * Records as consecutive batches of at most `limit` bytes each, cut by an upper bound of each
 * record's size (one pass, one build per batch); a record too large alone gets a batch of its
 * own, which the caller refuses.
 */
function splitBatches(encoded: readonly Parameters<typeof buildRecordBatch>[0][number][], limit: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  let bytes = batchHeaderBytes;
  for (let i = 0; i < encoded.length; i++) {
    const r = encoded[i]!;
    const size = recordOverheadBytesMax + (r.key?.length ?? 0) + (r.value?.length ?? 0);
    if (i > start && bytes + size > limit) {
      out.push(buildRecordBatch(encoded.slice(start, i)));
      start = i;
      bytes = batchHeaderBytes;
    }
    bytes += size;
  }
  out.push(buildRecordBatch(encoded.slice(start)));
  return out;
}
