/**
 * Golden-request capture: a scripted fake broker that real Kafka clients (kcat,
 * confluent-kafka-python, kafkajs, @platformatic/kafka) can be pointed at, which saves the
 * request frames they send as test fixtures. It is a test tool, deliberately separate from
 * the real broker in src/server: one process, one fake node, every topic exists with one
 * partition, nothing is stored.
 *
 *   bun scripts/capture.ts --client NAME [--port N] [--out DIR] [--all] [--no-fetch-records]
 *
 * - Listens on 127.0.0.1:N (0 = a free port) and prints `listening 127.0.0.1:<port>` on
 *   stdout once bound (drivers read the port from that line).
 * - Saves each request frame, size prefix included, to `<out>/<client>/<api>-v<version>-<n>.bin`
 *   (`<api>` is the kebab-case Kafka API name, `<n>` counts from 1 per api and version).
 *   Only the first frame of each (api, version) is kept, except that a JoinGroup carrying
 *   a member id is kept as well as the first one (which, from v4, carries none and gets
 *   MEMBER_ID_REQUIRED), and so is the first Fetch inside a fetch session (session id
 *   4242, handed out to a v7+ full fetch with epoch 0); `--all` keeps every frame. `<client>` may contain `/` to group
 *   scenarios of one client. The folder's old `.bin` files are removed at start.
 * - Answers with minimal valid responses built by the generated codecs. Produce acks=0
 *   gets no response (as Kafka). Fetch at offset 0 returns one uncompressed batch of one
 *   record (key "golden-key", value "golden-value") unless `--no-fetch-records`; at any
 *   other offset it waits min(maxWaitMs, 200) ms and returns no records.
 * - Responses on one connection go out in request order, also when a Fetch waits.
 * - Exits on SIGINT/SIGTERM or after `--idle-exit-ms` without traffic (when given).
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { join, resolve } from "node:path";
import { uuidBytesToText } from "../src/protocol/codec/uuid.ts";
import { flattenChunks } from "../src/protocol/codec/writer.ts";
import { checkFrame, type DecodedRequest, decodeRequest, encodeResponse, UnsupportedRequestError } from "../src/protocol/frame.ts";
import { defaultApiVersionsResponse } from "../src/protocol/messages/api-versions-response.ts";
import { defaultCreateTopicsResponse, defaultCreatableTopicResult } from "../src/protocol/messages/create-topics-response.ts";
import { defaultDeleteTopicsResponse, defaultDeletableTopicResult } from "../src/protocol/messages/delete-topics-response.ts";
import { defaultDescribeConfigsResponse, defaultDescribeConfigsResult } from "../src/protocol/messages/describe-configs-response.ts";
import { defaultDescribeGroupsResponse, defaultDescribedGroup } from "../src/protocol/messages/describe-groups-response.ts";
import {
  defaultFetchableTopicResponse,
  defaultFetchResponse,
  defaultPartitionData,
  type FetchableTopicResponse,
} from "../src/protocol/messages/fetch-response.ts";
import { defaultCoordinator, defaultFindCoordinatorResponse } from "../src/protocol/messages/find-coordinator-response.ts";
import { defaultHeartbeatResponse } from "../src/protocol/messages/heartbeat-response.ts";
import { type ApiKey, ApiKeys, apiSpec } from "../src/protocol/messages/index.ts";
import { defaultInitProducerIdResponse } from "../src/protocol/messages/init-producer-id-response.ts";
import { defaultJoinGroupResponse, defaultJoinGroupResponseMember } from "../src/protocol/messages/join-group-response.ts";
import { defaultLeaveGroupResponse, defaultMemberResponse } from "../src/protocol/messages/leave-group-response.ts";
import { defaultListGroupsResponse } from "../src/protocol/messages/list-groups-response.ts";
import {
  defaultListOffsetsPartitionResponse,
  defaultListOffsetsResponse,
  defaultListOffsetsTopicResponse,
} from "../src/protocol/messages/list-offsets-response.ts";
import {
  defaultMetadataResponse,
  defaultMetadataResponseBroker,
  defaultMetadataResponsePartition,
  defaultMetadataResponseTopic,
  type MetadataResponseTopic,
} from "../src/protocol/messages/metadata-response.ts";
import {
  defaultOffsetCommitResponse,
  defaultOffsetCommitResponsePartition,
  defaultOffsetCommitResponseTopic,
} from "../src/protocol/messages/offset-commit-response.ts";
import {
  defaultOffsetFetchResponse,
  defaultOffsetFetchResponseGroup,
  defaultOffsetFetchResponsePartition,
  defaultOffsetFetchResponsePartitions,
  defaultOffsetFetchResponseTopic,
  defaultOffsetFetchResponseTopics,
} from "../src/protocol/messages/offset-fetch-response.ts";
import {
  defaultPartitionProduceResponse,
  defaultProduceResponse,
  defaultTopicProduceResponse,
} from "../src/protocol/messages/produce-response.ts";
import { defaultSyncGroupResponse } from "../src/protocol/messages/sync-group-response.ts";
import { buildRecordBatch } from "../src/protocol/records/builder.ts";

/** What the fake broker advertises in ApiVersions: [apiKey, min, max]. */
const advertised: readonly (readonly [ApiKey, number, number])[] = [
  [ApiKeys.Produce, 0, 11],
  [ApiKeys.Fetch, 4, 16],
  [ApiKeys.ListOffsets, 1, 8],
  [ApiKeys.Metadata, 0, 12],
  [ApiKeys.OffsetCommit, 0, 9],
  [ApiKeys.OffsetFetch, 0, 9],
  [ApiKeys.FindCoordinator, 0, 6],
  [ApiKeys.JoinGroup, 0, 9],
  [ApiKeys.Heartbeat, 0, 4],
  [ApiKeys.LeaveGroup, 0, 5],
  [ApiKeys.SyncGroup, 0, 5],
  [ApiKeys.DescribeGroups, 0, 5],
  [ApiKeys.ListGroups, 0, 5],
  [ApiKeys.ApiVersions, 0, 4],
  [ApiKeys.CreateTopics, 0, 7],
  [ApiKeys.DeleteTopics, 0, 6],
  [ApiKeys.InitProducerId, 0, 5],
  [ApiKeys.DescribeConfigs, 0, 4],
];

