/**
 * A metadata image as the content of a metadata snapshot (KIP-630), and back: what every
 * node writes when it snapshots its image (raft-store.ts) and reads when it starts from, or
 * installs, a snapshot. The Raft layer stores and ships the bytes without reading them.
 *
 * Content: v2 record batches of metadata records in the log's own form (records.ts: key =
 * the record type, value = its JSON), at most `snapshotBatchRecordsMax` records and about
 * `snapshotBatchBytesMax` bytes per batch. The records re-express the image, not its history:
 *   - one `registerBroker` per broker, with its fencing state (no `brokerFencing`);
 *   - per topic, a `topic` record then one `partition` record per partition, in partition
 *     order, carrying the partition's leader epoch and partition epoch as they are, and its
 *     ongoing reassignment's adding and removing replicas;
 *   - one `config` record per explicitly set value;
 *   - one `featureLevel` per finalized feature;
 *   - one `acl` per ACL binding, with its id;
 *   - one `producerIds` when a block was ever handed out. The image keeps only where the next
 *     block starts, not who took the last one: the record names broker 0, epoch -1.
 * Each kind follows the image's map order, so the image read back iterates its topics,
 * brokers, configs and features in the same order as the one written (Metadata responses
 * list topics in that order).
 *
 * The image read back is at offset `endOffset - 1` (the last log offset the snapshot covers):
 * an image replayed from the log over the same records stands at the offset of its last
 * metadata record, which may be lower when control batches (LEADER_CHANGE) follow it. No
 * decision depends on the difference: offsets only ever compare as "has applied at least".
 */
import { buildRecordBatch } from "../protocol/records/builder.ts";
import { walkBatches } from "../protocol/records/record-batch.ts";
import { type ConfigResourceType, MetadataDelta, MetadataImage, MetadataReplayError } from "./image.ts";
import { METADATA_BATCH_BYTES_MAX } from "./log-store.ts";
import { decodeMetadataRecord, encodeMetadataRecord, type MetadataRecord } from "./records.ts";

/** Records per batch of a snapshot's content. */
export const snapshotBatchRecordsMax = 4096;
/** A batch is closed once its record values pass this many bytes (one record may exceed it alone). */
export const snapshotBatchBytesMax = 1 << 20;

/** The image as metadata records that, replayed onto the empty image, give it back (see the module doc). */
export function imageRecords(image: MetadataImage): MetadataRecord[] {
  const out: MetadataRecord[] = [];
  for (const b of image.brokers.values()) {
    out.push({
      type: "registerBroker",
      brokerId: b.brokerId,
      incarnationId: b.incarnationId,
      brokerEpoch: b.brokerEpoch,
      endpoints: b.endpoints.map((e) => ({ ...e })),
      rack: b.rack,
      fenced: b.fenced,
    });
  }
  for (const t of image.topicsById.values()) {
    out.push({ type: "topic", name: t.name, topicId: t.topicId });
    for (const p of t.partitions) {
      out.push({
        type: "partition",
        topicId: p.topicId,
        partition: p.partition,
        replicas: p.replicas.slice(),
        isr: p.isr.slice(),
        leader: p.leader,
        leaderEpoch: p.leaderEpoch,
        partitionEpoch: p.partitionEpoch,
        ...(p.addingReplicas === undefined ? {} : { addingReplicas: p.addingReplicas.slice() }),
        ...(p.removingReplicas === undefined ? {} : { removingReplicas: p.removingReplicas.slice() }),
      });
    }
  }
  for (const [key, values] of image.configs) {
    const { resourceType, resourceName } = parseConfigKey(key);
    for (const [name, value] of values) out.push({ type: "config", resourceType, resourceName, name, value });
  }
  for (const [name, level] of image.features) out.push({ type: "featureLevel", name, level });
  if (image.nextProducerId > 0) out.push({ type: "producerIds", brokerId: 0, brokerEpoch: -1, nextProducerId: image.nextProducerId });
  for (const binding of image.acls.values()) out.push({ type: "acl", ...binding });
  return out;
}

