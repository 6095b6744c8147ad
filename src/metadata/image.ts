/**
 * MetadataImage: an immutable view of cluster metadata at one offset of the metadata log,
 * and MetadataDelta, which replays records on top of an image to build the next one.
 *
 * Invariants (checked on replay; a violation means a controller bug or a corrupt log, and
 * throws `MetadataReplayError`):
 * - topic names and ids are unique; a partition record names an existing topic;
 * - a topic's partitions are numbered 0..n-1 without gaps;
 * - isr ⊆ replicas, and the leader is -1 or a member of the isr;
 * - a reassignment's adding and removing replicas are disjoint replicas, and it keeps one;
 * - a leader change increments leaderEpoch; every partition change increments partitionEpoch;
 * - the applied offset only grows;
 * - ACL ids are unique and every stored binding is valid (acl.ts `aclBindingProblem`).
 * Images share unchanged parts with their predecessor, so keeping an old image (a reader
 * in the middle of a request) is cheap and safe.
 */
import { aclBindingProblem, type AclBinding } from "./acl.ts";
import type { BrokerEndpoint, MetadataRecord } from "./records.ts";
import type { Uuid } from "./uuid.ts";

export const NO_LEADER = -1;

export interface PartitionImage {
  readonly topicId: Uuid;
  readonly partition: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  /**
   * An ongoing reassignment (KIP-455): `replicas` is then the target replicas followed by the
   * ones being removed; `addingReplicas` ⊆ target, `removingReplicas` = replicas − target.
   * Absent (never empty) when no reassignment is in progress.
   */
  readonly addingReplicas?: readonly number[];
  readonly removingReplicas?: readonly number[];
}

/** The replicas a partition's ongoing reassignment ends with (its replicas when none is ongoing). */
export function targetReplicas(p: PartitionImage): readonly number[] {
  const removing = p.removingReplicas;
  return removing === undefined ? p.replicas : p.replicas.filter((b) => !removing.includes(b));
}

/** Whether a reassignment of the partition is in progress. */
export function isReassigning(p: PartitionImage): boolean {
  return p.addingReplicas !== undefined || p.removingReplicas !== undefined;
}

/** `addingReplicas`/`removingReplicas` as an image holds them: absent when empty. */
function withReassignment(p: PartitionImage, adding: readonly number[] | undefined, removing: readonly number[] | undefined): PartitionImage {
  // The common case (no reassignment before or after) costs no copy.
  if (adding === undefined && removing === undefined && p.addingReplicas === undefined && p.removingReplicas === undefined) return p;
  const { addingReplicas: _a, removingReplicas: _r, ...rest } = p;
  const out: { -readonly [K in keyof PartitionImage]: PartitionImage[K] } = rest;
  if (adding !== undefined && adding.length > 0) out.addingReplicas = adding;
  if (removing !== undefined && removing.length > 0) out.removingReplicas = removing;
  return out;
}

export interface TopicImage {
  readonly name: string;
  readonly topicId: Uuid;
  /** Indexed by partition id. */
  readonly partitions: readonly PartitionImage[];
}

export interface BrokerImage {
  readonly brokerId: number;
  readonly incarnationId: Uuid;
  readonly brokerEpoch: number;
  readonly endpoints: readonly BrokerEndpoint[];
  readonly rack: string | null;
  readonly fenced: boolean;
}

export type ConfigResourceType = "topic" | "broker";

export class MetadataReplayError extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(`metadata replay at offset ${offset}: ${message}`);
    this.name = "MetadataReplayError";
  }
}

export class MetadataImage {
  static readonly EMPTY = new MetadataImage(-1, new Map(), new Map(), new Map(), new Map(), new Map(), 0, new Map());

  private constructor(
    /** Offset of the last record applied; -1 for the empty image. */
    readonly offset: number,
    readonly topicsById: ReadonlyMap<Uuid, TopicImage>,
    readonly topicsByName: ReadonlyMap<string, TopicImage>,
    readonly brokers: ReadonlyMap<number, BrokerImage>,
    /** Keyed by `configKey(type, name)`: the explicitly set values (not defaults). */
    readonly configs: ReadonlyMap<string, ReadonlyMap<string, string>>,
    readonly features: ReadonlyMap<string, number>,
    /** The next producer id block starts here. */
    readonly nextProducerId: number,
    /** ACL bindings by id, in creation order (authorizers index them, see metadata/authorizer.ts). */
    readonly acls: ReadonlyMap<Uuid, AclBinding>,
  ) {}

  /** @internal Used by MetadataDelta only. */
  static build(
    offset: number,
    topicsById: ReadonlyMap<Uuid, TopicImage>,
    topicsByName: ReadonlyMap<string, TopicImage>,
    brokers: ReadonlyMap<number, BrokerImage>,
    configs: ReadonlyMap<string, ReadonlyMap<string, string>>,
    features: ReadonlyMap<string, number>,
    nextProducerId: number,
    acls: ReadonlyMap<Uuid, AclBinding>,
  ): MetadataImage {
    return new MetadataImage(offset, topicsById, topicsByName, brokers, configs, features, nextProducerId, acls);
  }

