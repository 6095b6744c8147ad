/**
 * MetadataManager: the one place metadata changes. A change is a decision (a pure function
 * of the current image, see controller.ts) whose records are appended durably to the
 * metadata log, then replayed into the next image, then announced to listeners (the replica
 * manager creates and deletes partition logs from it). Only then does the caller get its
 * response, so a client is never told of a change the log does not hold.
 *
 * Decisions are serialized: each runs against the image left by the previous one, so two
 * concurrent CreateTopics of the same name cannot both succeed. At start the whole log is
 * replayed; a record that fails to decode or to apply stops the broker (MetadataReplayError)
 * rather than serving from a wrong image.
 *
 * Single node now: the store is a local log. The cluster will put a Raft quorum behind the
 * same `MetadataStore` interface.
 */
import type { Prng } from "../platform/prng.ts";
import type { ControllerContext, ControllerDefaults, ControllerResult } from "./controller.ts";
import { MetadataDelta, MetadataImage } from "./image.ts";
import type { MetadataRecord } from "./records.ts";

/** Durable, ordered storage of metadata records. */
export interface MetadataStore {
  /** Every record from the start of the log, in order, with its offset. */
  load(): { offset: number; record: MetadataRecord }[];
  /** Appends records durably as one unit; resolves with the offset of the first. */
  append(records: readonly MetadataRecord[]): Promise<number>;
}

export type MetadataListener = (next: MetadataImage, previous: MetadataImage) => void;

export class MetadataManager {
  readonly #store: MetadataStore;
  readonly #prng: Prng;
  readonly #defaults: ControllerDefaults;
  readonly #listeners: MetadataListener[] = [];
  #image: MetadataImage;
  #tail: Promise<unknown> = Promise.resolve();

  private constructor(store: MetadataStore, prng: Prng, defaults: ControllerDefaults, image: MetadataImage) {
    this.#store = store;
    this.#prng = prng;
    this.#defaults = defaults;
    this.#image = image;
  }

  /** Replays the whole store into an image. Throws MetadataReplayError on a bad log. */
  static open(store: MetadataStore, prng: Prng, defaults: ControllerDefaults): MetadataManager {
    const delta = new MetadataDelta(MetadataImage.EMPTY);
    for (const { offset, record } of store.load()) delta.replay(record, offset);
    return new MetadataManager(store, prng, defaults, delta.apply());
  }

  get image(): MetadataImage {
    return this.#image;
  }

  /** Listeners run synchronously after each new image, before the submitter is answered. */
  onChange(listener: MetadataListener): void {
    this.#listeners.push(listener);
  }

  /**
   * Runs `decide` against the latest image, makes its records durable, applies them, and
   * resolves with its response. A failing append rejects (the image is unchanged).
   */
  submit<T>(decide: (ctx: ControllerContext) => ControllerResult<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const before = this.#image;
      const { records, response } = decide({ image: before, prng: this.#prng, defaults: this.#defaults });
      if (records.length === 0) return response;
      const firstOffset = await this.#store.append(records);
      // Decisions are serialized, so nothing else moved the image during the await.
      if (this.#image !== before) throw new Error("metadata image changed during a serialized submit");
      if (firstOffset <= before.offset) throw new Error(`metadata store offset ${firstOffset} does not advance past ${before.offset}`);
      const delta = new MetadataDelta(before);
      records.forEach((r, i) => delta.replay(r, firstOffset + i));
      this.#image = delta.apply();
      for (const listener of this.#listeners) listener(this.#image, before);
      return response;
    };
    const result = this.#tail.then(run, run);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

/** A store in memory: for tests and the simulator. */
export class MemoryMetadataStore implements MetadataStore {
  readonly records: { offset: number; record: MetadataRecord }[] = [];
  failNext = false;

  load(): { offset: number; record: MetadataRecord }[] {
    return this.records.slice();
  }

  append(records: readonly MetadataRecord[]): Promise<number> {
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(new Error("injected metadata store failure"));
    }
    const first = this.records.length;
    records.forEach((record, i) => this.records.push({ offset: first + i, record }));
    return Promise.resolve(first);
  }
}
