/**
 * `backup restore`: replays a backup (and its ancestors, per partition) into a cluster
 * through public Kafka APIs only (CreateTopics, ListOffsets, Produce acks=all, OffsetCommit),
 * so the target may be bunka or Apache Kafka.
 *
 * Order, so that a bad backup or an unsuitable target changes nothing:
 * 1. pre-flight: every chunk of every selected partition is read and checked (reader.ts),
 *    and the transactions are scanned (restore-plan.ts);
 * 2. the target is checked: a target topic that exists must have at least the backup's
 *    partition count and hold no records (its end offset equals its start offset);
 * 3. missing topics are created with the backup's partition count, configs and replication
 *    factor (at most the target's broker count);
 * 4. batches are produced in offset order per partition (restore-plan.ts says which go
 *    as stored and which are rebuilt), one batch per request, up to `produceWindow` requests
 *    in flight; the first failed request stops the restore;
 * 5. committed group offsets are translated through each partition's offset map and
 *    committed with an admin commit (the groups must have no active member in the target).
 *
 * Offsets: the target assigns them. Into an empty partition whose source log started at 0
 * and had no holes, every record lands at its source offset; otherwise (log start > 0,
 * compaction, transaction markers, aborted data, --until) they shift, and group offsets are
 * translated: a committed offset C becomes the target offset of the first restored record at
 * or after C, or the target's end offset when no restored record is at or after C.
 */
import { ClusterClient } from "../client/bootstrap.ts";
import { commitGroupOffsets, createTopic, type CommittedOffset } from "../client/admin.ts";
import { describeFailure, listOffset, OffsetSpec, type PartitionResult, produceBatch } from "../client/partition-io.ts";
import { joinPath } from "../platform/fs.ts";
import { ErrorCode } from "../protocol/errors.ts";
import type { BackupEnv } from "./create.ts";
import { BackupFailure } from "./create.ts";
import type { BackupKey } from "./crypto.ts";
import type { Manifest, TopicEntry } from "./format.ts";
import { BackupError, backupIds, loadChain, partitionChain, readPartitionChunks } from "./reader.ts";
import { OffsetMap, planBatch, type TransactionScan, TransactionScanner } from "./restore-plan.ts";

export interface RestoreOptions {
  readonly bootstrap: string;
  readonly dir: string;
  readonly key: BackupKey | null;
  readonly topics: RegExp;
  /** Source topic → target topic. */
  readonly rename: ReadonlyMap<string, string>;
  readonly untilMs: number | null;
  readonly backupId: string | null;
  readonly keepProducerIds: boolean;
}

export interface RestoreSummary {
  readonly backupId: string;
  readonly topics: number;
  readonly partitions: number;
  readonly batches: number;
  readonly rebuiltBatches: number;
  readonly skippedBatches: number;
  readonly records: number;
  readonly bytes: number;
  readonly groups: number;
  /** Committed offsets whose value changed on the way (offsets shifted or clamped). */
  readonly translatedOffsets: number;
  readonly durationMs: number;
}

/** Produce requests in flight per partition. */
export const produceWindow = 4;

interface Job {
  readonly topic: TopicEntry;
  readonly target: string;
}

