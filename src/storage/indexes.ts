/**
 * Sparse segment indexes, Kafka's file formats:
 *
 * `.index` (offset index): 8-byte entries, big-endian `u32 relativeOffset | u32 position`,
 * relative to the segment's base offset, strictly ascending in both fields. An entry
 * (r, p) says a batch whose base offset is `base + r` starts at byte `p` (Kafka writes the
 * batch's last offset instead; a lookup is correct with either, because it only needs a
 * batch boundary at or before the target).
 *
 * `.timeindex` (time index): 12-byte entries, big-endian `i64 timestamp | u32 relativeOffset`,
 * ascending in both. An entry (t, r) says every batch before offset `base + r` (and the batch
 * holding it) has maxTimestamp <= t, and the batch holding `base + r` has maxTimestamp t.
 *
 * An index lives either in an owned, growable buffer (the active segment, or one rebuilt or
 * truncated in memory) or in a read-only view from `FileSystem.mmap` (sealed segments). A
 * view is never written: truncating a mapped index first copies its entries into an owned
 * buffer, and the file is replaced by write-new-then-rename, so no mapped inode is ever
 * truncated. The file on disk is always a valid sparse index of a prefix of its log file
 * (possibly with fewer entries than memory): that is the crash invariant.
 *
 * Files read from disk are never trusted: `validate*` checks sizes and monotonicity and the
 * caller rebuilds the index from the log when a check fails.
 */
import { core } from "../wasm/index.ts";
import { offsetIndexEntryBytes, timeIndexEntryBytes } from "./config.ts";

abstract class SparseIndex {
  protected buf: Uint8Array;
  protected dv: DataView;
  /** Number of valid entries. */
  count: number;
  /** True while `buf` is a mapped (read-only) view. */
  protected mapped: boolean;
  readonly entriesMax: number;

  constructor(bytes: Uint8Array, count: number, mapped: boolean, entriesMax: number, readonly entryBytes: number) {
    if (count * entryBytes > bytes.length) throw new Error(`index: ${count} entries do not fit ${bytes.length} bytes`);
    this.buf = bytes;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.count = count;
    this.mapped = mapped;
    this.entriesMax = entriesMax;
  }

  isFull(): boolean {
    return this.count >= this.entriesMax;
  }

  /** Entries as file bytes (a view; copy before mutating the index if you keep it). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.count * this.entryBytes);
  }

  protected ensureOwned(extra: number): void {
    const need = (this.count + extra) * this.entryBytes;
    if (!this.mapped && need <= this.buf.length) return;
    const next = new Uint8Array(Math.max(need, this.mapped ? need : this.buf.length * 2, 64 * this.entryBytes));
    next.set(this.bytes());
    this.buf = next;
    this.dv = new DataView(next.buffer, next.byteOffset, next.byteLength);
    this.mapped = false;
  }

  /** Keeps the first `count` entries (copying out of a mapping first). */
  truncateToEntries(count: number): void {
    if (count < 0 || count > this.count) throw new Error(`index: truncate to ${count} of ${this.count} entries`);
    if (count === this.count) return;
    this.ensureOwned(0);
    this.count = count;
  }
}

export class OffsetIndex extends SparseIndex {
  static empty(entriesMax: number): OffsetIndex {
    return new OffsetIndex(new Uint8Array(64 * offsetIndexEntryBytes), 0, false, entriesMax);
  }

  static fromView(view: Uint8Array, mapped: boolean, entriesMax: number): OffsetIndex {
    return new OffsetIndex(view, Math.floor(view.length / offsetIndexEntryBytes), mapped, entriesMax);
  }

  constructor(bytes: Uint8Array, count: number, mapped: boolean, entriesMax: number) {
    super(bytes, count, mapped, entriesMax, offsetIndexEntryBytes);
  }

  relativeOffsetAt(slot: number): number {
    return this.dv.getUint32(slot * 8);
  }

  positionAt(slot: number): number {
    return this.dv.getUint32(slot * 8 + 4);
  }

  lastRelativeOffset(): number {
    return this.count === 0 ? -1 : this.relativeOffsetAt(this.count - 1);
  }

  append(relativeOffset: number, position: number): void {
    if (this.count > 0) {
      const lastRel = this.relativeOffsetAt(this.count - 1);
      const lastPos = this.positionAt(this.count - 1);
      if (relativeOffset <= lastRel || position <= lastPos) {
        throw new Error(`offset index: entry (${relativeOffset}, ${position}) not after (${lastRel}, ${lastPos})`);
      }
    }
    this.ensureOwned(1);
    this.dv.setUint32(this.count * 8, relativeOffset);
    this.dv.setUint32(this.count * 8 + 4, position);
    this.count++;
  }

