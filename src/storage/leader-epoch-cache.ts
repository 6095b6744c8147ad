/**
 * The leader epoch cache of one partition: which leader epoch started at which offset,
 * persisted in `leader-epoch-checkpoint` (format in checkpoint.ts) after every change.
 *
 * Invariants: entries strictly ascending in epoch and in start offset; every start offset is
 * within [logStartOffset, logEndOffset]. Truncating the log truncates the cache with it.
 */
import { type FileSystem, joinPath } from "../platform/fs.ts";
import { CheckpointError, type EpochEntry, readEpochCheckpoint, writeEpochCheckpoint } from "./checkpoint.ts";
import { leaderEpochCheckpointName } from "./file-names.ts";

/** Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET. */
export const undefinedEpoch = -1;
export const undefinedEpochOffset = -1;

export interface EpochEndOffset {
  leaderEpoch: number;
  endOffset: number;
}

export class LeaderEpochCache {
  #entries: EpochEntry[];
  readonly #fs: FileSystem;
  readonly #path: string;

  private constructor(fs: FileSystem, path: string, entries: EpochEntry[]) {
    this.#fs = fs;
    this.#path = path;
    this.#entries = entries;
  }

  /** Loads the checkpoint of `dir`; a corrupt or non-monotonic file is discarded (empty cache). */
  static load(fs: FileSystem, dir: string): LeaderEpochCache {
    const path = joinPath(dir, leaderEpochCheckpointName);
    let entries: EpochEntry[] = [];
    try {
      entries = readEpochCheckpoint(fs, path) ?? [];
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw e;
      entries = [];
    }
    for (let i = 1; i < entries.length; i++) {
      if (entries[i]!.epoch <= entries[i - 1]!.epoch || entries[i]!.startOffset < entries[i - 1]!.startOffset) {
        entries = [];
        break;
      }
    }
    if (entries.some((e) => e.epoch < 0 || e.startOffset < 0)) entries = [];
    return new LeaderEpochCache(fs, path, entries);
  }

  entries(): readonly EpochEntry[] {
    return this.#entries;
  }

  latestEpoch(): number {
    return this.#entries.at(-1)?.epoch ?? undefinedEpoch;
  }

  /**
   * Records that `epoch` starts at `startOffset` (an append with a new epoch). A stale epoch
   * (below the latest) is ignored; entries that conflict (start offset at or past this one)
   * are dropped first, as Kafka does.
   */
  assign(epoch: number, startOffset: number): void {
    if (epoch < 0) return;
    const latest = this.#entries.at(-1);
    if (latest !== undefined && (epoch < latest.epoch || (epoch === latest.epoch && startOffset >= latest.startOffset))) return;
    const kept = this.#entries.filter((e) => e.epoch < epoch && e.startOffset < startOffset);
    kept.push({ epoch, startOffset });
    this.#entries = kept;
    this.#flush();
  }

  /** Kafka's endOffsetFor: the start of the first epoch above `epoch`, or `logEndOffset` for the latest. */
  endOffsetFor(epoch: number, logEndOffset: number): EpochEndOffset {
    const undefinedResult = { leaderEpoch: undefinedEpoch, endOffset: undefinedEpochOffset };
    if (epoch === undefinedEpoch || this.#entries.length === 0) return undefinedResult;
    if (epoch === this.latestEpoch()) return { leaderEpoch: epoch, endOffset: logEndOffset };
    const higher = this.#entries.find((e) => e.epoch > epoch);
    if (higher === undefined) return undefinedResult;
    let floor: EpochEntry | undefined;
    for (const e of this.#entries) if (e.epoch <= epoch) floor = e;
    return { leaderEpoch: floor === undefined ? epoch : floor.epoch, endOffset: higher.startOffset };
  }

  /** Epoch of the batch holding `offset`, per the cache (undefinedEpoch when before every entry). */
  epochForOffset(offset: number): number {
    let epoch = undefinedEpoch;
    for (const e of this.#entries) if (e.startOffset <= offset) epoch = e.epoch;
    return epoch;
  }

  /** Drops entries starting at or after `endOffset` (log truncated to `endOffset`). */
  truncateFromEnd(endOffset: number): void {
    const kept = this.#entries.filter((e) => e.startOffset < endOffset);
    if (kept.length === this.#entries.length) return;
    this.#entries = kept;
    this.#flush();
  }

  /** Log start moved to `startOffset`: the epoch covering it now starts there. */
  truncateFromStart(startOffset: number): void {
    let idx = -1;
    for (let i = 0; i < this.#entries.length; i++) if (this.#entries[i]!.startOffset <= startOffset) idx = i;
    if (idx < 0) return;
    const first = this.#entries[idx]!;
    if (idx === 0 && first.startOffset === startOffset) return;
    this.#entries = [{ epoch: first.epoch, startOffset }, ...this.#entries.slice(idx + 1)];
    this.#flush();
  }

  clear(): void {
    if (this.#entries.length === 0 && !this.#fs.exists(this.#path)) return;
    this.#entries = [];
    this.#flush();
  }

  #flush(): void {
    writeEpochCheckpoint(this.#fs, this.#path, this.#entries);
  }
}