/**
 * The image `records` describe (as `imageRecords` gives them), at `offset`. Throws
 * MetadataReplayError (at `offset`, naming the record's position) when they do not describe one.
 */
export function imageFromRecords(records: readonly MetadataRecord[], offset: number): MetadataImage {
  const delta = new MetadataDelta(MetadataImage.EMPTY);
  records.forEach((record, i) => {
    try {
      delta.replay(record, i);
    } catch (e) {
      if (e instanceof MetadataReplayError) throw new MetadataReplayError(offset, `snapshot record ${i}: ${e.message}`);
      throw e;
    }
  });
  return delta.apply().withOffset(offset);
}

/** Snapshot content (whole v2 batches, see the module doc) for `image`; empty for an empty image. */
export function encodeImageSnapshot(image: MetadataImage, timestampMs: number): Uint8Array {
  const batches: Uint8Array[] = [];
  let pending: { key: Uint8Array; value: Uint8Array; timestamp: number }[] = [];
  let pendingBytes = 0;
  const close = (): void => {
    if (pending.length === 0) return;
    const batch = buildRecordBatch(pending);
    if (batch.length > METADATA_BATCH_BYTES_MAX) throw new Error(`a metadata snapshot batch of ${batch.length} bytes exceeds ${METADATA_BATCH_BYTES_MAX}`);
    batches.push(batch);
    pending = [];
    pendingBytes = 0;
  };
  for (const record of imageRecords(image)) {
    const encoded = encodeMetadataRecord(record);
    pending.push({ ...encoded, timestamp: timestampMs });
    pendingBytes += encoded.key.length + encoded.value.length;
    if (pending.length >= snapshotBatchRecordsMax || pendingBytes >= snapshotBatchBytesMax) close();
  }
  close();
  const size = batches.reduce((n, b) => n + b.length, 0);
  const out = new Uint8Array(size);
  let at = 0;
  for (const b of batches) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** The records of snapshot content, in order. Throws MetadataReplayError (at `offset`) for anything malformed. */
export function decodeSnapshotRecords(content: Uint8Array, offset: number): MetadataRecord[] {
  const walk = walkBatches(content, { verifyCrc: true, requireDenseOffsets: false, maxBatchBytes: METADATA_BATCH_BYTES_MAX });
  if (walk.problem !== null) throw new MetadataReplayError(offset, `snapshot content: ${walk.problem} at byte ${walk.validBytes} of ${content.length}`);
  const out: MetadataRecord[] = [];
  for (const batch of walk.batches) {
    if (batch.isControl) throw new MetadataReplayError(offset, `snapshot content: a control batch (offset ${batch.baseOffset} in the snapshot)`);
    for (const r of batch.records({ maxBytes: METADATA_BATCH_BYTES_MAX })) {
      if (r.value === null) throw new MetadataReplayError(offset, `snapshot record ${out.length} without a value`);
      const decoded = decodeMetadataRecord(r.value);
      if (!decoded.ok) throw new MetadataReplayError(offset, `snapshot record ${out.length}: ${decoded.reason}`);
      out.push(decoded.record);
    }
  }
  return out;
}

/** The image held by snapshot content whose last covered log offset is `offset`. Throws MetadataReplayError. */
export function decodeImageSnapshot(content: Uint8Array, offset: number): MetadataImage {
  return imageFromRecords(decodeSnapshotRecords(content, offset), offset);
}

function parseConfigKey(key: string): { resourceType: ConfigResourceType; resourceName: string } {
  const colon = key.indexOf(":");
  const type = key.slice(0, colon);
  if (colon < 0 || (type !== "topic" && type !== "broker")) throw new Error(`metadata image config key ${JSON.stringify(key)} names no resource type`);
  return { resourceType: type, resourceName: key.slice(colon + 1) };
}