  /** Slot of the last entry with relativeOffset <= `relativeTarget`, or -1. */
  lookupSlot(relativeTarget: number): number {
    if (this.count === 0 || relativeTarget < 0) return -1;
    const target = Math.min(relativeTarget, 0xffff_ffff);
    return core.indexLookup(this.buf, this.count, target);
  }

  /** Byte position to start scanning from for `relativeTarget` (0 when no entry helps). */
  lookupPosition(relativeTarget: number): number {
    const slot = this.lookupSlot(relativeTarget);
    return slot < 0 ? 0 : this.positionAt(slot);
  }

  /** Drops entries whose relative offset >= `relativeOffset` or whose position >= `position`. */
  truncateFrom(relativeOffset: number, position: number): void {
    let n = this.count;
    while (n > 0 && (this.relativeOffsetAt(n - 1) >= relativeOffset || this.positionAt(n - 1) >= position)) n--;
    this.truncateToEntries(n);
  }

  /** Null when the entries are a plausible index of a log of `logBytes` bytes and `relativeOffsetLimit`. */
  validate(logBytes: number, relativeOffsetLimit: number): string | null {
    let prevRel = -1;
    let prevPos = -1;
    for (let i = 0; i < this.count; i++) {
      const rel = this.relativeOffsetAt(i);
      const pos = this.positionAt(i);
      if (rel <= prevRel || pos <= prevPos) return `entry ${i} (${rel}, ${pos}) not after (${prevRel}, ${prevPos})`;
      if (pos >= logBytes) return `entry ${i} position ${pos} past log size ${logBytes}`;
      if (rel > relativeOffsetLimit) return `entry ${i} relative offset ${rel} past ${relativeOffsetLimit}`;
      prevRel = rel;
      prevPos = pos;
    }
    return null;
  }
}

export class TimeIndex extends SparseIndex {
  static empty(entriesMax: number): TimeIndex {
    return new TimeIndex(new Uint8Array(64 * timeIndexEntryBytes), 0, false, entriesMax);
  }

  static fromView(view: Uint8Array, mapped: boolean, entriesMax: number): TimeIndex {
    return new TimeIndex(view, Math.floor(view.length / timeIndexEntryBytes), mapped, entriesMax);
  }

  constructor(bytes: Uint8Array, count: number, mapped: boolean, entriesMax: number) {
    super(bytes, count, mapped, entriesMax, timeIndexEntryBytes);
  }

  timestampAt(slot: number): number {
    return readI64(this.dv, slot * 12);
  }

  relativeOffsetAt(slot: number): number {
    return this.dv.getUint32(slot * 12 + 8);
  }

  lastTimestamp(): number {
    return this.count === 0 ? -1 : this.timestampAt(this.count - 1);
  }

  append(timestamp: number, relativeOffset: number): void {
    if (this.count > 0) {
      const lastTs = this.timestampAt(this.count - 1);
      const lastRel = this.relativeOffsetAt(this.count - 1);
      if (timestamp <= lastTs || relativeOffset < lastRel) {
        throw new Error(`time index: entry (${timestamp}, ${relativeOffset}) not after (${lastTs}, ${lastRel})`);
      }
    }
    this.ensureOwned(1);
    writeI64(this.dv, this.count * 12, timestamp);
    this.dv.setUint32(this.count * 12 + 8, relativeOffset);
    this.count++;
  }

  /** Relative offset to start scanning from for the first batch with maxTimestamp >= `timestamp`. */
  lookupStart(timestamp: number): number {
    // The last entry with ts < target: every batch up to its offset is below the target.
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timestampAt(mid) < timestamp) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? 0 : this.relativeOffsetAt(found);
  }

  truncateFrom(relativeOffset: number): void {
    let n = this.count;
    while (n > 0 && this.relativeOffsetAt(n - 1) >= relativeOffset) n--;
    this.truncateToEntries(n);
  }

  validate(relativeOffsetLimit: number): string | null {
    let prevTs = Number.NEGATIVE_INFINITY;
    let prevRel = -1;
    for (let i = 0; i < this.count; i++) {
      const ts = this.timestampAt(i);
      const rel = this.relativeOffsetAt(i);
      if (ts <= prevTs || rel < prevRel) return `entry ${i} (${ts}, ${rel}) not after (${prevTs}, ${prevRel})`;
      if (rel > relativeOffsetLimit) return `entry ${i} relative offset ${rel} past ${relativeOffsetLimit}`;
      prevTs = ts;
      prevRel = rel;
    }
    return null;
  }
}

/** Signed 64-bit big-endian as a number (exact below 2^53; timestamps and offsets are). */
export function readI64(dv: DataView, at: number): number {
  return dv.getInt32(at) * 0x1_0000_0000 + dv.getUint32(at + 4);
}

export function writeI64(dv: DataView, at: number, v: number): void {
  const hi = Math.floor(v / 0x1_0000_0000);
  dv.setInt32(at, hi);
  dv.setUint32(at + 4, v - hi * 0x1_0000_0000);
}
