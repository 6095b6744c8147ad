/**
 * The controller's decision logic: turns admin requests into metadata records plus a
 * response, against the current image, without mutating anything (Kafka's
 * `ControllerResult` shape). The caller appends the records to the metadata log and only
 * then replays them and answers, so a response never claims a change that is not in the
 * log. Requests that validate only (`validateOnly`) return no records.
 *
 * Every per-item error is a Kafka error code with a message; nothing here throws for bad
 * input. Records produced within one call see each other (two partitions added to a topic
 * created in the same request are numbered in order).
 */
import { ErrorCode } from "../protocol/errors.ts";
import type { Prng } from "../platform/prng.ts";
import { addLoad, assignReplicas, emptyLoad, type PlacementBroker, type ReplicaLoad } from "./assignment.ts";
import { configKey, MetadataDelta, type MetadataImage, targetReplicas } from "./image.ts";
import type { MetadataRecord } from "./records.ts";
import { TOPIC_CONFIGS, topicConfigSetProblem, validateTopicConfig } from "./topic-config.ts";
import { collisionKey, INTERNAL_TOPICS, METADATA_TOPIC, topicNameProblem } from "./topic-name.ts";
import { randomUuid, type Uuid } from "./uuid.ts";

export interface ControllerResult<T> {
  records: MetadataRecord[];
  response: T;
  /**
   * False when each record stands alone, so a store may commit them in several batches (a
   * fenced broker's partitions moving). Default: one batch, all or nothing.
   */
  atomic?: boolean;
}

export interface ItemError {
  errorCode: number;
  errorMessage: string | null;
}

const OK: ItemError = { errorCode: ErrorCode.NONE, errorMessage: null };
const err = (errorCode: number, errorMessage: string): ItemError => ({ errorCode, errorMessage });

export const PARTITIONS_PER_TOPIC_MAX = 100_000;

/**
 * New partitions one CreateTopics or CreatePartitions request may ask for in total, as in
 * Kafka (a larger request fails whole with POLICY_VIOLATION): it bounds one decision's
 * metadata batch and the work of creating the partitions' logs.
 */
export const PARTITIONS_PER_REQUEST_MAX = 10_000;
const EXCESSIVE_PARTITIONS = "Excessively large number of partitions per request.";

export interface ControllerDefaults {
  numPartitions: number;
  defaultReplicationFactor: number;
}

export interface CreatableTopic {
  name: string;
  /** -1: the broker default. */
  numPartitions: number;
  /** -1: the broker default. */
  replicationFactor: number;
  /** Explicit assignment: replicas per partition index, in order. Empty: assign automatically. */
  assignments: { partitionIndex: number; brokerIds: number[] }[];
  configs: { name: string; value: string | null }[];
}

export interface CreatedTopic extends ItemError {
  name: string;
  topicId: Uuid | null;
  numPartitions: number;
  replicationFactor: number;
}

/** Immutable inputs of one controller decision. */
export interface ControllerContext {
  image: MetadataImage;
  prng: Prng;
  defaults: ControllerDefaults;
}

