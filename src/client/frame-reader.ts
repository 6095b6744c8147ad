/**
 * Reassembles size-prefixed frames (int32 big-endian size N, then N bytes) from the chunks a
 * connection delivers, sans I/O. The size is checked against the bound before any buffer is
 * allocated for the frame; a bad size is reported once and the reader stops (the stream cannot
 * be resynchronised: the connection must be closed).
 *
 * A frame that lies inside one chunk is returned as a view of that chunk (the platform hands
 * chunks over to the receiver, so views stay valid); a frame spread over chunks is copied once
 * into a buffer of its exact size.
 */

export const frameSizePrefixBytes = 4;

export type FrameSizeProblem = { readonly kind: "negative" | "tooLarge"; readonly size: number };

export type PushResult =
  | { readonly ok: true; readonly frames: Uint8Array[] }
  /** `frames` completed before the bad prefix (still valid, in order). */
  | { readonly ok: false; readonly frames: Uint8Array[]; readonly problem: FrameSizeProblem };

export class FrameReader {
  readonly #frameBytesMax: number;
  readonly #prefix = new Uint8Array(frameSizePrefixBytes);
  #prefixFilled = 0;
  /** The frame being assembled across chunks, or null. */
  #frame: Uint8Array | null = null;
  #frameFilled = 0;
  #failed = false;

  constructor(frameBytesMax: number) {
    if (!(Number.isInteger(frameBytesMax) && frameBytesMax >= 0)) throw new RangeError(`FrameReader: frameBytesMax ${frameBytesMax}`);
    this.#frameBytesMax = frameBytesMax;
  }

  /** Bytes held for an incomplete frame (prefix included). */
  get bufferedBytes(): number {
    return this.#prefixFilled + this.#frameFilled + (this.#frame === null ? 0 : frameSizePrefixBytes);
  }

  push(chunk: Uint8Array): PushResult {
    if (this.#failed) throw new Error("FrameReader.push after a frame size problem");
    const frames: Uint8Array[] = [];
    let at = 0;
    while (at < chunk.length) {
      const frame = this.#frame;
      if (frame !== null) {
        const take = Math.min(frame.length - this.#frameFilled, chunk.length - at);
        frame.set(chunk.subarray(at, at + take), this.#frameFilled);
        this.#frameFilled += take;
        at += take;
        if (!(this.#frameFilled <= frame.length)) throw new Error(`FrameReader: filled ${this.#frameFilled} > frame ${frame.length}`);
        if (this.#frameFilled === frame.length) {
          frames.push(frame);
          this.#frame = null;
          this.#frameFilled = 0;
        }
        continue;
      }
      const take = Math.min(frameSizePrefixBytes - this.#prefixFilled, chunk.length - at);
      this.#prefix.set(chunk.subarray(at, at + take), this.#prefixFilled);
      this.#prefixFilled += take;
      at += take;
      if (this.#prefixFilled < frameSizePrefixBytes) break;
      this.#prefixFilled = 0;
      const p = this.#prefix;
      const size = (((p[0] ?? 0) << 24) | ((p[1] ?? 0) << 16) | ((p[2] ?? 0) << 8) | (p[3] ?? 0)) | 0;
      if (size < 0 || size > this.#frameBytesMax) {
        this.#failed = true;
        return { ok: false, frames, problem: { kind: size < 0 ? "negative" : "tooLarge", size } };
      }
      if (chunk.length - at >= size) {
        frames.push(chunk.subarray(at, at + size));
        at += size;
        continue;
      }
      this.#frame = new Uint8Array(size);
      this.#frameFilled = 0;
    }
    return { ok: true, frames };
  }
}