export async function restoreBackup(env: BackupEnv, options: RestoreOptions): Promise<RestoreSummary> {
  const started = env.clock.monotonicMs();
  const ids = backupIds(env.fs, options.dir);
  const id = options.backupId ?? ids[ids.length - 1];
  if (id === undefined) throw new BackupFailure(`no backup in ${options.dir}`);
  if (!ids.includes(id)) throw new BackupFailure(`no backup ${id} in ${options.dir} (bunka backup list --from ${options.dir})`);
  let chain: Manifest[];
  try {
    chain = await loadChain(env.fs, options.dir, id, options.key);
  } catch (e) {
    if (e instanceof BackupError) throw new BackupFailure(e.message);
    throw e;
  }
  const head = chain[chain.length - 1] as Manifest;
  for (const m of chain) {
    if (m.encryption !== null && options.key === null) throw new BackupFailure(`backup ${m.id} is encrypted (key id ${m.encryption.keyId}): give its key with --encryption-key-file`);
  }
  const jobs: Job[] = head.topics.filter((t) => options.topics.test(t.name)).map((t) => ({ topic: t, target: options.rename.get(t.name) ?? t.name }));
  for (const from of options.rename.keys()) if (!head.topics.some((t) => t.name === from)) throw new BackupFailure(`--rename ${from}: backup ${id} has no topic ${from}`);

  // 1. Pre-flight: read and check everything, scan transactions.
  const scans = new Map<string, TransactionScan>();
  try {
    for (const job of jobs) {
      for (const p of job.topic.partitions) {
        const scanner = new TransactionScanner();
        for (const piece of partitionChain(chain, job.topic.name, p.partition)) {
          for await (const c of readPartitionChunks(env.fs, env.compression, joinPath(options.dir, piece.manifest.id), piece.manifest, job.topic.name, piece.entry, options.key)) {
            for (const b of c.batches) scanner.add(b);
          }
        }
        const scan = scanner.finish();
        if (scan.unterminated.size > 0) env.note?.(`note: ${job.topic.name}-${p.partition}: transactions of producers ${[...scan.unterminated].join(", ")} had no marker when backed up; their records are not restored`);
        scans.set(`${job.topic.name}\0${p.partition}`, scan);
      }
    }
  } catch (e) {
    if (e instanceof BackupError) throw new BackupFailure(`pre-flight check failed, nothing written: ${e.message}`);
    throw e;
  }

  const connected = await ClusterClient.connect({ network: env.network, clock: env.clock, prng: env.prng, bootstrapServers: options.bootstrap, config: { clientId: "bunka-restore" } });
  if (!connected.ok) throw new BackupFailure(`cannot reach ${options.bootstrap}: ${connected.error.message}`);
  const cluster = connected.value;
  try {
    // 2. Target checks.
    const meta = await cluster.refreshMetadata(jobs.map((j) => j.target));
    if (!meta.ok) throw new BackupFailure(`Metadata on the target failed: ${meta.error.message}`);
    const toCreate: Job[] = [];
    for (const job of jobs) {
      const t = meta.value.topics.find((x) => x.name === job.target);
      if (t === undefined || t.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) {
        toCreate.push(job);
        continue;
      }
      if (t.errorCode !== ErrorCode.NONE) throw new BackupFailure(`target topic ${job.target}: ${describeFailure({ errorCode: t.errorCode, message: "" })}`);
      if (t.partitions.length < job.topic.partitionCount) throw new BackupFailure(`target topic ${job.target} has ${t.partitions.length} partitions, the backup has ${job.topic.partitionCount}: delete it or restore with --rename`);
      for (const p of t.partitions) {
        const ref = { topic: job.target, partition: p.partitionIndex };
        const first = must(await listOffset(cluster, ref, OffsetSpec.earliest), `ListOffsets ${job.target}-${p.partitionIndex}`);
        const end = must(await listOffset(cluster, ref, OffsetSpec.latest), `ListOffsets ${job.target}-${p.partitionIndex}`);
        if (end > first) throw new BackupFailure(`target topic ${job.target} already holds records (partition ${p.partitionIndex}: offsets ${first}..${end - 1}); restore refuses to mix them with the backup's: delete the topic or restore with --rename`);
      }
    }
    // 3. Create missing topics.
    const brokers = Math.max(1, cluster.brokers.length);
    for (const job of toCreate) {
      const configs = new Map(Object.entries(job.topic.configs));
      const rf = Math.min(job.topic.replicationFactor, brokers);
      if (rf < job.topic.replicationFactor) env.note?.(`note: ${job.target}: replication factor ${rf} (the backup's was ${job.topic.replicationFactor}; the target has ${brokers} brokers)`);
      const r = await createTopic(cluster, { name: job.target, numPartitions: job.topic.partitionCount, replicationFactor: rf, configs });
      if (!r.ok) throw new BackupFailure(`CreateTopics ${job.target}: ${describeFailure(r.error)}`);
    }
    await waitForLeaders(env, cluster, jobs.map((j) => j.target));

    // 4. Produce.
    const maps = new Map<string, OffsetMap>();
    const totals = { partitions: 0, batches: 0, rebuilt: 0, skipped: 0, records: 0, bytes: 0 };
    for (const job of jobs) {
      for (const p of job.topic.partitions) {
        const ref = { topic: job.target, partition: p.partition };
        const start = must(await listOffset(cluster, ref, OffsetSpec.latest), `ListOffsets ${job.target}-${p.partition}`);
        const map = new OffsetMap(start);
        maps.set(`${job.topic.name}\0${p.partition}`, map);
        const ctx = { transactions: scans.get(`${job.topic.name}\0${p.partition}`) as TransactionScan, untilMs: options.untilMs, keepProducerIds: options.keepProducerIds, compression: env.compression };
        const window: { promise: Promise<PartitionResult<number>>; srcFirst: number; count: number; srcOffsets: number[] | null }[] = [];
        const settle = async (): Promise<void> => {
          const w = window.shift();
          if (w === undefined) return;
          const r = await w.promise;
          if (!r.ok) throw new BackupFailure(`Produce to ${job.target}-${p.partition} (source offset ${w.srcFirst}) failed: ${describeFailure(r.error)}; the restore stopped there (offsets before it are in the target)`);
          map.add(w.srcFirst, w.count, w.srcOffsets, r.value);
        };
        let stopped = false;
        try {
          for (const piece of partitionChain(chain, job.topic.name, p.partition)) {
            if (stopped) break;
            for await (const c of readPartitionChunks(env.fs, env.compression, joinPath(options.dir, piece.manifest.id), piece.manifest, job.topic.name, piece.entry, options.key)) {
              for (const b of c.batches) {
                const plan = planBatch(b, ctx);
                if (plan.kind === "skip") {
                  totals.skipped++;
                  continue;
                }
                if (plan.kind === "stop") {
                  stopped = true;
                  break;
                }
                if (window.length >= produceWindow) await settle();
                window.push({ promise: produceBatch(cluster, ref, plan.bytes), srcFirst: plan.srcFirst, count: plan.count, srcOffsets: plan.srcOffsets });
                totals.batches++;
                if (plan.rebuilt) totals.rebuilt++;
                totals.records += plan.count;
                totals.bytes += plan.bytes.length;
                if (plan.last) {
                  stopped = true;
                  break;
                }
              }
              if (stopped) break;
            }
          }
          while (window.length > 0) await settle();
        } finally {
          // Let requests already written finish before the connection closes.
          await Promise.allSettled(window.map((w) => w.promise));
        }
        totals.partitions++;
        env.note?.(`${job.topic.name}-${p.partition} → ${job.target}: offsets up to ${map.targetEnd}${map.shifted ? " (shifted from the source's)" : ""}`);
      }
    }

    // 5. Group offsets.
    const selected = new Map(jobs.map((j) => [j.topic.name, j.target]));
    let groups = 0;
    let translated = 0;
    for (const g of head.groups) {
      const offsets: CommittedOffset[] = [];
      for (const o of g.offsets) {
        const target = selected.get(o.topic);
        const map = maps.get(`${o.topic}\0${o.partition}`);
        if (target === undefined || map === undefined) continue;
        const offset = map.translate(o.offset);
        if (offset !== o.offset) translated++;
        offsets.push({ topic: target, partition: o.partition, offset, leaderEpoch: offset === o.offset ? o.leaderEpoch : -1, metadata: o.metadata });
      }
      if (offsets.length === 0) continue;
      const r = await commitGroupOffsets(cluster, g.groupId, offsets, env.sleep);
      if (!r.ok) throw new BackupFailure(`committing offsets of group ${g.groupId}: ${describeFailure(r.error)} (a group with active members in the target refuses them)`);
      groups++;
    }
    return {
      backupId: id,
      topics: jobs.length,
      partitions: totals.partitions,
      batches: totals.batches,
      rebuiltBatches: totals.rebuilt,
      skippedBatches: totals.skipped,
      records: totals.records,
      bytes: totals.bytes,
      groups,
      translatedOffsets: translated,
      durationMs: env.clock.monotonicMs() - started,
    };
  } finally {
    cluster.close();
  }
}

function must<T>(r: PartitionResult<T>, what: string): T {
  if (!r.ok) throw new BackupFailure(`${what}: ${describeFailure(r.error)}`);
  return r.value;
}

const leaderWaitMs = 30_000;

async function waitForLeaders(env: BackupEnv, cluster: ClusterClient, topics: readonly string[]): Promise<void> {
  if (topics.length === 0) return;
  const deadline = env.clock.monotonicMs() + leaderWaitMs;
  for (;;) {
    const r = await cluster.refreshMetadata(topics);
    if (r.ok) {
      const ready = topics.every((name) => {
        const t = r.value.topics.find((x) => x.name === name);
        return t !== undefined && t.errorCode === ErrorCode.NONE && t.partitions.length > 0 && t.partitions.every((p) => p.leaderId >= 0);
      });
      if (ready) return;
    }
    if (env.clock.monotonicMs() > deadline) throw new BackupFailure(`topics ${topics.join(", ")} have no leaders ${leaderWaitMs} ms after creation`);
    await env.sleep(100);
  }
}
