/**
 * Golden requests: frames captured from real Kafka clients (kcat and confluent-kafka-python
 * on librdkafka 2.0.2, kafka-python, kafkajs, @platformatic/kafka) by scripts/capture.ts and
 * the drivers in test/golden/drivers/ (how each was made: test/golden/README.md).
 *
 * For every fixture `test/golden/<client>/<scenario>/<api>-v<version>-<n>.bin`:
 * - `decodeRequestFrame` decodes it with no trailing bytes, and the api key and version are
 *   the ones in the file name;
 * - the fields that matter for that API hold what the driver asked for (client id, topic,
 *   group, acks, member id rules, the produced records decoded from the batch, ...);
 * - `encodeRequest` gives back exactly the captured bytes.
 * A corpus check makes the suite fail if fixtures of an API or a client go missing.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { bunCompression } from "../../../src/platform/bun/compression.ts";
import { ZERO_UUID_TEXT } from "../../../src/protocol/codec/uuid.ts";
import { flattenChunks } from "../../../src/protocol/codec/writer.ts";
import { type DecodedRequest, decodeRequestFrame, encodeRequest } from "../../../src/protocol/frame.ts";
import { type ApiKey, ApiKeys, apiSpec, apis } from "../../../src/protocol/messages/index.ts";
import type { CompressionCodecName } from "../../../src/protocol/records/compression.ts";
import { batchLogOverheadBytes, RecordBatchView } from "../../../src/protocol/records/record-batch.ts";

const goldenDir = join(import.meta.dir, "../../golden");
const decoder = new TextDecoder();
const text = (b: Uint8Array | null): string | null => (b === null ? null : decoder.decode(b));

/** What each client's driver sends (see test/golden/drivers/). */
interface ClientExpectations {
  clientId: string;
  topic: string;
  group: string;
  /** ApiVersions v3+ ClientSoftwareName / ClientSoftwareVersion. */
  software: readonly [string, string] | null;
  /** The headers the driver puts on produced record i (1-based). */
  recordHeaders: (i: number) => [string, string][];
  /**
   * [producerEpoch, baseSequence] of a non-idempotent batch (producerId -1): librdkafka and
   * kafka-python write -1/-1, kafkajs and @platformatic/kafka 0/0. Kafka ignores both
   * when the producer id is -1, so a broker must too.
   */
  plainEpochSequence: readonly [number, number];
}

const noHeaders = (): [string, string][] => [];
const headerH = (i: number): [string, string][] => [["h", `v${i}`]];
/** kcat's produce drivers add this header so that gzip and lz4 actually shrink the batch. */
const kcatPad = (): [string, string][] => [["pad", "x".repeat(64)]];

const clients: Readonly<Record<string, ClientExpectations>> = {
  kcat: {
    clientId: "golden-kcat",
    topic: "golden",
    group: "golden-kcat-group",
    software: ["librdkafka", "2.0.2"],
    recordHeaders: kcatPad,
    plainEpochSequence: [-1, -1],
  },
  "confluent-python": {
    clientId: "golden-confluent",
    topic: "golden-py",
    group: "golden-py-group",
    software: ["confluent-kafka-python", "1.7.0-rdkafka-2.0.2"],
    recordHeaders: noHeaders,
    plainEpochSequence: [-1, -1],
  },
  "kafka-python": {
    clientId: "golden-kafka-python",
    topic: "golden-kp",
    group: "golden-kp-group",
    software: null,
    recordHeaders: noHeaders,
    plainEpochSequence: [-1, -1],
  },
  kafkajs: { clientId: "golden-kafkajs", topic: "golden-js", group: "golden-js-group", software: null, recordHeaders: headerH, plainEpochSequence: [0, 0] },
  platformatic: {
    clientId: "golden-platformatic",
    topic: "golden-pt",
    group: "golden-pt-group",
    software: ["platformatic-kafka", "2.12.1"],
    recordHeaders: headerH,
    plainEpochSequence: [0, 0],
  },
};

