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
 * Stores: the controller quorum's replicated log (raft-store.ts: only the active controller
 * decides, every node replays what commits) or, in tests, a local one.
 */
import type { Prng } from "../platform/prng.ts";
import { allocateProducerIds, type CreatableTopic, type CreatedTopic, createTopics, type ControllerContext, type ControllerDefaults, type ControllerResult } from "./controller.ts";
import { MetadataDelta, MetadataImage } from "./image.ts";
import type { MetadataRecord } from "./records.ts";

/** Durable, ordered storage of metadata records. */
export interface MetadataStore {
  /** Every record from the start of the log, in order, with its offset. */
  load(): { offset: number; record: MetadataRecord }[];
  /**
   * Appends records durably as one unit; resolves with the offset of the first. A replicated
   * store resolves once they are committed and pushed to its subscriber.
   */
  append(records: readonly MetadataRecord[], opts?: { atomic?: boolean }): Promise<number>;
  /** Present when the log is replicated by a quorum (raft-store.ts). */
  readonly replicated?: ReplicatedMetadata;
}

/**
 * What the quorum committed, in log order: records to replay onto the image, or a whole image
 * that replaces it (a snapshot of the leader's, installed because this node was too far behind).
 */
export type CommittedMetadata =
  | { readonly kind: "records"; readonly entries: readonly { offset: number; record: MetadataRecord }[] }
  | { readonly kind: "snapshot"; readonly image: MetadataImage };

/** A store whose records are decided by the active controller and committed by a quorum. */
export interface ReplicatedMetadata {
  /**
   * The image to start from: the latest local snapshot's (the empty image when there is none).
   * `load()` gives nothing; every record after it is pushed as it commits.
   */
  readonly startImage: MetadataImage;
  /**
   * Committed metadata, in log order, as it commits (this node's own included). `apply`
   * returns the image it leads to: the store snapshots that image (raft-store.ts).
   */
  subscribe(apply: (committed: CommittedMetadata) => MetadataImage): void;
  /**
   * Resolves once this node may decide: it is the active controller and its image holds every
   * record committed before its term. Rejects (NotControllerError) on any other node.
   */
  whenWritable(): Promise<void>;
}

/** The node is not (or no longer) the active controller. */
export class NotControllerError extends Error {
  constructor(
    readonly leaderId: number,
    message: string,
  ) {
    super(message);
    this.name = "NotControllerError";
  }
}

/**
 * Changes a node asks of the controller for itself (not for a client request, which is
 * forwarded whole): decided here on the active controller, sent to it from any other node.
 */
export type ControllerCommand =
  | { readonly kind: "createTopics"; readonly topics: readonly CreatableTopic[] }
  | { readonly kind: "allocateProducerIds"; readonly brokerId: number; readonly brokerEpoch: number };

export type ControllerCommandResult<C extends ControllerCommand> = C extends { kind: "createTopics" } ? CreatedTopic[] : { firstProducerId: number; size: number };

export type RemoteController = <C extends ControllerCommand>(command: C) => Promise<ControllerCommandResult<C>>;

export type MetadataListener = (next: MetadataImage, previous: MetadataImage) => void;

export class MetadataManager {
  readonly #store: MetadataStore;
  readonly #prng: Prng;
  readonly #defaults: ControllerDefaults;
  readonly #listeners: MetadataListener[] = [];
  #image: MetadataImage;
  #tail: Promise<unknown> = Promise.resolve();
  #remote: RemoteController | null = null;

  private constructor(store: MetadataStore, prng: Prng, defaults: ControllerDefaults, image: MetadataImage) {
    this.#store = store;
    this.#prng = prng;
    this.#defaults = defaults;
    this.#image = image;
  }

  /** Replays the whole store (after its start image) into an image. Throws MetadataReplayError on a bad log. */
  static open(store: MetadataStore, prng: Prng, defaults: ControllerDefaults): MetadataManager {
    const delta = new MetadataDelta(store.replicated?.startImage ?? MetadataImage.EMPTY);
    for (const { offset, record } of store.load()) delta.replay(record, offset);
    const manager = new MetadataManager(store, prng, defaults, delta.apply());
    store.replicated?.subscribe((committed) => manager.#applyCommitted(committed));
    return manager;
  }

  /**
   * What the quorum committed: records replayed into the next image, or a snapshot's image
   * taking the place of this one; then listeners run (with the image before, so a snapshot
   * reads to them as one large change).
   */
  #applyCommitted(committed: CommittedMetadata): MetadataImage {
    const before = this.#image;
    if (committed.kind === "records") {
      const delta = new MetadataDelta(before);
      for (const { offset, record } of committed.entries) delta.replay(record, offset);
      this.#image = delta.apply();
    } else {
      if (committed.image.offset < before.offset) throw new Error(`metadata snapshot image at ${committed.image.offset} is older than the image at ${before.offset}`);
      this.#image = committed.image;
    }
    for (const listener of this.#listeners) listener(this.#image, before);
    return this.#image;
  }

  get image(): MetadataImage {
    return this.#image;
  }

  /** How `command` reaches the active controller when it is another node. */
  setRemoteController(remote: RemoteController): void {
    this.#remote = remote;
  }

  /** Runs a command here when this node is the active controller, else on the active controller. */
  async command<C extends ControllerCommand>(command: C): Promise<ControllerCommandResult<C>> {
    const local = (): Promise<ControllerCommandResult<C>> => {
      if (command.kind === "createTopics") return this.submit((c) => createTopics(c, command.topics, false)) as Promise<ControllerCommandResult<C>>;
      return this.submit((c) => allocateProducerIds(c, command.brokerId, command.brokerEpoch)) as Promise<ControllerCommandResult<C>>;
    };
    if (this.#remote === null) return local();
    try {
      return await local();
    } catch (error) {
      if (error instanceof NotControllerError) return this.#remote(command);
      throw error;
    }
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
    const replicated = this.#store.replicated;
    const run = async (): Promise<T> => {
      if (replicated !== undefined) return this.#submitReplicated(replicated, decide);
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

  async #submitReplicated<T>(replicated: ReplicatedMetadata, decide: (ctx: ControllerContext) => ControllerResult<T>): Promise<T> {
    await replicated.whenWritable();
    const before = this.#image;
    const { records, response, atomic } = decide({ image: before, prng: this.#prng, defaults: this.#defaults });
    if (records.length === 0) return response;
    const firstOffset = await this.#store.append(records, atomic === false ? { atomic } : {});
    // The store pushed the committed records before resolving: the image holds them, and
    // (decisions being serialized on the only node that decides) nothing else in between.
    const last = firstOffset + records.length - 1;
    if (!(this.#image.offset >= last)) throw new Error(`metadata image at ${this.#image.offset} does not hold the committed records ending at ${last}`);
    return response;
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