const nodeId = 1;
const host = "127.0.0.1";
const clusterId = "bunka-capture";
const fetchWaitMsMax = 200;
const fetchSessionId = 4242;
const errorUnsupportedVersion = 35;
const errorMemberIdRequired = 79;
/** The one record served by Fetch at offset 0 (tests of fetch fixtures do not depend on it). */
const servedTimestampMs = 1_700_000_000_000;
const encoder = new TextEncoder();

interface Options {
  port: number;
  client: string;
  out: string;
  all: boolean;
  fetchRecords: boolean;
  idleExitMs: number;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { port: 0, client: "", out: resolve(import.meta.dir, "../test/golden"), all: false, fetchRecords: true, idleExitMs: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`capture: ${a} needs a value`);
      return v;
    };
    if (a === "--port") o.port = Number(next());
    else if (a === "--client") o.client = next();
    else if (a === "--out") o.out = resolve(next());
    else if (a === "--all") o.all = true;
    else if (a === "--no-fetch-records") o.fetchRecords = false;
    else if (a === "--idle-exit-ms") o.idleExitMs = Number(next());
    else if (a !== undefined && /^\d+$/.test(a)) o.port = Number(a);
    else throw new Error(`capture: unknown argument ${a}`);
  }
  if (!/^[a-z0-9][a-z0-9._/-]*$/.test(o.client) || o.client.includes("..")) {
    throw new Error("capture: --client NAME is required (lower-case letters, digits, . _ - /)");
  }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw new Error(`capture: bad port ${o.port}`);
  return o;
}

function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
}

