/**
 * One mirror flow `A->B`: which topics of A are copied, their topics on B (created with A's
 * partition count and configs, grown and re-configured when A's change), one
 * `PartitionMirror` per partition, heartbeats, checkpoints and group offset sync.
 *
 * Topics: every `refresh.topics.interval.seconds` the flow reads A's metadata, keeps the
 * topics `shouldMirrorTopic` allows (policy.ts) and for each makes sure the target topic
 * exists with at least as many partitions and (with `sync.topic.configs.enabled`) the
 * source's own topic configs, minus `configsNotSynced` (settings about one cluster's
 * brokers, not about the data). A target topic with more partitions than its source is left
 * alone (Kafka cannot shrink one); its extra partitions get nothing.
 *
 * Heartbeats (`emit.heartbeats.enabled`): a record every `emit.heartbeats.interval.seconds` in
 * B's `heartbeats` topic, key (source alias, target alias), value (version 0, time in ms):
 *   key:   int16 length + UTF-8 source alias, int16 length + UTF-8 target alias
 *   value: int16 version (0), int64 timestamp ms
 *
 * Checkpoints (`emit.checkpoints.enabled`): every `emit.checkpoints.interval.seconds`, each
 * selected group's committed offsets on A's mirrored topics, translated (offset-syncs.ts),
 * into B's `A.checkpoints.internal`:
 *   key:   int16 length + group, int16 length + target topic, int32 partition
 *   value: int16 version (0), int64 upstream offset, int64 downstream offset,
 *          int16 length + metadata (-1: null)
 * With `sync.group.offsets.enabled`, the translations are also committed to the group on B
 * — only when the group has no members on B (as MM2 does: a live consumer's position is its
 * own) and only forward of what B's group already committed.
 */
import { commitGroupOffsets, type CommittedOffset, createPartitions, createTopic, describeTopicConfigs, fetchGroupOffsets, listGroups, replaceTopicConfigs } from "../client/admin.ts";
import type { ClusterClient } from "../client/bootstrap.ts";
import { describeFailure, listOffset, OffsetSpec, produceBatch } from "../client/partition-io.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { buildRecordBatch } from "../protocol/records/builder.ts";
import type { FlowSettings } from "./config.ts";
import { encodeSyncKey, encodeSyncValue, loadOffsetSyncs, type OffsetSync, OffsetSyncStore } from "./offset-syncs.ts";
import { type CopyLimits, type MirrorEnv, PartitionMirror } from "./partition-mirror.ts";
import type { MirrorProducers } from "./producers.ts";
import { checkpointsTopic, heartbeatsTopic, offsetSyncsTopic, shouldMirrorTopic, targetTopicName } from "./policy.ts";

/** Topic configs that describe one cluster's brokers rather than the data: never copied. */
export const configsNotSynced: ReadonlySet<string> = new Set([
  "follower.replication.throttled.replicas",
  "leader.replication.throttled.replicas",
  "min.insync.replicas",
  "unclean.leader.election.enable",
  "message.timestamp.difference.max.ms",
  "message.timestamp.before.max.ms",
  "message.timestamp.after.max.ms",
]);

/** Topics mirrored by one flow at most; a larger selection is refused with an error line. */
export const flowTopicsMax = 10_000;

const enc = new TextEncoder();

function str16(s: string): Uint8Array {
  const b = enc.encode(s);
  const out = new Uint8Array(2 + b.length);
  new DataView(out.buffer).setInt16(0, b.length);
  out.set(b, 2);
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let p = 0;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

function i64(v: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, BigInt(v));
  return out;
}

function i16(v: number): Uint8Array {
  const out = new Uint8Array(2);
  new DataView(out.buffer).setInt16(0, v);
  return out;
}

function i32(v: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, v);
  return out;
}

export function heartbeatRecord(source: string, target: string, timestampMs: number): { key: Uint8Array; value: Uint8Array } {
  return { key: concat([str16(source), str16(target)]), value: concat([i16(0), i64(timestampMs)]) };
}

export function checkpointRecord(group: string, topic: string, partition: number, upstream: number, downstream: number, metadata: string | null): { key: Uint8Array; value: Uint8Array } {
  return {
    key: concat([str16(group), str16(topic), i32(partition)]),
    value: concat([i16(0), i64(upstream), i64(downstream), metadata === null ? i16(-1) : str16(metadata)]),
  };
}