  /**
   * The same metadata said to stand at `offset`: a snapshot's image is at the last log offset
   * the snapshot covers, whatever offsets its records were replayed at (image-snapshot.ts).
   */
  withOffset(offset: number): MetadataImage {
    if (!(Number.isSafeInteger(offset) && offset >= -1)) throw new Error(`metadata image offset ${offset}`);
    return new MetadataImage(offset, this.topicsById, this.topicsByName, this.brokers, this.configs, this.features, this.nextProducerId, this.acls);
  }

  topic(name: string): TopicImage | undefined {
    return this.topicsByName.get(name);
  }

  partition(topicName: string, partition: number): PartitionImage | undefined {
    return this.topicsByName.get(topicName)?.partitions[partition];
  }

  configsOf(type: ConfigResourceType, name: string): ReadonlyMap<string, string> {
    return this.configs.get(configKey(type, name)) ?? EMPTY_CONFIGS;
  }

  /** Brokers that are registered and not fenced, ascending by id. */
  liveBrokers(): BrokerImage[] {
    return [...this.brokers.values()].filter((b) => !b.fenced).sort((a, b) => a.brokerId - b.brokerId);
  }
}

const EMPTY_CONFIGS: ReadonlyMap<string, string> = new Map();

export function configKey(type: ConfigResourceType, name: string): string {
  return `${type}:${name}`;
}

/**
 * Accumulates records on top of a base image. Maps are copied on first write, so the base
 * image is never touched. `apply()` returns the new image; the delta may keep replaying.
 */
export class MetadataDelta {
  #offset: number;
  #topicsById: Map<Uuid, TopicImage> | null = null;
  #topicsByName: Map<string, TopicImage> | null = null;
  #brokers: Map<number, BrokerImage> | null = null;
  #configs: Map<string, ReadonlyMap<string, string>> | null = null;
  #features: Map<string, number> | null = null;
  #nextProducerId: number;
  #acls: Map<Uuid, AclBinding> | null = null;

  constructor(readonly base: MetadataImage) {
    this.#offset = base.offset;
    this.#nextProducerId = base.nextProducerId;
  }

  get offset(): number {
    return this.#offset;
  }

