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
 * Sizes, classes and the idle cap are BufferPool's (util/buffer-pool.ts).
 */
import { BufferPool, type BufferPoolOptions } from "../util/buffer-pool.ts";

export interface FramePoolOptions extends BufferPoolOptions {
  /** API keys whose frames may come from the pool. */
  readonly apiKeys: readonly number[];
}

export class FramePool extends BufferPool {
  readonly #apiKeys: ReadonlySet<number>;

  constructor(options: FramePoolOptions) {
    super(options);
    this.#apiKeys = new Set(options.apiKeys);
  }

  /** True when a frame of `size` bytes for `apiKey` should come from the pool. */
  accepts(apiKey: number, size: number): boolean {
    return this.fits(size) && this.#apiKeys.has(apiKey);
  }
}