export interface Translation {
  readonly group: string;
  readonly sourceTopic: string;
  readonly targetTopic: string;
  readonly partition: number;
  readonly upstream: number;
  /** null: the offset is before every sync kept (not translatable). */
  readonly downstream: number | null;
  readonly metadata: string | null;
}

export interface FlowStatus {
  topics: number;
  lastError: string | null;
  lastCheckpointAtMs: number;
  lastHeartbeatAtMs: number;
}

export class Flow {
  readonly settings: FlowSettings;
  readonly status: FlowStatus = { topics: 0, lastError: null, lastCheckpointAtMs: 0, lastHeartbeatAtMs: 0 };
  readonly partitions = new Map<string, PartitionMirror>();
  readonly #env: MirrorEnv;
  readonly #source: ClusterClient;
  readonly #target: ClusterClient;
  readonly #aliases: ReadonlySet<string>;
  readonly #limits: CopyLimits;
  readonly #sourceProducers: MirrorProducers;
  readonly #targetProducers: MirrorProducers;
  readonly #running: Promise<void>[] = [];
  /** Source topic → target topic, for the topics being mirrored. */
  readonly #topics = new Map<string, string>();
  #syncs = new OffsetSyncStore();
  #stopped = false;

  constructor(
    env: MirrorEnv,
    settings: FlowSettings,
    clusters: { source: ClusterClient; target: ClusterClient; sourceProducers: MirrorProducers; targetProducers: MirrorProducers },
    aliases: ReadonlySet<string>,
    limits: CopyLimits,
  ) {
    const { source, target } = clusters;
    this.#sourceProducers = clusters.sourceProducers;
    this.#targetProducers = clusters.targetProducers;
    this.#env = { ...env, log: env.log.child({ flow: `${settings.source}->${settings.target}` }) };
    this.settings = settings;
    this.#source = source;
    this.#target = target;
    this.#aliases = aliases;
    this.#limits = limits;
  }

  get name(): string {
    return `${this.settings.source}->${this.settings.target}`;
  }

  get syncsTopic(): string {
    return offsetSyncsTopic(this.settings.target, this.settings.separator);
  }