  private topicsById(): Map<Uuid, TopicImage> {
    return (this.#topicsById ??= new Map(this.base.topicsById));
  }

  private topicsByName(): Map<string, TopicImage> {
    return (this.#topicsByName ??= new Map(this.base.topicsByName));
  }

  private brokers(): Map<number, BrokerImage> {
    return (this.#brokers ??= new Map(this.base.brokers));
  }

  private configs(): Map<string, ReadonlyMap<string, string>> {
    return (this.#configs ??= new Map(this.base.configs));
  }

  private features(): Map<string, number> {
    return (this.#features ??= new Map(this.base.features));
  }

  private acls(): Map<Uuid, AclBinding> {
    return (this.#acls ??= new Map(this.base.acls));
  }

  private topicById(id: Uuid): TopicImage | undefined {
    return (this.#topicsById ?? this.base.topicsById).get(id);
  }

  private topicByName(name: string): TopicImage | undefined {
    return (this.#topicsByName ?? this.base.topicsByName).get(name);
  }

  private putTopic(topic: TopicImage): void {
    this.topicsById().set(topic.topicId, topic);
    this.topicsByName().set(topic.name, topic);
  }

  /** Applies one record found at `offset` of the metadata log. */
  replay(record: MetadataRecord, offset: number): void {
    const fail = (message: string): never => {
      throw new MetadataReplayError(offset, message);
    };
    if (offset <= this.#offset) fail(`offset does not advance past ${this.#offset}`);
    switch (record.type) {
      case "registerBroker": {
        const previous = this.brokers().get(record.brokerId);
        if (previous !== undefined && record.brokerEpoch <= previous.brokerEpoch) {
          fail(`broker ${record.brokerId} epoch ${record.brokerEpoch} does not advance past ${previous.brokerEpoch}`);
        }
        this.brokers().set(record.brokerId, {
          brokerId: record.brokerId,
          incarnationId: record.incarnationId,
          brokerEpoch: record.brokerEpoch,
          endpoints: record.endpoints,
          rack: record.rack,
          fenced: record.fenced,
        });
        break;
      }
      case "unregisterBroker": {
        const broker = this.brokers().get(record.brokerId);
        if (broker === undefined || broker.brokerEpoch !== record.brokerEpoch) fail(`unregister of unknown broker ${record.brokerId}`);
        this.brokers().delete(record.brokerId);
        break;
      }
      case "brokerFencing": {
        const broker = this.brokers().get(record.brokerId);
        if (broker === undefined || broker.brokerEpoch !== record.brokerEpoch) fail(`fencing of unknown broker ${record.brokerId}`);
        this.brokers().set(record.brokerId, { ...broker!, fenced: record.fenced });
        break;
      }
      case "topic": {
        if (this.topicByName(record.name) !== undefined) fail(`topic ${record.name} exists`);
        if (this.topicById(record.topicId) !== undefined) fail(`topic id ${record.topicId} exists`);
        this.putTopic({ name: record.name, topicId: record.topicId, partitions: [] });
        break;
      }
      case "removeTopic": {
        const topic = this.topicById(record.topicId) ?? fail(`remove of unknown topic id ${record.topicId}`);
        this.topicsById().delete(topic.topicId);
        this.topicsByName().delete(topic.name);
        const key = configKey("topic", topic.name);
        if ((this.#configs ?? this.base.configs).has(key)) this.configs().delete(key);
        break;
      }
      case "partition": {
        const topic = this.topicById(record.topicId) ?? fail(`partition of unknown topic id ${record.topicId}`);
        if (record.partition !== topic.partitions.length) {
          fail(`partition ${record.partition} of ${topic.name} is not the next one (${topic.partitions.length})`);
        }
        const partition = withReassignment(
          {
            topicId: record.topicId,
            partition: record.partition,
            replicas: record.replicas,
            isr: record.isr,
            leader: record.leader,
            leaderEpoch: record.leaderEpoch,
            partitionEpoch: record.partitionEpoch,
          },
          record.addingReplicas,
          record.removingReplicas,
        );
        checkPartition(partition, fail);
        this.putTopic({ ...topic, partitions: [...topic.partitions, partition] });
        break;
      }
      case "partitionChange": {
        const topic = this.topicById(record.topicId) ?? fail(`change of unknown topic id ${record.topicId}`);
        const current = topic.partitions[record.partition] ?? fail(`change of unknown partition ${topic.name}-${record.partition}`);
        const leader = record.leader ?? current.leader;
        const next = withReassignment(
          {
            ...current,
            replicas: record.replicas ?? current.replicas,
            isr: record.isr ?? current.isr,
            leader,
            leaderEpoch: leader !== current.leader ? current.leaderEpoch + 1 : current.leaderEpoch,
            partitionEpoch: current.partitionEpoch + 1,
          },
          record.addingReplicas ?? current.addingReplicas,
          record.removingReplicas ?? current.removingReplicas,
        );
        checkPartition(next, fail);
        const partitions = topic.partitions.slice();
        partitions[record.partition] = next;
        this.putTopic({ ...topic, partitions });
        break;
      }
      case "config": {
        const key = configKey(record.resourceType, record.resourceName);
        const current = new Map((this.#configs ?? this.base.configs).get(key) ?? []);
        if (record.value === null) current.delete(record.name);
        else current.set(record.name, record.value);
        if (current.size === 0) this.configs().delete(key);
        else this.configs().set(key, current);
        break;
      }
      case "featureLevel": {
        this.features().set(record.name, record.level);
        break;
      }
      case "noOp":
        break;
      case "producerIds": {
        if (record.nextProducerId <= this.#nextProducerId) {
          fail(`producer id block ${record.nextProducerId} does not advance past ${this.#nextProducerId}`);
        }
        this.#nextProducerId = record.nextProducerId;
        break;
      }
      case "acl": {
        const { type: _, ...binding } = record;
        if ((this.#acls ?? this.base.acls).has(binding.id)) fail(`acl id ${binding.id} exists`);
        const problem = aclBindingProblem(binding);
        if (problem !== null) fail(`acl ${binding.id}: ${problem}`);
        this.acls().set(binding.id, binding);
        break;
      }
      case "removeAcl": {
        if (!(this.#acls ?? this.base.acls).has(record.id)) fail(`remove of unknown acl id ${record.id}`);
        this.acls().delete(record.id);
        break;
      }
      default: {
        const unknown: never = record;
        fail(`unhandled record ${JSON.stringify(unknown)}`);
      }
    }
    this.#offset = offset;
  }

  apply(): MetadataImage {
    return MetadataImage.build(
      this.#offset,
      this.#topicsById ?? this.base.topicsById,
      this.#topicsByName ?? this.base.topicsByName,
      this.#brokers ?? this.base.brokers,
      this.#configs ?? this.base.configs,
      this.#features ?? this.base.features,
      this.#nextProducerId,
      this.#acls ?? this.base.acls,
    );
  }
}

function checkPartition(p: PartitionImage, fail: (message: string) => never): void {
  const name = `${p.topicId}-${p.partition}`;
  if (p.replicas.length === 0) fail(`partition ${name} has no replicas`);
  if (new Set(p.replicas).size !== p.replicas.length) fail(`partition ${name} repeats a replica`);
  for (const b of p.isr) if (!p.replicas.includes(b)) fail(`partition ${name}: isr member ${b} is not a replica`);
  if (p.leader !== NO_LEADER && !p.isr.includes(p.leader)) fail(`partition ${name}: leader ${p.leader} is not in the isr`);
  const adding = p.addingReplicas ?? [];
  const removing = p.removingReplicas ?? [];
  for (const b of adding) if (!p.replicas.includes(b)) fail(`partition ${name}: adding replica ${b} is not a replica`);
  for (const b of removing) {
    if (!p.replicas.includes(b)) fail(`partition ${name}: removing replica ${b} is not a replica`);
    if (adding.includes(b)) fail(`partition ${name}: replica ${b} is both added and removed`);
  }
  if (removing.length >= p.replicas.length) fail(`partition ${name}: a reassignment removes every replica`);
}