export function createTopics(ctx: ControllerContext, topics: readonly CreatableTopic[], validateOnly: boolean): ControllerResult<CreatedTopic[]> {
  const requested = topics.reduce(
    (n, t) => n + (t.assignments.length > 0 ? t.assignments.length : t.numPartitions === -1 ? ctx.defaults.numPartitions : Math.max(0, t.numPartitions)),
    0,
  );
  if (requested > PARTITIONS_PER_REQUEST_MAX) {
    return {
      records: [],
      response: topics.map((t) => ({ ...err(ErrorCode.POLICY_VIOLATION, EXCESSIVE_PARTITIONS), name: t.name, topicId: null, numPartitions: -1, replicationFactor: -1 })),
    };
  }
  const records: MetadataRecord[] = [];
  const seen = new Map<string, number>();
  for (const t of topics) seen.set(t.name, (seen.get(t.name) ?? 0) + 1);
  const existingCollisions = new Map<string, string>();
  for (const name of ctx.image.topicsByName.keys()) existingCollisions.set(collisionKey(name), name);
  const placement = new Placement(ctx);

  const response = topics.map((t): CreatedTopic => {
    const fail = (e: ItemError): CreatedTopic => ({ ...e, name: t.name, topicId: null, numPartitions: -1, replicationFactor: -1 });
    if ((seen.get(t.name) ?? 0) > 1) return fail(err(ErrorCode.INVALID_REQUEST, `topic ${t.name} appears more than once in the request`));
    const problem = topicNameProblem(t.name);
    if (problem !== null) return fail(err(ErrorCode.INVALID_TOPIC_EXCEPTION, problem));
    // Its directory would be the metadata log's: deleting such a topic would delete the log.
    if (t.name === METADATA_TOPIC) return fail(err(ErrorCode.INVALID_REQUEST, `creation of internal topic ${METADATA_TOPIC} is prohibited`));
    if (ctx.image.topic(t.name) !== undefined) return fail(err(ErrorCode.TOPIC_ALREADY_EXISTS, `topic ${t.name} already exists`));
    const collides = existingCollisions.get(collisionKey(t.name));
    if (collides !== undefined) {
      return fail(err(ErrorCode.INVALID_TOPIC_EXCEPTION, `topic ${t.name} collides with existing topic ${collides} ('.' and '_' are alike in metric names)`));
    }
    for (const c of t.configs) {
      const problem = validateTopicConfig(c.name, c.value);
      if (problem !== null) return fail(err(ErrorCode.INVALID_CONFIG, `${c.name}: ${problem}`));
    }
    const setProblem = topicConfigSetProblem(new Map(t.configs.flatMap((c) => (c.value === null ? [] : [[c.name, c.value] as const]))));
    if (setProblem !== null) return fail(err(ErrorCode.INVALID_CONFIG, setProblem));

    let partitions: NewPartition[];
    if (t.assignments.length > 0) {
      if (t.numPartitions !== -1 || t.replicationFactor !== -1) {
        return fail(err(ErrorCode.INVALID_REQUEST, "both assignments and numPartitions/replicationFactor were set"));
      }
      const indexes = t.assignments.map((a) => a.partitionIndex);
      if (!indexes.every((p, i) => p === i)) {
        return fail(err(ErrorCode.INVALID_REPLICA_ASSIGNMENT, "partition indexes must be 0..n-1 in order"));
      }
      const checked = checkAssignments(ctx.image, t.assignments.map((a) => a.brokerIds), 0, null);
      if ("errorCode" in checked) return fail(checked);
      partitions = checked;
      placement.addManual(partitions);
    } else {
      const numPartitions = t.numPartitions === -1 ? ctx.defaults.numPartitions : t.numPartitions;
      const replicationFactor = t.replicationFactor === -1 ? ctx.defaults.defaultReplicationFactor : t.replicationFactor;
      if (!(numPartitions >= 1 && numPartitions <= PARTITIONS_PER_TOPIC_MAX)) {
        return fail(err(ErrorCode.INVALID_PARTITIONS, `number of partitions ${numPartitions} must be in [1, ${PARTITIONS_PER_TOPIC_MAX}]`));
      }
      if (!(replicationFactor >= 1)) return fail(err(ErrorCode.INVALID_REPLICATION_FACTOR, `replication factor ${replicationFactor} must be >= 1`));
      const tooFew = placement.replicationFactorProblem(replicationFactor);
      if (tooFew !== null) return fail(tooFew);
      partitions = placement.assign(numPartitions, replicationFactor, []).map(automatic);
    }

    let topicId = randomUuid(ctx.prng);
    while (ctx.image.topicsById.has(topicId)) topicId = randomUuid(ctx.prng);
    if (!validateOnly) {
      records.push({ type: "topic", name: t.name, topicId });
      partitions.forEach((p, partition) => records.push(newPartition(topicId, partition, p)));
      for (const c of t.configs) {
        if (c.value !== null) records.push({ type: "config", resourceType: "topic", resourceName: t.name, name: c.name, value: c.value });
      }
    }
    existingCollisions.set(collisionKey(t.name), t.name);
    return { ...OK, name: t.name, topicId, numPartitions: partitions.length, replicationFactor: partitions[0]?.replicas.length ?? 0 };
  });
  return { records, response };
}