  get #syncsCluster(): ClusterClient {
    return this.settings.offsetSyncsLocation === "source" ? this.#source : this.#target;
  }

  stop(): void {
    this.#stopped = true;
  }

  /** Runs the flow until `stop()`; every partition has drained its produces when it resolves. */
  async run(): Promise<void> {
    const log = this.#env.log;
    while (!this.#stopped) {
      const ready = await this.#prepare();
      if (ready === null) break;
      this.status.lastError = ready;
      log.warn("flow waits and retries", { reason: ready });
      await this.#pause(2_000);
    }
    let nextTopics = 0;
    let nextHeartbeat = 0;
    let nextCheckpoint = this.#env.clock.monotonicMs() + this.settings.emitCheckpointsIntervalMs;
    while (!this.#stopped) {
      const now = this.#env.clock.monotonicMs();
      try {
        if (now >= nextTopics) {
          await this.#refreshTopics();
          nextTopics = now + this.settings.refreshTopicsIntervalMs;
        }
        if (this.settings.emitHeartbeats && now >= nextHeartbeat) {
          await this.#heartbeat();
          nextHeartbeat = now + this.settings.emitHeartbeatsIntervalMs;
        }
        if ((this.settings.emitCheckpoints || this.settings.syncGroupOffsets) && now >= nextCheckpoint) {
          await this.checkpoint();
          nextCheckpoint = now + Math.min(this.settings.emitCheckpointsIntervalMs, this.settings.syncGroupOffsetsIntervalMs);
        }
      } catch (e) {
        if (!(e instanceof FlowIncident)) throw e;
        this.status.lastError = e.message;
        // Every step that was due is tried again in 2 s (one line per attempt).
        log.warn("flow step failed; retrying in 2 s", { reason: e.message });
        const retryAt = now + 2_000;
        if (nextTopics <= now) nextTopics = retryAt;
        if (nextHeartbeat <= now) nextHeartbeat = retryAt;
        if (nextCheckpoint <= now) nextCheckpoint = retryAt;
      }
      await this.#pause(100);
    }
    await Promise.all(this.#running);
  }

  async #pause(ms: number): Promise<void> {
    const until = this.#env.clock.monotonicMs() + ms;
    while (!this.#stopped && this.#env.clock.monotonicMs() < until) await this.#env.sleep(Math.min(100, until - this.#env.clock.monotonicMs()));
  }

  /** Loads the offset syncs; null when ready, else why not. */
  async #prepare(): Promise<string | null> {
    const cluster = this.#syncsCluster;
    const topic = this.syncsTopic;
    const ensured = await this.#ensureTopic(cluster, topic, 1, new Map([["cleanup.policy", "delete"]]));
    if (ensured !== null) return ensured;
    const loaded = await loadOffsetSyncs(cluster, topic, this.#env.compression);
    if (!loaded.ok) return `reading ${topic}: ${loaded.message}`;
    this.#syncs = loaded.store;
    return null;
  }

  /** Creates a topic when missing; null when it exists (or was made), else why not. */
  async #ensureTopic(cluster: ClusterClient, topic: string, partitions: number, configs: ReadonlyMap<string, string | null>): Promise<string | null> {
    const meta = await cluster.refreshMetadata([topic]);
    if (!meta.ok) return `Metadata: ${meta.error.message}`;
    const t = meta.value.topics.find((x) => x.name === topic);
    if (t !== undefined && t.errorCode === ErrorCode.NONE) return null;
    const created = await createTopic(cluster, { name: topic, numPartitions: partitions, replicationFactor: this.settings.replicationFactor, configs });
    if (!created.ok && !(!(created.error instanceof Error) && created.error.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS)) return `creating ${topic}: ${describeFailure(created.error)}`;
    this.#env.log.info("created topic", { topic, partitions });
    await cluster.refreshMetadata([topic]);
    return null;
  }

  async #writeSync(sync: OffsetSync): Promise<string | null> {
    const batch = buildRecordBatch([{ key: encodeSyncKey(sync.topic, sync.partition), value: encodeSyncValue(sync.upstream, sync.downstream), timestamp: this.#env.clock.nowMs() }]);
    const r = await produceBatch(this.#syncsCluster, { topic: this.syncsTopic, partition: 0 }, batch);
    if (!r.ok) return describeFailure(r.error);
    this.#syncs.add(sync);
    return null;
  }

  async #refreshTopics(): Promise<void> {
    const meta = await this.#source.refreshMetadata(null);
    if (!meta.ok) throw new FlowIncident(`source Metadata: ${meta.error.message}`);
    const chosen = meta.value.topics.filter((t) => t.name !== null && t.errorCode === ErrorCode.NONE && !t.isInternal && shouldMirrorTopic(this.settings, t.name, this.#aliases));
    if (chosen.length > flowTopicsMax) throw new FlowIncident(`${chosen.length} topics selected (at most ${flowTopicsMax})`);
    this.status.topics = chosen.length;
    for (const t of chosen) {
      const name = t.name as string;
      const targetName = targetTopicName(this.settings, name);
      const count = t.partitions.length;
      let configs = new Map<string, string | null>();
      if (this.settings.syncTopicConfigs) {
        const c = await describeTopicConfigs(this.#source, name);
        if (!c.ok) throw new FlowIncident(`source DescribeConfigs ${name}: ${describeFailure(c.error)}`);
        configs = new Map([...c.value].filter(([k]) => !configsNotSynced.has(k)));
      }
      const tm = await this.#target.refreshMetadata([targetName]);
      if (!tm.ok) throw new FlowIncident(`target Metadata: ${tm.error.message}`);
      const existing = tm.value.topics.find((x) => x.name === targetName && x.errorCode === ErrorCode.NONE);
      if (existing === undefined) {
        const created = await createTopic(this.#target, { name: targetName, numPartitions: count, replicationFactor: this.settings.replicationFactor, configs });
        if (!created.ok && !(!(created.error instanceof Error) && created.error.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS)) {
          throw new FlowIncident(`creating ${targetName} on ${this.settings.target}: ${describeFailure(created.error)}`);
        }
        this.#env.log.info("created target topic", { topic: targetName, partitions: count, configs: configs.size });
        await this.#target.refreshMetadata([targetName]);
      } else {
        if (existing.partitions.length < count) {
          const grown = await createPartitions(this.#target, targetName, count);
          if (!grown.ok) throw new FlowIncident(`growing ${targetName} to ${count} partitions: ${describeFailure(grown.error)}`);
          this.#env.log.info("grew target topic", { topic: targetName, from: existing.partitions.length, to: count });
          await this.#target.refreshMetadata([targetName]);
        }
        if (this.settings.syncTopicConfigs) {
          const tc = await describeTopicConfigs(this.#target, targetName);
          if (!tc.ok) throw new FlowIncident(`target DescribeConfigs ${targetName}: ${describeFailure(tc.error)}`);
          const differs = tc.value.size !== configs.size || [...configs].some(([k, v]) => tc.value.get(k) !== v);
          if (differs) {
            const set = await replaceTopicConfigs(this.#target, targetName, configs);
            if (!set.ok) throw new FlowIncident(`configs of ${targetName}: ${describeFailure(set.error)}`);
            this.#env.log.info("synced target topic configs", { topic: targetName, configs: [...configs].map(([k, v]) => `${k}=${v ?? ""}`).join(",") });
          }
        }
      }
      this.#topics.set(name, targetName);
      for (let p = 0; p < count; p++) this.#startPartition(name, targetName, p);
    }
  }

  #startPartition(topic: string, targetTopic: string, partition: number): void {
    const key = `${topic}\u0000${partition}`;
    if (this.partitions.has(key)) return;
    const mirror = new PartitionMirror(
      {
        env: this.#env,
        source: this.#source,
        target: this.#target,
        syncs: this.#syncs,
        writeSync: (s) => this.#writeSync(s),
        stopped: () => this.#stopped,
        limits: this.#limits,
        shared: this.settings.policy === "identity",
        registerProducer: (id) => this.#targetProducers.register(this.name, id),
        isMirrorBatch: (id) => this.#sourceProducers.isMirrors(id),
        ownProducerIds: async () => {
          const why = await this.#targetProducers.refresh();
          return why ?? this.#targetProducers.idsOf(this.name);
        },
      },
      topic,
      targetTopic,
      partition,
    );
    this.partitions.set(key, mirror);
    this.#running.push(
      mirror.run().catch((e: unknown) => {
        mirror.status.state = "failed";
        mirror.status.lastError = e instanceof Error ? (e.stack ?? e.message) : String(e);
        this.#env.log.error("partition mirror crashed", { topic, partition, error: mirror.status.lastError });
      }),
    );
  }

  async #heartbeat(): Promise<void> {
    const made = await this.#ensureTopic(this.#target, heartbeatsTopic, 1, new Map());
    if (made !== null) throw new FlowIncident(`heartbeats: ${made}`);
    const now = this.#env.clock.nowMs();
    const r = await produceBatch(this.#target, { topic: heartbeatsTopic, partition: 0 }, buildRecordBatch([{ ...heartbeatRecord(this.settings.source, this.settings.target, now), timestamp: now }]));
    if (!r.ok) throw new FlowIncident(`heartbeat: ${describeFailure(r.error)}`);
    this.status.lastHeartbeatAtMs = now;
  }

  /**
   * Translates the committed offsets of the selected groups (or of `onlyGroup`) on the
   * source's mirrored topics. `copiedEnd` gives, per target partition, the offset after the
   * last copied batch (the running mirror's acknowledged position, or the target's HW).
   */
  async translateGroups(onlyGroup: string | null, copiedEnd: (targetTopic: string, partition: number) => Promise<number | null>): Promise<Translation[]> {
    const groups: string[] = [];
    if (onlyGroup !== null) {
      groups.push(onlyGroup);
    } else {
      const listed = await listGroups(this.#source);
      if (!listed.ok) throw new FlowIncident(`source ListGroups: ${describeFailure(listed.error)}`);
      for (const g of listed.value) {
        if (this.settings.groups.some((r) => r.test(g.groupId)) && !this.settings.groupsExclude.some((r) => r.test(g.groupId))) groups.push(g.groupId);
      }
    }
    const out: Translation[] = [];
    for (const group of groups) {
      const offsets = await fetchGroupOffsets(this.#source, group, this.#env.sleep);
      if (!offsets.ok) throw new FlowIncident(`source OffsetFetch ${group}: ${describeFailure(offsets.error)}`);
      for (const o of offsets.value) {
        if (!shouldMirrorTopic(this.settings, o.topic, this.#aliases)) continue;
        const targetTopic = targetTopicName(this.settings, o.topic);
        const end = await copiedEnd(targetTopic, o.partition);
        const downstream = end === null ? null : this.#syncs.translate(o.topic, o.partition, o.offset, end);
        out.push({ group, sourceTopic: o.topic, targetTopic, partition: o.partition, upstream: o.offset, downstream, metadata: o.metadata });
      }
    }
    return out;
  }

  /** Loads the offset syncs without running the flow (for `translate-offsets` and `status`). */
  async loadSyncs(): Promise<string | null> {
    const loaded = await loadOffsetSyncs(this.#syncsCluster, this.syncsTopic, this.#env.compression);
    if (!loaded.ok) return loaded.message;
    this.#syncs = loaded.store;
    return null;
  }

  get syncs(): OffsetSyncStore {
    return this.#syncs;
  }

  /** The target partition's high watermark, or null when unknown. */
  async targetHighWatermark(topic: string, partition: number): Promise<number | null> {
    const r = await listOffset(this.#target, { topic, partition }, OffsetSpec.latest);
    return r.ok ? r.value : null;
  }

  async checkpoint(): Promise<void> {
    const translations = await this.translateGroups(null, async (topic, partition) => {
      for (const m of this.partitions.values()) {
        if (m.status.targetTopic === topic && m.status.partition === partition) return m.status.targetNext >= 0 ? m.status.targetNext : null;
      }
      return null;
    });
    const usable = translations.filter((t) => t.downstream !== null);
    if (this.settings.emitCheckpoints && usable.length > 0) {
      const topic = checkpointsTopic(this.settings.source, this.settings.separator);
      const made = await this.#ensureTopic(this.#target, topic, 1, new Map());
      if (made !== null) throw new FlowIncident(`checkpoints: ${made}`);
      const now = this.#env.clock.nowMs();
      const batch = buildRecordBatch(usable.map((t) => ({ ...checkpointRecord(t.group, t.targetTopic, t.partition, t.upstream, t.downstream as number, t.metadata), timestamp: now })));
      const r = await produceBatch(this.#target, { topic, partition: 0 }, batch);
      if (!r.ok) throw new FlowIncident(`checkpoint: ${describeFailure(r.error)}`);
      this.status.lastCheckpointAtMs = now;
    }
    if (this.settings.syncGroupOffsets && usable.length > 0) await this.#syncGroupOffsets(usable);
  }

  async #syncGroupOffsets(translations: readonly Translation[]): Promise<void> {
    const listed = await listGroups(this.#target);
    if (!listed.ok) throw new FlowIncident(`target ListGroups: ${describeFailure(listed.error)}`);
    const states = new Map(listed.value.map((g) => [g.groupId, g.state]));
    const byGroup = new Map<string, Translation[]>();
    for (const t of translations) byGroup.set(t.group, [...(byGroup.get(t.group) ?? []), t]);
    for (const [group, list] of byGroup) {
      const state = states.get(group);
      if (state !== undefined && state !== "Empty" && state !== "Dead" && state !== "") continue; // live on the target: its position is its own
      const current = await fetchGroupOffsets(this.#target, group, this.#env.sleep);
      if (!current.ok) throw new FlowIncident(`target OffsetFetch ${group}: ${describeFailure(current.error)}`);
      const have = new Map(current.value.map((o) => [`${o.topic}\u0000${o.partition}`, o.offset]));
      const commits: CommittedOffset[] = [];
      for (const t of list) {
        const prior = have.get(`${t.targetTopic}\u0000${t.partition}`);
        if (prior !== undefined && prior >= (t.downstream as number)) continue;
        commits.push({ topic: t.targetTopic, partition: t.partition, offset: t.downstream as number, leaderEpoch: -1, metadata: t.metadata });
      }
      if (commits.length === 0) continue;
      const r = await commitGroupOffsets(this.#target, group, commits, this.#env.sleep);
      if (!r.ok) {
        // A member joined meanwhile (or the group is busy): its own position wins; try next round.
        this.#env.log.info("group offsets not synced", { group, reason: describeFailure(r.error) });
        continue;
      }
      this.#env.log.info("synced group offsets", { group, partitions: commits.length });
    }
  }
}

export class FlowIncident extends Error {}