/** The member id scripts/capture.ts hands out. */
const capturedMemberId = /^capture-member-\d+$/;
/** The timestamp the kcat/query driver asks offsets for. */
const queryTimestampMs = 1_700_000_000_000;
/** The fetch session id scripts/capture.ts hands out. */
const capturedFetchSessionId = 4242;
/** scripts/capture.ts answers InitProducerId with this producer id, epoch 0. */
const capturedProducerId = 1000;

interface Fixture {
  /** Path relative to test/golden. */
  name: string;
  client: string;
  scenario: string;
  apiKey: ApiKey;
  version: number;
  n: number;
  bytes: Uint8Array;
}

const apiKeyByFileName = new Map<string, ApiKey>(apis.map((a) => [a.name.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase(), a.apiKey as ApiKey]));

function walk(dir: string, out: string[]): string[] {
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith(".bin")) out.push(p);
  }
  return out;
}

function loadFixtures(): Fixture[] {
  return walk(goldenDir, [])
    .sort()
    .map((path) => {
      const name = relative(goldenDir, path);
      const parts = name.split("/");
      const m = /^([a-z-]+)-v(\d+)-(\d+)\.bin$/.exec(parts[parts.length - 1] ?? "");
      if (parts.length !== 3 || m === null) throw new Error(`golden fixture ${name}: expected <client>/<scenario>/<api>-v<version>-<n>.bin`);
      const apiKey = apiKeyByFileName.get(m[1] ?? "");
      if (apiKey === undefined) throw new Error(`golden fixture ${name}: unknown api ${m[1]}`);
      return {
        name,
        client: parts[0] ?? "",
        scenario: parts[1] ?? "",
        apiKey,
        version: Number(m[2]),
        n: Number(m[3]),
        bytes: new Uint8Array(readFileSync(path)),
      };
    });
}

// ---------------------------------------------------------------------------------------
// The consumer protocol (the opaque bytes of JoinGroup metadata and SyncGroup assignments),
// read with its own small parser so these checks do not lean on code under test.