/** A new partition's replicas and initial ISR (the first ISR member is its leader). */
interface NewPartition {
  replicas: number[];
  isr: number[];
}

/** Automatic placement uses unfenced brokers only: every replica starts in sync (there is no data yet). */
const automatic = (replicas: number[]): NewPartition => ({ replicas, isr: replicas.slice() });

function newPartition(topicId: Uuid, partition: number, p: NewPartition): MetadataRecord {
  return { type: "partition", topicId, partition, replicas: p.replicas, isr: p.isr, leader: p.isr[0]!, leaderEpoch: 0, partitionEpoch: 0 };
}

/**
 * Automatic placement over the unfenced brokers, with the cluster's replica load computed
 * once per decision (on first use) and kept up to date as partitions are placed, so the
 * topics of one request spread as if created one by one.
 */
class Placement {
  readonly #ctx: ControllerContext;
  readonly #brokers: PlacementBroker[];
  #load: ReplicaLoad | null = null;
  /** Explicitly assigned partitions of this decision, counted when the load is computed. */
  readonly #manual: number[][] = [];

  constructor(ctx: ControllerContext) {
    this.#ctx = ctx;
    this.#brokers = ctx.image.liveBrokers().map((b) => ({ brokerId: b.brokerId, rack: b.rack }));
  }

  /** INVALID_REPLICATION_FACTOR when fewer than `rf` brokers are registered and unfenced. */
  replicationFactorProblem(rf: number): ItemError | null {
    const available = this.#brokers.length;
    if (rf <= available) return null;
    const fenced = this.#ctx.image.brokers.size - available;
    return err(
      ErrorCode.INVALID_REPLICATION_FACTOR,
      `replication factor ${rf} is larger than the number of available brokers, ${available}` +
        ` (registered and unfenced${fenced > 0 ? `; ${fenced} more registered but fenced` : ""})`,
    );
  }

