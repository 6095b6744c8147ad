/**
 * Reusable byte buffers for large, short-lived arrays (request frames, log reads headed for a
 * socket).
 *
 * Allocating a fresh megabyte per request means fresh memory per request: page faults and
 * zeroing for every megabyte, and on a VM that hands freed memory back to its host a host
 * fault per page as well. A pool hands out buffers that earlier requests gave back instead.
 *
 * Buffers come in power-of-two capacity classes from `minBytes` up; sizes outside
 * [minBytes, maxBytes] are not pooled (`fits`). At most `idleBytesMax` bytes are kept idle;
 * buffers past that are left to the garbage collector.
 *
 * Ownership: whoever gives a buffer back promises that nothing reads or writes it any more,
 * through any view. A buffer that is never given back is simply collected like any other
 * array; the pool keeps no strong reference to buffers it has lent.
 */

export interface BufferPoolOptions {
  /** Smallest size pooled (smaller arrays are cheap to allocate). */
  readonly minBytes: number;
  /** Largest size pooled. */
  readonly maxBytes: number;
  /** Idle buffers kept, in bytes of capacity. */
  readonly idleBytesMax: number;
}

export class BufferPool {
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly idleBytesMax: number;
  /** Idle buffers by capacity. */
  readonly #idle = new Map<number, ArrayBuffer[]>();
  /** Buffers handed out and not yet given back. */
  readonly #lent = new WeakSet<ArrayBuffer>();
  #lentCount = 0;
  #idleBytes = 0;

  constructor(options: BufferPoolOptions) {
    if (!(Number.isSafeInteger(options.minBytes) && options.minBytes > 0 && options.maxBytes >= options.minBytes && options.idleBytesMax >= 0)) {
      throw new RangeError(`BufferPool: need 0 < minBytes <= maxBytes and idleBytesMax >= 0, got ${JSON.stringify(options)}`);
    }
    this.minBytes = options.minBytes;
    this.maxBytes = options.maxBytes;
    this.idleBytesMax = options.idleBytesMax;
  }

  /** True when a buffer of `size` bytes should come from the pool. */
  fits(size: number): boolean {
    return size >= this.minBytes && size <= this.maxBytes;
  }

  /** A buffer of exactly `size` bytes (its contents are whatever a previous user left). */
  take(size: number): Uint8Array {
    if (!this.fits(size)) throw new RangeError(`BufferPool.take: ${size} outside [${this.minBytes}, ${this.maxBytes}]`);
    const capacity = capacityFor(size);
    const idle = this.#idle.get(capacity);
    let buffer = idle?.pop();
    if (buffer === undefined) buffer = new ArrayBuffer(capacity);
    else this.#idleBytes -= capacity;
    this.#lent.add(buffer);
    this.#lentCount++;
    return new Uint8Array(buffer, 0, size);
  }

  /** True when `view` is over a buffer this pool has lent and not had back. */
  owns(view: Uint8Array): boolean {
    const buffer = view.buffer;
    return buffer instanceof ArrayBuffer && this.#lent.has(buffer);
  }

  /** Returns the buffer under `view` (any view of a buffer from `take`); anything else, or a second return, is ignored. */
  give(view: Uint8Array): void {
    const buffer = view.buffer;
    if (!(buffer instanceof ArrayBuffer) || !this.#lent.delete(buffer)) return;
    this.#lentCount--;
    if (this.#idleBytes + buffer.byteLength > this.idleBytesMax) return;
    let idle = this.#idle.get(buffer.byteLength);
    if (idle === undefined) {
      idle = [];
      this.#idle.set(buffer.byteLength, idle);
    }
    idle.push(buffer);
    this.#idleBytes += buffer.byteLength;
  }

  /** Buffers handed out and not given back (including any their users dropped without giving back). */
  get lentCount(): number {
    return this.#lentCount;
  }

  /** Capacity bytes held idle. */
  get idleBytes(): number {
    return this.#idleBytes;
  }
}

/** The capacity class of a size: the next power of two at or above it. */
function capacityFor(size: number): number {
  return size <= 1 ? 1 : 2 ** Math.ceil(Math.log2(size));
}