/** A stable, non-zero topic id derived from the name (FNV-1a over 4 lanes). */
function topicIdOf(name: string): string {
  const bytes = new Uint8Array(16);
  for (let lane = 0; lane < 4; lane++) {
    let h = (0x811c9dc5 ^ lane) >>> 0;
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
    bytes[lane * 4] = h >>> 24;
    bytes[lane * 4 + 1] = (h >>> 16) & 0xff;
    bytes[lane * 4 + 2] = (h >>> 8) & 0xff;
    bytes[lane * 4 + 3] = h & 0xff;
  }
  bytes[0] = (bytes[0] ?? 0) | 1;
  return uuidBytesToText(bytes, 0);
}

/**
 * Frames of one (api, version) worth keeping apart: a JoinGroup that carries a member id
 * (the rejoin after MEMBER_ID_REQUIRED) and a Fetch inside an established fetch session.
 */
function variantOf(req: DecodedRequest): string {
  if (req.apiKey === ApiKeys.JoinGroup && req.body.memberId !== "") return "rejoin";
  if (req.apiKey === ApiKeys.Fetch && req.body.sessionId !== 0) return "incremental";
  return "";
}

class FakeBroker {
  private readonly topics = new Map<string, string>(); // name -> topic id
  private readonly namesById = new Map<string, string>();
  private readonly saved = new Map<string, number>(); // "api-vN" -> frames saved
  private readonly savedVariants = new Set<string>(); // "api-vN/variant" already saved
  private memberSeq = 0;
  private readonly dir: string;
  port = 0;

  constructor(private readonly options: Options) {
    this.dir = join(options.out, options.client);
    mkdirSync(this.dir, { recursive: true });
    for (const f of readdirSync(this.dir)) if (f.endsWith(".bin")) rmSync(join(this.dir, f));
    this.knowTopic("golden");
  }

  knowTopic(name: string): string {
    let id = this.topics.get(name);
    if (id === undefined) {
      id = topicIdOf(name);
      this.topics.set(name, id);
      this.namesById.set(id, name);
    }
    return id;
  }

  maybeSave(frame: Uint8Array, req: DecodedRequest): void {
    const api = apiSpec(req.apiKey);
    if (api === undefined) throw new Error(`capture: decoded a request of unknown api key ${req.apiKey}`);
    const key = `${kebab(api.name)}-v${req.apiVersion}`;
    const variant = `${key}/${variantOf(req)}`;
    if (this.savedVariants.has(variant) && !this.options.all) return;
    this.savedVariants.add(variant);
    const count = (this.saved.get(key) ?? 0) + 1;
    this.saved.set(key, count);
    const file = join(this.dir, `${key}-${count}.bin`);
    writeFileSync(file, frame);
    console.log(`saved ${file} (${frame.length} bytes, client id ${JSON.stringify(req.header.clientId)})`);
  }

