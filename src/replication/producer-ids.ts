/**
 * Producer id allocation for idempotent producers (InitProducerId without a transactional
 * id): ids come from blocks the controller hands out (`allocateProducerIds`, a metadata
 * record, so a block is never handed out twice, even across restarts); this broker serves
 * ids from its current block and asks for the next block when it runs out.
 *
 * Invariants: ids handed out strictly increase; at most one block request is in flight
 * (concurrent callers wait for it); a failed request leaves the state as it was, and the
 * caller answers a retriable error.
 */
import type { MetadataManager } from "../metadata/metadata-manager.ts";

export class ProducerIdManager {
  readonly #metadata: MetadataManager;
  readonly #nodeId: number;
  #next = 0;
  #end = 0;
  #lastHandedOut = -1;
  #pending: Promise<void> | null = null;

  constructor(metadata: MetadataManager, nodeId: number) {
    this.#metadata = metadata;
    this.#nodeId = nodeId;
  }

  /** The next producer id; rejects when a new block cannot be obtained. */
  async nextProducerId(): Promise<number> {
    while (this.#next >= this.#end) {
      this.#pending ??= this.#fetchBlock().finally(() => {
        this.#pending = null;
      });
      await this.#pending;
    }
    const id = this.#next++;
    if (!(id > this.#lastHandedOut)) throw new Error(`producer id ${id} after ${this.#lastHandedOut}`);
    this.#lastHandedOut = id;
    return id;
  }

  async #fetchBlock(): Promise<void> {
    const brokerEpoch = this.#metadata.image.brokers.get(this.#nodeId)?.brokerEpoch ?? -1;
    const block = await this.#metadata.command({ kind: "allocateProducerIds", brokerId: this.#nodeId, brokerEpoch });
    if (!(block.size > 0 && block.firstProducerId >= this.#end)) {
      throw new Error(`producer id block ${block.firstProducerId}+${block.size} does not follow ${this.#end}`);
    }
    this.#next = block.firstProducerId;
    this.#end = block.firstProducerId + block.size;
  }
}