  assign(count: number, rf: number, existing: readonly (readonly number[])[]): number[][] {
    this.#load ??= addLoad(addLoad(emptyLoad(), allReplicaSets(this.#ctx.image)), this.#manual);
    return assignReplicas({ brokers: this.#brokers, partitionCount: count, replicationFactor: rf, existing, clusterLoad: this.#load }, this.#ctx.prng);
  }

  /** Partitions placed by hand in this decision count toward the load of later automatic ones. */
  addManual(sets: readonly NewPartition[]): void {
    const replicas = sets.map((s) => s.replicas);
    if (this.#load === null) this.#manual.push(...replicas);
    else addLoad(this.#load, replicas);
  }
}

function* allReplicaSets(image: MetadataImage): Generator<readonly number[]> {
  for (const topic of image.topicsById.values()) for (const p of topic.partitions) yield p.replicas;
}

/**
 * Explicit replica lists, checked as Kafka's controller checks them: every broker
 * registered, none twice, the same count in every partition (`rf` when the topic has one
 * already), and at least one unfenced broker per partition. Fenced replicas are allowed
 * but start outside the ISR; the leader is the first unfenced one.
 */
function checkAssignments(image: MetadataImage, sets: readonly number[][], firstPartition: number, rf: number | null): NewPartition[] | ItemError {
  if (sets.length === 0) return err(ErrorCode.INVALID_REPLICA_ASSIGNMENT, "empty assignment");
  let expected = rf;
  const out: NewPartition[] = [];
  for (const [i, s] of sets.entries()) {
    const partition = firstPartition + i;
    if (s.length === 0) return err(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `partition ${partition} has an empty replica list`);
    if (new Set(s).size !== s.length) return err(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `partition ${partition} names a broker twice: [${s.join(",")}]`);
    const unknown = s.find((b) => !image.brokers.has(b));
    if (unknown !== undefined) return err(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `partition ${partition} names broker ${unknown}, which is not registered`);
    if (expected !== null && s.length !== expected) {
      return err(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `partition ${partition} has ${s.length} replica(s) but the other partitions have ${expected}`);
    }
    expected = s.length;
    const isr = s.filter((b) => image.brokers.get(b)?.fenced === false);
    if (isr.length === 0) {
      return err(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `every broker named for partition ${partition} ([${s.join(",")}]) is fenced`);
    }
    out.push({ replicas: s.slice(), isr });
  }
  return out;
}

/**
 * The replication factor an internal topic (`__consumer_offsets`, `__transaction_state`) is
 * created with: its configured factor (`offsets.topic.replication.factor`,
 * `transaction.state.log.replication.factor`) capped to the registered, unfenced brokers,
 * so a cluster smaller than the setting (one node with Kafka's default of 3) still gets
 * its groups working; the caller logs the cap. With no broker available the configured
 * factor is kept and creation fails with INVALID_REPLICATION_FACTOR, to be retried.
 */
export function internalTopicReplicationFactor(image: MetadataImage, configured: number): { replicationFactor: number; capped: boolean } {
  const available = image.liveBrokers().length;
  if (available === 0 || configured <= available) return { replicationFactor: configured, capped: false };
  return { replicationFactor: available, capped: true };
}

export interface DeletableTopic {
  name: string | null;
  topicId: Uuid | null;
}

export interface DeletedTopic extends ItemError {
  name: string | null;
  topicId: Uuid | null;
}

export function deleteTopics(ctx: ControllerContext, topics: readonly DeletableTopic[]): ControllerResult<DeletedTopic[]> {
  const records: MetadataRecord[] = [];
  const removed = new Set<Uuid>();
  const response = topics.map((t): DeletedTopic => {
    const topic = t.topicId !== null ? ctx.image.topicsById.get(t.topicId) : t.name !== null ? ctx.image.topic(t.name) : undefined;
    if (topic === undefined) {
      return t.topicId !== null
        ? { ...err(ErrorCode.UNKNOWN_TOPIC_ID, `no topic with id ${t.topicId}`), name: t.name, topicId: t.topicId }
        : { ...err(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `no topic ${t.name ?? "(null)"}`), name: t.name, topicId: t.topicId };
    }
    if (INTERNAL_TOPICS.has(topic.name)) {
      return { ...err(ErrorCode.INVALID_TOPIC_EXCEPTION, `internal topic ${topic.name} cannot be deleted`), name: topic.name, topicId: topic.topicId };
    }
    if (!removed.has(topic.topicId)) {
      removed.add(topic.topicId);
      records.push({ type: "removeTopic", topicId: topic.topicId });
    }
    return { ...OK, name: topic.name, topicId: topic.topicId };
  });
  return { records, response };
}

export interface PartitionsIncrease {
  name: string;
  /** The new total number of partitions. */
  count: number;
  /** Replicas for each new partition, or null to assign automatically. */
  assignments: number[][] | null;
}

export interface IncreasedPartitions extends ItemError {
  name: string;
}

export function createPartitions(
  ctx: ControllerContext,
  increases: readonly PartitionsIncrease[],
  validateOnly: boolean,
): ControllerResult<IncreasedPartitions[]> {
  const requested = increases.reduce((n, inc) => n + Math.max(0, inc.count - (ctx.image.topic(inc.name)?.partitions.length ?? inc.count)), 0);
  if (requested > PARTITIONS_PER_REQUEST_MAX) {
    return { records: [], response: increases.map((inc) => ({ ...err(ErrorCode.POLICY_VIOLATION, EXCESSIVE_PARTITIONS), name: inc.name })) };
  }
  const records: MetadataRecord[] = [];
  const seen = new Map<string, number>();
  for (const inc of increases) seen.set(inc.name, (seen.get(inc.name) ?? 0) + 1);
  const placement = new Placement(ctx);
  const response = increases.map((inc): IncreasedPartitions => {
    const fail = (e: ItemError): IncreasedPartitions => ({ ...e, name: inc.name });
    if ((seen.get(inc.name) ?? 0) > 1) return fail(err(ErrorCode.INVALID_REQUEST, `topic ${inc.name} appears more than once in the request`));
    const topic = ctx.image.topic(inc.name);
    if (topic === undefined) return fail(err(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `no topic ${inc.name}`));
    const current = topic.partitions.length;
    if (inc.count <= current) {
      return fail(err(ErrorCode.INVALID_PARTITIONS, `topic ${inc.name} has ${current} partitions; the new count ${inc.count} must be larger`));
    }
    if (inc.count > PARTITIONS_PER_TOPIC_MAX) return fail(err(ErrorCode.INVALID_PARTITIONS, `more than ${PARTITIONS_PER_TOPIC_MAX} partitions`));
    // A reassignment in progress lists its removed replicas too: the factor is its target's.
    const rf = topic.partitions[0] === undefined ? 1 : targetReplicas(topic.partitions[0]).length;
    let added: NewPartition[];
    if (inc.assignments !== null) {
      if (inc.assignments.length !== inc.count - current) {
        return fail(err(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `${inc.assignments.length} assignments for ${inc.count - current} new partitions`));
      }
      const checked = checkAssignments(ctx.image, inc.assignments, current, rf);
      if ("errorCode" in checked) return fail(checked);
      added = checked;
      placement.addManual(added);
    } else {
      const tooFew = placement.replicationFactorProblem(rf);
      if (tooFew !== null) return fail(tooFew);
      added = placement.assign(inc.count - current, rf, topic.partitions.map((p) => p.replicas)).map(automatic);
    }
    if (!validateOnly) added.forEach((p, i) => records.push(newPartition(topic.topicId, current + i, p)));
    return { ...OK, name: inc.name };
  });
  return { records, response };
}

/** Incremental config operations, with Kafka's op codes. */
export const ConfigOp = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;

export interface ConfigAlteration {
  resourceType: "topic" | "broker";
  resourceName: string;
  /** Incremental: each op applies to the current value. Non-incremental (legacy AlterConfigs): the set replaces all values. */
  ops: { name: string; op: number; value: string | null }[];
  incremental: boolean;
}

export interface AlteredConfigs extends ItemError {
  resourceType: "topic" | "broker";
  resourceName: string;
}

/**
 * Validates broker-level (dynamic) configs; supplied by the broker, which owns broker config
 * definitions. `resourceName` is a broker id, or "" for the cluster default.
 */
export interface BrokerConfigValidator {
  /** One key's new value (null: removed): the error to answer, or null. */
  check(name: string, value: string | null, resourceName: string): ItemError | null;
  /** The resulting values of one resource, each already valid alone. */
  checkSet(values: ReadonlyMap<string, string>): ItemError | null;
  /** APPEND / SUBTRACT apply to list configs only. */
  isList(name: string): boolean;
  /** A list config's default, the value APPEND/SUBTRACT start from when the resource sets none. */
  listDefault?(name: string): string;
}

export function alterConfigs(
  ctx: ControllerContext,
  alterations: readonly ConfigAlteration[],
  validateOnly: boolean,
  validateBrokerConfig: BrokerConfigValidator,
  localBrokerId: number,
): ControllerResult<AlteredConfigs[]> {
  const records: MetadataRecord[] = [];
  const response = alterations.map((a): AlteredConfigs => {
    const fail = (e: ItemError): AlteredConfigs => ({ ...e, resourceType: a.resourceType, resourceName: a.resourceName });
    if (a.resourceType === "topic") {
      if (ctx.image.topic(a.resourceName) === undefined) return fail(err(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `no topic ${a.resourceName}`));
    } else if (a.resourceName !== "" && a.resourceName !== String(localBrokerId)) {
      if (!/^\d+$/.test(a.resourceName) || !ctx.image.brokers.has(Number(a.resourceName))) {
        return fail(err(ErrorCode.INVALID_REQUEST, `unknown broker ${a.resourceName}`));
      }
    }
    const current = ctx.image.configs.get(configKey(a.resourceType, a.resourceName)) ?? new Map<string, string>();
    const next = new Map(a.incremental ? current : []);
    const names = new Set<string>();
    for (const o of a.ops) {
      // Kafka refuses a key twice in IncrementalAlterConfigs; legacy AlterConfigs reads the
      // entries into a map, so the last one wins (librdkafka's tests send read-back sets so).
      if (a.incremental && names.has(o.name)) return fail(err(ErrorCode.INVALID_REQUEST, `config ${o.name} appears more than once`));
      names.add(o.name);
      const listOf = (v: string | undefined): string[] => (v === undefined || v === "" ? [] : v.split(",").map((s) => s.trim()));
      switch (a.incremental ? o.op : ConfigOp.SET) {
        case ConfigOp.SET:
          if (o.value === null) next.delete(o.name);
          else next.set(o.name, o.value);
          break;
        case ConfigOp.DELETE:
          next.delete(o.name);
          break;
        case ConfigOp.APPEND:
        case ConfigOp.SUBTRACT: {
          const isList = a.resourceType === "topic" ? TOPIC_CONFIGS.get(o.name)?.type === "list" : validateBrokerConfig.isList(o.name);
          if (!isList) {
            return fail(err(ErrorCode.INVALID_CONFIG, `${o.name} is not a list config; APPEND/SUBTRACT apply to lists`));
          }
          // With no value set on the resource, the list starts from the config's default, as in
          // Kafka: APPEND compact to an unset cleanup.policy gives "delete,compact", and the
          // SUBTRACT that follows gives "delete" back, not an empty policy.
          const fallback = a.resourceType === "topic" ? TOPIC_CONFIGS.get(o.name)?.defaultValue : validateBrokerConfig.listDefault?.(o.name);
          const items = listOf(next.get(o.name) ?? fallback);
          const change = listOf(o.value ?? "");
          const result = o.op === ConfigOp.APPEND ? [...items, ...change.filter((x) => !items.includes(x))] : items.filter((x) => !change.includes(x));
          next.set(o.name, result.join(","));
          break;
        }
        default:
          return fail(err(ErrorCode.INVALID_REQUEST, `unknown config operation ${o.op}`));
      }
    }
    const check = (name: string, value: string | null): ItemError | null => {
      if (a.resourceType === "broker") return validateBrokerConfig.check(name, value, a.resourceName);
      const problem = validateTopicConfig(name, value);
      return problem === null ? null : err(ErrorCode.INVALID_CONFIG, `${name}: ${problem}`);
    };
    for (const [name, value] of next) {
      const problem = check(name, value);
      if (problem !== null) return fail(problem);
    }
    for (const name of current.keys()) {
      if (!next.has(name)) {
        const problem = check(name, null);
        if (problem !== null) return fail(problem);
      }
    }
    if (a.resourceType === "topic") {
      const setProblem = topicConfigSetProblem(next);
      if (setProblem !== null) return fail(err(ErrorCode.INVALID_CONFIG, setProblem));
    } else {
      const setProblem = validateBrokerConfig.checkSet(next);
      if (setProblem !== null) return fail(setProblem);
    }
    if (!validateOnly) {
      for (const [name, value] of next) {
        if (current.get(name) !== value) records.push({ type: "config", resourceType: a.resourceType, resourceName: a.resourceName, name, value });
      }
      for (const name of current.keys()) {
        if (!next.has(name)) records.push({ type: "config", resourceType: a.resourceType, resourceName: a.resourceName, name, value: null });
      }
    }
    return { ...OK, resourceType: a.resourceType, resourceName: a.resourceName };
  });
  return { records, response };
}

/** Size of the producer id block handed out per request, as in Kafka. */
export const PRODUCER_ID_BLOCK_SIZE = 1000;

export function allocateProducerIds(ctx: ControllerContext, brokerId: number, brokerEpoch: number): ControllerResult<{ firstProducerId: number; size: number }> {
  const first = ctx.image.nextProducerId;
  return {
    records: [{ type: "producerIds", brokerId, brokerEpoch, nextProducerId: first + PRODUCER_ID_BLOCK_SIZE }],
    response: { firstProducerId: first, size: PRODUCER_ID_BLOCK_SIZE },
  };
}

/**
 * Applies records to an image with consecutive offsets after `image.offset`: the single-node
 * path and tests use it; the metadata log does the same with real offsets.
 */
export function applyRecords(image: MetadataImage, records: readonly MetadataRecord[]): MetadataImage {
  if (records.length === 0) return image;
  const delta = new MetadataDelta(image);
  records.forEach((r, i) => delta.replay(r, image.offset + 1 + i));
  return delta.apply();
}
