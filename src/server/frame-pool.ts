/**
 * Reusable receive buffers for large request frames.
 *
 * A frame spread over several socket chunks is copied into a buffer of its own. Allocating a
 * fresh one per request means fresh memory per request: page faults and zeroing for every
 * megabyte a producer sends, as much CPU as the append itself on a cold machine. The pool
 * hands out buffers that earlier requests gave back instead.
 *
 * Only frames of the API keys the pool is built with are pooled: the connection gives a
 * frame back as soon as its dispatch settles, so a handler of such an API must not keep any
 * view of the frame past that point (Produce copies the records into the log synchronously
 * and keeps nothing). Other APIs keep allocating, so views they store stay valid.
 *
 * Buffers come in power-of-two capacity classes from `minBytes` up; frames above `maxBytes`
 * are not pooled. At most `idleBytesMax` bytes are kept idle; buffers past that are left to
 * the garbage collector.
 */

export interface FramePoolOptions {
  /** API keys whose frames may come from the pool. */
  readonly apiKeys: readonly number[];
  /** Smallest frame pooled (smaller ones are cheap to allocate). */
  readonly minBytes: number;
  /** Largest frame pooled. */
  readonly maxBytes: number;
  /** Idle buffers kept, in bytes of capacity. */
  readonly idleBytesMax: number;
}

export class FramePool {
  readonly #apiKeys: ReadonlySet<number>;
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly idleBytesMax: number;
  /** Idle buffers by capacity. */
  readonly #idle = new Map<number, ArrayBuffer[]>();
  /** Buffers handed out and not yet given back. */
  readonly #lent = new Set<ArrayBuffer>();
  #idleBytes = 0;

  constructor(options: FramePoolOptions) {
    if (!(Number.isSafeInteger(options.minBytes) && options.minBytes > 0 && options.maxBytes >= options.minBytes && options.idleBytesMax >= 0)) {
      throw new RangeError(`FramePool: need 0 < minBytes <= maxBytes and idleBytesMax >= 0, got ${JSON.stringify(options)}`);
    }
    this.#apiKeys = new Set(options.apiKeys);
    this.minBytes = options.minBytes;
    this.maxBytes = options.maxBytes;
    this.idleBytesMax = options.idleBytesMax;
  }

  /** True when a frame of `size` bytes for `apiKey` should come from the pool. */
  accepts(apiKey: number, size: number): boolean {
    return size >= this.minBytes && size <= this.maxBytes && this.#apiKeys.has(apiKey);
  }

  /** A buffer of exactly `size` bytes (its contents are whatever a previous frame left). */
  take(size: number): Uint8Array {
    if (!(size >= this.minBytes && size <= this.maxBytes)) throw new RangeError(`FramePool.take: ${size} outside [${this.minBytes}, ${this.maxBytes}]`);
    const capacity = capacityFor(size);
    const idle = this.#idle.get(capacity);
    let buffer = idle?.pop();
    if (buffer === undefined) buffer = new ArrayBuffer(capacity);
    else this.#idleBytes -= capacity;
    this.#lent.add(buffer);
    return new Uint8Array(buffer, 0, size);
  }

  /** Returns a buffer from `take`; anything else (or a second return) is ignored. */
  give(frame: Uint8Array): void {
    const buffer = frame.buffer;
    if (!(buffer instanceof ArrayBuffer) || !this.#lent.delete(buffer)) return;
    if (this.#idleBytes + buffer.byteLength > this.idleBytesMax) return;
    let idle = this.#idle.get(buffer.byteLength);
    if (idle === undefined) {
      idle = [];
      this.#idle.set(buffer.byteLength, idle);
    }
    idle.push(buffer);
    this.#idleBytes += buffer.byteLength;
  }

  /** Buffers handed out and not given back. */
  get lentCount(): number {
    return this.#lent.size;
  }

  /** Capacity bytes held idle. */
  get idleBytes(): number {
    return this.#idleBytes;
  }
}

/** The capacity class of a frame: the next power of two at or above `size`. */
function capacityFor(size: number): number {
  return size <= 1 ? 1 : 2 ** Math.ceil(Math.log2(size));
}