  /** The response frame for a request, or null when none is sent (Produce acks=0). */
  async respond(req: DecodedRequest): Promise<Uint8Array[] | null> {
    const v = req.apiVersion;
    const cid = req.header.correlationId;
    switch (req.apiKey) {
      case ApiKeys.ApiVersions: {
        const res = defaultApiVersionsResponse();
        res.apiKeys = advertised.map(([apiKey, minVersion, maxVersion]) => ({ apiKey, minVersion, maxVersion }));
        return encodeResponse(req.apiKey, v, cid, res);
      }
      case ApiKeys.Metadata: {
        const res = defaultMetadataResponse();
        res.brokers = [{ ...defaultMetadataResponseBroker(), nodeId, host, port: this.port }];
        res.clusterId = clusterId;
        res.controllerId = nodeId;
        let names: string[];
        if (req.body.topics === null || (v === 0 && req.body.topics.length === 0)) {
          names = [...this.topics.keys()];
        } else {
          names = req.body.topics.map((t) => t.name ?? this.namesById.get(t.topicId) ?? "unknown-topic-id");
        }
        res.topics = names.map((name): MetadataResponseTopic => {
          const topicId = this.knowTopic(name);
          return {
            ...defaultMetadataResponseTopic(),
            name,
            topicId: v >= 10 ? topicId : defaultMetadataResponseTopic().topicId,
            partitions: [
              {
                ...defaultMetadataResponsePartition(),
                partitionIndex: 0,
                leaderId: nodeId,
                leaderEpoch: v >= 7 ? 0 : -1,
                replicaNodes: [nodeId],
                isrNodes: [nodeId],
              },
            ],
          };
        });
        return encodeResponse(req.apiKey, v, cid, res);
      }
      case ApiKeys.Produce: {
        if (req.body.acks === 0) return null;
        const res = defaultProduceResponse();
        res.responses = req.body.topicData.map((t) => {
          this.knowTopic(t.name);
          return {
            ...defaultTopicProduceResponse(),
            name: t.name,
            partitionResponses: t.partitionData.map((p) => ({ ...defaultPartitionProduceResponse(), index: p.index, baseOffset: 0, logStartOffset: 0 })),
          };
        });
        return encodeResponse(req.apiKey, v, cid, res);
      }
      case ApiKeys.Fetch: {
        const res = defaultFetchResponse();
        let anyRecords = false;
        res.responses = req.body.topics.map((t): FetchableTopicResponse => {
          return {
            ...defaultFetchableTopicResponse(),
            topic: v <= 12 ? t.topic : "",
            topicId: v >= 13 ? t.topicId : defaultFetchableTopicResponse().topicId,
            partitions: t.partitions.map((p) => {
              const serve = this.options.fetchRecords && p.fetchOffset === 0;
              if (serve) anyRecords = true;
              return {
                ...defaultPartitionData(),
                partitionIndex: p.partition,
                highWatermark: this.options.fetchRecords ? 1 : 0,
                lastStableOffset: this.options.fetchRecords ? 1 : 0,
                logStartOffset: 0,
                abortedTransactions: null,
                records: serve
                  ? buildRecordBatch([{ key: encoder.encode("golden-key"), value: encoder.encode("golden-value"), timestamp: servedTimestampMs }], {
                      partitionLeaderEpoch: 0,
                    })
                  : new Uint8Array(0),
              };
            }),
          };
        });
        // A full fetch that asks for a session (id 0, epoch 0, v7+) gets one, so clients that
        // use sessions (KIP-227) go on with incremental fetches.
        if (v >= 7 && req.body.sessionEpoch >= 0) res.sessionId = req.body.sessionId === 0 ? fetchSessionId : req.body.sessionId;
        if (!anyRecords) await Bun.sleep(Math.min(Math.max(req.body.maxWaitMs, 0), fetchWaitMsMax));
        return encodeResponse(req.apiKey, v, cid, res);
      }
      case ApiKeys.ListOffsets: {
        const res = defaultListOffsetsResponse();
        res.topics = req.body.topics.map((t) => ({
          ...defaultListOffsetsTopicResponse(),
          name: t.name,
          partitions: t.partitions.map((p) => ({
            ...defaultListOffsetsPartitionResponse(),
            partitionIndex: p.partitionIndex,
            timestamp: -1,
            offset: 0,
            leaderEpoch: v >= 4 ? 0 : -1,
          })),
        }));
        return encodeResponse(req.apiKey, v, cid, res);
      }
      case ApiKeys.FindCoordinator: {
        const res = defaultFindCoordinatorResponse();
        if (v >= 4) {
          res.coordinators = req.body.coordinatorKeys.map((key) => ({ ...defaultCoordinator(), key, nodeId, host, port: this.port }));
        } else {
          res.nodeId = nodeId;
          res.host = host;
          res.port = this.port;
          if (v >= 1) res.errorMessage = null;
        }
        return encodeResponse(req.apiKey, v, cid, res);
      }
      case ApiKeys.JoinGroup: {
        const res = defaultJoinGroupResponse();
        const first = req.body.protocols[0];
        if (v >= 4 && req.body.memberId === "") {
          res.errorCode = errorMemberIdRequired;
          res.memberId = `capture-member-${++this.memberSeq}`;
          res.protocolName = v >= 7 ? null : "";
          return encodeResponse(req.apiKey, v, cid, res);
        }
        const memberId = req.body.memberId === "" ? `capture-member-${++this.memberSeq}` : req.body.memberId;
        res.generationId = 1;
        res.protocolType = v >= 7 ? req.body.protocolType : null;
        res.protocolName = first?.name ?? "";
        res.leader = memberId;
        res.memberId = memberId;
        res.members = [{ ...defaultJoinGroupResponseMember(), memberId, groupInstanceId: req.body.groupInstanceId, metadata: first?.metadata ?? new Uint8Array(0) }];
        return encodeResponse(req.apiKey, v, cid, res);
      }
      case ApiKeys.SyncGroup: {
        const res = defaultSyncGroupResponse();
        const mine = req.body.assignments.find((a) => a.memberId === req.body.memberId);
        // An empty consumer-protocol assignment: version 0, no partitions, null user data.
        res.assignment = mine?.assignment ?? new Uint8Array([0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        if (v >= 5) {
          res.protocolType = req.body.protocolType;
          res.protocolName = req.body.protocolName;
        }
        return encodeResponse(req.apiKey, v, cid, res);
      }
      case ApiKeys.Heartbeat:
        return encodeResponse(req.apiKey, v, cid, defaultHeartbeatResponse());
      case ApiKeys.LeaveGroup: {
        const res = defaultLeaveGroupResponse();
        if (v >= 3) res.members = req.body.members.map((m) => ({ ...defaultMemberResponse(), memberId: m.memberId, groupInstanceId: m.groupInstanceId }));
        return encodeResponse(req.apiKey, v, cid, res);
      }
      case ApiKeys.OffsetCommit: {
        const res = defaultOffsetCommitResponse();
        res.topics = req.body.topics.map((t) => ({
          ...defaultOffsetCommitResponseTopic(),
          name: t.name,
          partitions: t.partitions.map((p) => ({ ...defaultOffsetCommitResponsePartition(), partitionIndex: p.partitionIndex })),
        }));
        return encodeResponse(req.apiKey, v, cid, res);
      }
      case ApiKeys.OffsetFetch: {
        const res = defaultOffsetFetchResponse();
        if (v >= 8) {
          res.groups = req.body.groups.map((g) => ({
            ...defaultOffsetFetchResponseGroup(),
            groupId: g.groupId,
            topics: (g.topics ?? []).map((t) => ({
              ...defaultOffsetFetchResponseTopics(),
              name: t.name,
              partitions: t.partitionIndexes.map((partitionIndex) => ({ ...defaultOffsetFetchResponsePartitions(), partitionIndex, committedOffset: -1, metadata: "" })),
            })),
          }));
        } else {
          res.topics = (req.body.topics ?? []).map((t) => ({
            ...defaultOffsetFetchResponseTopic(),
            name: t.name,
            partitions: t.partitionIndexes.map((partitionIndex) => ({ ...defaultOffsetFetchResponsePartition(), partitionIndex, committedOffset: -1, metadata: "" })),
          }));
        }
        return encodeResponse(req.apiKey, v, cid, res);
      }
      case ApiKeys.CreateTopics: {
        const res = defaultCreateTopicsResponse();
        res.topics = req.body.topics.map((t) => ({
          ...defaultCreatableTopicResult(),
          name: t.name,
          topicId: v >= 7 ? this.knowTopic(t.name) : defaultCreatableTopicResult().topicId,
          errorMessage: null,
          numPartitions: v >= 5 ? 1 : -1,
          replicationFactor: v >= 5 ? 1 : -1,
        }));
        for (const t of req.body.topics) this.knowTopic(t.name);
        return encodeResponse(req.apiKey, v, cid, res);
      }
      case ApiKeys.DeleteTopics: {
        const res = defaultDeleteTopicsResponse();
        const names = v >= 6 ? req.body.topics.map((t) => t.name ?? this.namesById.get(t.topicId) ?? "") : req.body.topicNames;
        res.responses = names.map((name) => ({ ...defaultDeletableTopicResult(), name, errorMessage: null }));
        return encodeResponse(req.apiKey, v, cid, res);
      }
      case ApiKeys.InitProducerId: {
        const res = defaultInitProducerIdResponse();
        res.producerId = 1000;
        res.producerEpoch = 0;
        return encodeResponse(req.apiKey, v, cid, res);
      }
      case ApiKeys.DescribeConfigs: {
        const res = defaultDescribeConfigsResponse();
        res.results = req.body.resources.map((r) => ({
          ...defaultDescribeConfigsResult(),
          resourceType: r.resourceType,
          resourceName: r.resourceName,
          errorMessage: null,
        }));
        return encodeResponse(req.apiKey, v, cid, res);
      }
      case ApiKeys.ListGroups:
        return encodeResponse(req.apiKey, v, cid, defaultListGroupsResponse());
      case ApiKeys.DescribeGroups: {
        const res = defaultDescribeGroupsResponse();
        res.groups = req.body.groups.map((groupId) => ({ ...defaultDescribedGroup(), groupId, groupState: "Dead" }));
        return encodeResponse(req.apiKey, v, cid, res);
      }
      default:
        return this.unsupported(req);
    }
  }

  private unsupported(req: DecodedRequest): never {
    const api = apiSpec(req.apiKey);
    console.error(`capture: no scripted answer for ${api?.name ?? req.apiKey} v${req.apiVersion}; closing the connection`);
    throw new Error("unscripted request");
  }

  /** An ApiVersions v0 answer to a version we do not know: UNSUPPORTED_VERSION + our ranges. */
  apiVersionsFallback(correlationId: number): Uint8Array[] {
    const res = defaultApiVersionsResponse();
    res.errorCode = errorUnsupportedVersion;
    res.apiKeys = advertised.map(([apiKey, minVersion, maxVersion]) => ({ apiKey, minVersion, maxVersion }));
    return encodeResponse(ApiKeys.ApiVersions, 0, correlationId, res);
  }

  serve(socket: Socket, touch: () => void): void {
    let pending = new Uint8Array(0);
    let queue: Promise<void> = Promise.resolve();
    const fail = (e: unknown): void => {
      console.error(`capture: ${e instanceof Error ? e.message : String(e)}`);
      socket.destroy();
    };
    socket.on("data", (data: Buffer) => {
      touch();
      const joined = new Uint8Array(pending.length + data.length);
      joined.set(pending, 0);
      joined.set(data, pending.length);
      let offset = 0;
      try {
        for (;;) {
          const check = checkFrame(joined, offset);
          if (check.kind === "incomplete") break;
          const frame = joined.slice(offset, offset + check.totalBytes);
          offset += check.totalBytes;
          queue = queue.then(() => this.handle(socket, frame)).catch(fail);
        }
      } catch (e) {
        fail(e);
        return;
      }
      pending = joined.slice(offset);
    });
    socket.on("error", (e) => console.error(`capture: socket error ${e.message}`));
  }

  private async handle(socket: Socket, frame: Uint8Array): Promise<void> {
    if (socket.destroyed) return;
    let req: DecodedRequest;
    try {
      req = decodeRequest(frame.subarray(4));
    } catch (e) {
      if (e instanceof UnsupportedRequestError && e.apiKey === ApiKeys.ApiVersions) {
        console.error(`capture: ApiVersions v${e.apiVersion} unsupported; answering v0 UNSUPPORTED_VERSION`);
        for (const c of this.apiVersionsFallback(e.correlationId)) socket.write(c);
        return;
      }
      throw e;
    }
    this.maybeSave(frame, req);
    const chunks = await this.respond(req);
    if (chunks !== null && !socket.destroyed) socket.write(flattenChunks(chunks));
  }
}

function main(): void {
  const options = parseArgs(process.argv.slice(2));
  const broker = new FakeBroker(options);
  let lastActivity = Date.now();
  const touch = (): void => {
    lastActivity = Date.now();
  };
  const server = createServer((socket) => broker.serve(socket, touch));
  server.listen(options.port, host, () => {
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("capture: no TCP address");
    broker.port = address.port;
    console.log(`listening ${host}:${address.port}`);
  });
  const stop = (): void => {
    server.close();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  if (options.idleExitMs > 0) {
    setInterval(() => {
      if (Date.now() - lastActivity > options.idleExitMs) stop();
    }, 100);
  }
}

main();