class ConsumerProtocolReader {
  private p = 0;
  private readonly view: DataView;
  constructor(private readonly b: Uint8Array) {
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  int16(): number {
    const v = this.view.getInt16(this.p);
    this.p += 2;
    return v;
  }
  int32(): number {
    const v = this.view.getInt32(this.p);
    this.p += 4;
    return v;
  }
  string(): string {
    const n = this.int16();
    if (n < 0 || this.p + n > this.b.length) throw new Error(`consumer protocol: string length ${n} at ${this.p}`);
    const s = decoder.decode(this.b.subarray(this.p, this.p + n));
    this.p += n;
    return s;
  }
  count(): number {
    const n = this.int32();
    if (n < 0 || n > this.b.length) throw new Error(`consumer protocol: array length ${n}`);
    return n;
  }
  get remaining(): number {
    return this.b.length - this.p;
  }
}

/** ConsumerProtocolSubscription: version, topics (then user data and later fields). */
function subscriptionTopics(metadata: Uint8Array): { version: number; topics: string[] } {
  const r = new ConsumerProtocolReader(metadata);
  const version = r.int16();
  const topics: string[] = [];
  for (let i = r.count(); i > 0; i--) topics.push(r.string());
  expect(r.remaining).toBeGreaterThanOrEqual(4); // user data length follows
  return { version, topics };
}

/** ConsumerProtocolAssignment: version, [topic, partitions[]] (then user data). */
function assignmentPartitions(assignment: Uint8Array): { version: number; partitions: [string, number[]][] } {
  const r = new ConsumerProtocolReader(assignment);
  const version = r.int16();
  const partitions: [string, number[]][] = [];
  for (let i = r.count(); i > 0; i--) {
    const topic = r.string();
    const ids: number[] = [];
    for (let j = r.count(); j > 0; j--) ids.push(r.int32());
    partitions.push([topic, ids]);
  }
  expect(r.remaining).toBeGreaterThanOrEqual(4);
  return { version, partitions };
}

// ---------------------------------------------------------------------------------------
// Per-API expectations.

function compressionOf(scenario: string): CompressionCodecName {
  const m = /-(gzip|snappy|lz4|zstd)$/.exec(scenario)?.[1];
  return m === "gzip" || m === "snappy" || m === "lz4" || m === "zstd" ? m : "none";
}

/** Every batch in a records field: views must tile it exactly, as the headers say. */
function batchesOf(records: Uint8Array): RecordBatchView[] {
  const views: RecordBatchView[] = [];
  let position = 0;
  while (position < records.length) {
    const view = RecordBatchView.at(records, position);
    expect(view.sizeInBytes).toBe(view.batchLength + batchLogOverheadBytes);
    position += view.sizeInBytes;
    views.push(view);
  }
  expect(position).toBe(records.length);
  return views;
}

function checkProduce(f: Fixture, c: ClientExpectations, req: DecodedRequest & { apiKey: 0 }): void {
  const body = req.body;
  expect(body.acks).toBe(-1);
  expect(body.timeoutMs).toBeGreaterThan(0);
  expect(body.transactionalId).toBeNull();
  expect(body.topicData.map((t) => t.name)).toEqual([c.topic]);
  const partitions = body.topicData[0]?.partitionData ?? [];
  expect(partitions.map((p) => p.index)).toEqual([0]);
  const records = partitions[0]?.records ?? null;
  expect(records).not.toBeNull();
  if (records === null) return;
  const batches = batchesOf(records);
  expect(batches.length).toBe(1);
  const batch = batches[0]!;
  expect(batch.magic).toBe(2);
  expect(batch.verifyCrc()).toBe(true);
  expect(batch.compression).toBe(compressionOf(f.scenario));
  expect(batch.isTransactional).toBe(false);
  expect(batch.isControl).toBe(false);
  expect(batch.timestampType).toBe("CreateTime");
  expect(batch.baseOffset).toBe(0);
  expect(batch.recordCount).toBe(3);
  expect(batch.lastOffsetDelta).toBe(2);
  if (f.scenario.includes("idempotent")) {
    expect([batch.producerId, batch.producerEpoch, batch.baseSequence]).toEqual([capturedProducerId, 0, 0]);
  } else {
    expect([batch.producerId, batch.producerEpoch, batch.baseSequence]).toEqual([-1, ...c.plainEpochSequence]);
  }
  const decoded = batch.records({ maxBytes: 1 << 20, compression: bunCompression });
  expect(decoded.map((r) => text(r.key))).toEqual(["k1", "k2", "k3"]);
  expect(decoded.map((r) => text(r.value))).toEqual(["golden-1", "golden-2", "golden-3"]);
  expect(decoded.map((r) => r.offsetDelta)).toEqual([0, 1, 2]);
  expect(decoded.map((r) => r.headers.map((h) => [h.key, text(h.value)]))).toEqual([1, 2, 3].map(c.recordHeaders));
  for (const r of decoded) {
    expect(r.timestamp).toBeGreaterThanOrEqual(batch.baseTimestamp);
    expect(r.timestamp).toBeLessThanOrEqual(batch.maxTimestamp);
  }
}

function checkFields(f: Fixture, c: ClientExpectations, req: DecodedRequest): void {
  const v = req.apiVersion;
  switch (req.apiKey) {
    case ApiKeys.ApiVersions: {
      const expected = v >= 3 ? c.software : null;
      expect([req.body.clientSoftwareName, req.body.clientSoftwareVersion]).toEqual(expected === null ? ["", ""] : [expected[0], expected[1]]);
      return;
    }
    case ApiKeys.Metadata: {
      const topics = req.body.topics;
      if (topics !== null) {
        for (const t of topics) {
          expect(t.name).toBe(c.topic);
          expect(t.topicId).toBe(ZERO_UUID_TEXT);
        }
      } else {
        expect(v).toBeGreaterThanOrEqual(1); // null ("all topics") exists from v1
      }
      expect(req.body.includeClusterAuthorizedOperations).toBe(false);
      return;
    }
    case ApiKeys.Produce:
      checkProduce(f, c, req);
      return;
    case ApiKeys.Fetch: {
      const b = req.body;
      expect(v >= 15 ? b.replicaState.replicaId : b.replicaId).toBe(-1);
      expect(b.maxBytes).toBeGreaterThan(0);
      expect(b.minBytes).toBeGreaterThanOrEqual(0);
      expect(b.maxWaitMs).toBeGreaterThanOrEqual(0);
      expect([0, 1]).toContain(b.isolationLevel);
      expect(b.forgottenTopicsData).toEqual([]);
      expect(b.topics.length).toBe(1);
      const t = b.topics[0]!;
      if (v >= 13) {
        expect(t.topic).toBe("");
        expect(t.topicId).not.toBe(ZERO_UUID_TEXT);
      } else {
        expect(t.topic).toBe(c.topic);
        expect(t.topicId).toBe(ZERO_UUID_TEXT);
      }
      if (f.n === 1) {
        // A full fetch: sessionless (epoch -1) or asking for a new session (epoch 0).
        expect(b.sessionId).toBe(0);
        expect([-1, 0]).toContain(b.sessionEpoch);
        expect(t.partitions.map((p) => [p.partition, p.fetchOffset])).toEqual([[0, 0]]);
      } else {
        // An incremental fetch in the session the capture broker handed out, after the one
        // record at offset 0 was received (KIP-227).
        expect(v).toBeGreaterThanOrEqual(7);
        expect(b.sessionId).toBe(capturedFetchSessionId);
        expect(b.sessionEpoch).toBeGreaterThanOrEqual(1);
        expect(t.partitions.map((p) => [p.partition, p.fetchOffset])).toEqual([[0, 1]]);
      }
      expect(t.partitions[0]!.partitionMaxBytes).toBeGreaterThan(0);
      return;
    }
    case ApiKeys.ListOffsets: {
      const b = req.body;
      expect(b.replicaId).toBe(-1);
      expect(b.topics.map((t) => t.name)).toEqual([c.topic]);
      const p = b.topics[0]!.partitions;
      expect(p.map((x) => x.partitionIndex)).toEqual([0]);
      // -1 latest, -2 earliest; kcat -Q asks for a timestamp.
      if (f.scenario === "query") expect(p[0]!.timestamp).toBe(queryTimestampMs);
      else expect([-1, -2]).toContain(p[0]!.timestamp);
      return;
    }
    case ApiKeys.FindCoordinator: {
      expect(req.body.keyType).toBe(0);
      if (v >= 4) {
        expect(req.body.coordinatorKeys).toEqual([c.group]);
        expect(req.body.key).toBe("");
      } else {
        expect(req.body.key).toBe(c.group);
        expect(req.body.coordinatorKeys).toEqual([]);
      }
      return;
    }
    case ApiKeys.JoinGroup: {
      const b = req.body;
      expect(b.groupId).toBe(c.group);
      expect(b.protocolType).toBe("consumer");
      expect(b.groupInstanceId).toBeNull();
      expect(b.sessionTimeoutMs).toBeGreaterThan(0);
      if (v >= 1) expect(b.rebalanceTimeoutMs).toBeGreaterThanOrEqual(b.sessionTimeoutMs);
      // Member id rules (KIP-394): a new member joins with "", and from v4 the coordinator
      // answers MEMBER_ID_REQUIRED with an id the member must rejoin with.
      if (f.n === 1) expect(b.memberId).toBe("");
      else {
        expect(v).toBeGreaterThanOrEqual(4);
        expect(b.memberId).toMatch(capturedMemberId);
      }
      expect(b.protocols.length).toBeGreaterThan(0);
      for (const p of b.protocols) {
        expect(p.name.length).toBeGreaterThan(0);
        const sub = subscriptionTopics(p.metadata);
        expect(sub.version).toBeGreaterThanOrEqual(0);
        expect(sub.topics).toEqual([c.topic]);
      }
      return;
    }
    case ApiKeys.SyncGroup: {
      const b = req.body;
      expect(b.groupId).toBe(c.group);
      expect(b.generationId).toBe(1);
      expect(b.memberId).toMatch(capturedMemberId);
      if (v >= 5) {
        expect(b.protocolType).toBe("consumer");
        expect(b.protocolName).not.toBeNull();
      }
      // The capture broker makes the member the leader, so it sends the assignment.
      expect(b.assignments.map((a) => a.memberId)).toEqual([b.memberId]);
      expect(assignmentPartitions(b.assignments[0]!.assignment).partitions).toEqual([[c.topic, [0]]]);
      return;
    }
    case ApiKeys.Heartbeat:
      expect([req.body.groupId, req.body.generationId, req.body.groupInstanceId]).toEqual([c.group, 1, null]);
      expect(req.body.memberId).toMatch(capturedMemberId);
      return;
    case ApiKeys.LeaveGroup:
      expect(req.body.groupId).toBe(c.group);
      if (v >= 3) {
        expect(req.body.memberId).toBe("");
        expect(req.body.members.length).toBe(1);
        expect(req.body.members[0]!.memberId).toMatch(capturedMemberId);
      } else {
        expect(req.body.memberId).toMatch(capturedMemberId);
        expect(req.body.members).toEqual([]);
      }
      return;
    case ApiKeys.OffsetCommit: {
      const b = req.body;
      expect([b.groupId, b.generationIdOrMemberEpoch]).toEqual([c.group, 1]);
      expect(b.memberId).toMatch(capturedMemberId);
      expect(b.topics.map((t) => t.name)).toEqual([c.topic]);
      // The one record served at offset 0 was consumed: the next offset to read is 1.
      expect(b.topics[0]!.partitions.map((p) => [p.partitionIndex, p.committedOffset])).toEqual([[0, 1]]);
      return;
    }
    case ApiKeys.OffsetFetch: {
      const b = req.body;
      if (v >= 8) {
        expect(b.groupId).toBe("");
        expect(b.groups.map((g) => g.groupId)).toEqual([c.group]);
        expect(b.groups[0]!.topics).toEqual([{ name: c.topic, partitionIndexes: [0], _unknownTaggedFields: undefined }]);
      } else {
        expect(b.groupId).toBe(c.group);
        expect(b.topics).toEqual([{ name: c.topic, partitionIndexes: [0], _unknownTaggedFields: undefined }]);
      }
      return;
    }
    case ApiKeys.CreateTopics: {
      const b = req.body;
      expect(b.topics.map((t) => [t.name, t.numPartitions, t.replicationFactor])).toEqual([[c.topic, 1, 1]]);
      expect(b.topics[0]!.assignments).toEqual([]);
      expect(b.timeoutMs).toBeGreaterThan(0);
      expect(b.validateOnly).toBe(false);
      return;
    }
    case ApiKeys.DeleteTopics:
      if (v >= 6) {
        expect(req.body.topics.map((t) => [t.name, t.topicId])).toEqual([[c.topic, ZERO_UUID_TEXT]]);
      } else {
        expect(req.body.topicNames).toEqual([c.topic]);
      }
      expect(req.body.timeoutMs).toBeGreaterThan(0);
      return;
    case ApiKeys.InitProducerId:
      expect(req.body.transactionalId).toBeNull();
      // Not transactional: librdkafka sends -1, @platformatic/kafka its 5 s default.
      expect(req.body.transactionTimeoutMs === -1 || req.body.transactionTimeoutMs > 0).toBe(true);
      // @platformatic/kafka sends 0/0 rather than Kafka's -1/-1 "no producer yet".
      expect([[-1, -1], [0, 0]]).toContainEqual([req.body.producerId, req.body.producerEpoch]);
      return;
    case ApiKeys.DescribeConfigs: {
      const r = req.body.resources;
      const topicResourceType = 2;
      expect(r.map((x) => [x.resourceType, x.resourceName])).toEqual([[topicResourceType, c.topic]]);
      // null asks for every config; the JS drivers ask for retention.ms only.
      expect([null, ["retention.ms"]]).toContainEqual(r[0]!.configurationKeys);
      expect(req.body.includeDocumentation).toBe(false);
      return;
    }
    case ApiKeys.ListGroups:
      expect(req.body.statesFilter).toEqual([]);
      // v5 type filter: @platformatic/kafka asks for classic groups only.
      expect([[], ["classic"]]).toContainEqual(req.body.typesFilter);
      return;
    case ApiKeys.DescribeGroups:
      expect(req.body.groups).toEqual([c.group]);
      expect(req.body.includeAuthorizedOperations).toBe(false);
      return;
    default:
      throw new Error(`golden fixture ${f.name}: no field checks for api key ${req.apiKey}; add them`);
  }
}

/** Paths of every non-empty `_unknownTaggedFields` in a decoded body (none of these clients sends any). */
function unknownTaggedFieldPaths(value: unknown, path: string, out: string[]): string[] {
  if (Array.isArray(value)) value.forEach((x, i) => unknownTaggedFieldPaths(x, `${path}[${i}]`, out));
  else if (value !== null && typeof value === "object" && !(value instanceof Uint8Array)) {
    for (const [k, v] of Object.entries(value)) {
      if (k === "_unknownTaggedFields") {
        if (Array.isArray(v) && v.length > 0) out.push(path);
      } else unknownTaggedFieldPaths(v, `${path}.${k}`, out);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------

const fixtures = loadFixtures();

describe("golden requests from real clients", () => {
  test("the corpus covers the APIs and clients it was captured for", () => {
    const names = (pred: (f: Fixture) => boolean): string[] => [...new Set(fixtures.filter(pred).map((f) => apiSpec(f.apiKey)?.name ?? ""))].sort();
    const required = [
      "ApiVersions",
      "CreateTopics",
      "Fetch",
      "FindCoordinator",
      "Heartbeat",
      "JoinGroup",
      "ListOffsets",
      "Metadata",
      "OffsetCommit",
      "OffsetFetch",
      "Produce",
      "SyncGroup",
    ];
    expect(required.filter((n) => !names(() => true).includes(n))).toEqual([]);
    for (const client of Object.keys(clients)) {
      const mine = names((f) => f.client === client);
      expect({ client, missing: ["ApiVersions", "Metadata", "Produce", "Fetch", "JoinGroup", "SyncGroup", "OffsetCommit"].filter((n) => !mine.includes(n)) }).toEqual({
        client,
        missing: [],
      });
    }
    for (const codec of ["none", "gzip", "snappy", "lz4", "zstd"]) {
      expect({ codec, found: fixtures.some((f) => f.apiKey === ApiKeys.Produce && compressionOf(f.scenario) === codec) }).toEqual({ codec, found: true });
    }
  });

  for (const f of fixtures) {
    describe(f.name, () => {
      test("decodes whole, with the expected header and fields", () => {
        const c = clients[f.client];
        if (c === undefined) throw new Error(`golden fixture ${f.name}: no expectations for client ${f.client}`);
        const req = decodeRequestFrame(f.bytes);
        expect([req.apiKey, req.apiVersion]).toEqual([f.apiKey, f.version]);
        expect(req.header.clientId).toBe(c.clientId);
        expect(req.header.correlationId).toBeGreaterThanOrEqual(0);
        expect(req.header._unknownTaggedFields ?? []).toEqual([]);
        expect(unknownTaggedFieldPaths(req.body, "body", [])).toEqual([]);
        checkFields(f, c, req);
      });

      test("re-encodes to the captured bytes exactly", () => {
        const req = decodeRequestFrame(f.bytes);
        const again = flattenChunks(encodeRequest(req.apiKey, req.apiVersion, req.header.correlationId, req.header.clientId, req.body));
        if (!Buffer.from(again).equals(Buffer.from(f.bytes))) {
          let at = 0;
          while (at < again.length && again[at] === f.bytes[at]) at++;
          throw new Error(
            `${f.name}: re-encoded ${again.length} bytes vs captured ${f.bytes.length}; first difference at byte ${at}: ` +
              `captured ${Buffer.from(f.bytes.subarray(at, at + 16)).toString("hex")} re-encoded ${Buffer.from(again.subarray(at, at + 16)).toString("hex")}`,
          );
        }
        expect(again.length).toBe(f.bytes.length);
      });
    });
  }
});
