/**
 * The client against a real bunka node in this process (startNode on the Bun platform, TCP on
 * 127.0.0.1, a fresh data dir): bootstrap and Metadata, ApiVersions negotiation, CreateTopics,
 * Produce then Fetch, pipelining under the in-flight bound, a request timeout, an oversized
 * response, and reconnecting after the broker restarts on the same port.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClusterClient } from "../../src/client/bootstrap.ts";
import { clientConfig } from "../../src/client/config.ts";
import { NodeClient } from "../../src/client/node-client.ts";
import { NodeConnection } from "../../src/client/node-connection.ts";
import { systemClock } from "../../src/platform/bun/clock.ts";
import { BunFileSystem } from "../../src/platform/bun/fs.ts";
import { bunNetwork } from "../../src/platform/bun/network.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { defaultCreateTopicsRequest } from "../../src/protocol/messages/create-topics-request.ts";
import { defaultFetchRequest } from "../../src/protocol/messages/fetch-request.ts";
import { ApiKeys } from "../../src/protocol/messages/index.ts";
import { defaultMetadataRequest } from "../../src/protocol/messages/metadata-request.ts";
import { defaultProduceRequest } from "../../src/protocol/messages/produce-request.ts";
import { buildRecordBatch } from "../../src/protocol/records/builder.ts";
import { loadConfig } from "../../src/server/config.ts";
import { type Node, startNode } from "../../src/server/node.ts";

let dir = "";
let node: Node | null = null;
let port = 0;

async function start(atPort: number): Promise<void> {
  const loaded = loadConfig({ sets: [`listeners=PLAINTEXT://127.0.0.1:${atPort}`, `log.dirs=${dir}`, "node.id=1"] });
  if (!loaded.ok) throw loaded.error;
  node = await startNode(loaded.config, {
    network: bunNetwork,
    clock: systemClock,
    fs: new BunFileSystem(),
    prng: new SeededPrng(1),
    logSink: () => {},
    hostname: "localhost",
    absolutePath: (p) => p,
  });
  await node.ready;
  port = node.broker.listeners[0]?.port ?? 0;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bunka-client-"));
  await start(0);
});

afterAll(async () => {
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const prng = new SeededPrng(99);

async function createTopic(client: NodeClient, name: string, partitions = 1): Promise<string> {
  const r = await client.send(1, ApiKeys.CreateTopics, {
    ...defaultCreateTopicsRequest(),
    timeoutMs: 10_000,
    topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }],
  });
  if (!r.ok) throw r.error;
  const t = r.body.topics[0];
  expect(t?.errorCode).toBe(ErrorCode.NONE);
  return t?.topicId ?? "";
}

function fetchBody(topic: string, topicId: string, offset: number, maxWaitMs: number, partitionMaxBytes = 1 << 20) {
  return {
    ...defaultFetchRequest(),
    maxWaitMs,
    minBytes: 1,
    maxBytes: 50 << 20,
    topics: [
      {
        topic,
        topicId,
        partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: offset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes, replicaDirectoryId: "AAAAAAAAAAAAAAAAAAAAAA" }],
      },
    ],
  };
}

function produceBody(topic: string, topicId: string, batch: Uint8Array, acks = -1) {
  return {
    ...defaultProduceRequest(),
    acks,
    timeoutMs: 10_000,
    topicData: [{ name: topic, topicId, partitionData: [{ index: 0, records: batch }] }],
  };
}

describe("client against an in-process bunka broker", () => {
  test("bootstrap: Metadata names the broker; ApiVersions picked modern versions", async () => {
    const cluster = await ClusterClient.connect({ network: bunNetwork, clock: systemClock, prng, bootstrapServers: `nowhere.invalid:9, 127.0.0.1:${port}` });
    if (!cluster.ok) throw cluster.error;
    const c = cluster.value;
    try {
      expect(c.brokers.map((b) => [b.nodeId, b.host, b.port])).toEqual([[1, "127.0.0.1", port]]);
      expect(c.clusterId).toBe(node?.broker.clusterId ?? "");
      expect(c.nodes.nodeIds()).toEqual([1]);
      expect((await c.nodes.ready(1)).ok).toBe(true);
      const versions = c.nodes.versions(1);
      expect(versions?.pick(ApiKeys.Produce)).toBeGreaterThanOrEqual(9);
      expect(versions?.pick(ApiKeys.Fetch)).toBeGreaterThanOrEqual(13);
      expect(versions?.pick(ApiKeys.Metadata)).toBeGreaterThanOrEqual(12);
      const refreshed = await c.refreshMetadata(null);
      expect(refreshed.ok).toBe(true);
    } finally {
      c.close();
    }
  });

  test("CreateTopics, Produce, then Fetch returns the batch as written", async () => {
    const client = new NodeClient({ network: bunNetwork, clock: systemClock, prng });
    client.setEndpoint(1, { host: "127.0.0.1", port, listenerName: "PLAINTEXT" });
    try {
      const topicId = await createTopic(client, "client-roundtrip");
      const batch = buildRecordBatch(
        Array.from({ length: 10 }, (_, i) => ({ key: null, value: new TextEncoder().encode(`value-${i}`), timestamp: 1_700_000_000_000 + i })),
      );
      const produced = await client.send(1, ApiKeys.Produce, produceBody("client-roundtrip", topicId, batch));
      if (!produced.ok) throw produced.error;
      const pr = produced.body.responses[0]?.partitionResponses[0];
      expect(pr?.errorCode).toBe(ErrorCode.NONE);
      expect(pr?.baseOffset).toBe(0);
      // acks=0: written, no response; the next request still gets its own answer.
      const oneWay = await client.sendOneWay(1, ApiKeys.Produce, produceBody("client-roundtrip", topicId, batch, 0));
      expect(oneWay.ok).toBe(true);
      const fetched = await client.send(1, ApiKeys.Fetch, fetchBody("client-roundtrip", topicId, 0, 500));
      if (!fetched.ok) throw fetched.error;
      const part = fetched.body.responses[0]?.partitions[0];
      expect(part?.errorCode).toBe(ErrorCode.NONE);
      expect(part?.highWatermark).toBe(20);
      const records = part?.records ?? new Uint8Array(0);
      expect(records.length).toBe(2 * batch.length);
      // Same batch from the magic byte on (the broker rewrote base offset and leader epoch only).
      expect(records.subarray(16, batch.length)).toEqual(batch.subarray(16));
      expect(new DataView(records.buffer, records.byteOffset + batch.length).getBigInt64(0)).toBe(10n);
    } finally {
      client.close();
    }
  });

  test("pipelined requests come back in order, at most inflightRequestsMax on the wire", async () => {
    const client = new NodeClient({ network: bunNetwork, clock: systemClock, prng, config: { inflightRequestsMax: 4 } });
    client.setEndpoint(1, { host: "127.0.0.1", port, listenerName: "PLAINTEXT" });
    try {
      await createTopic(client, "client-pipeline-a");
      expect((await client.ready(1)).ok).toBe(true);
      let maxInflight = 0;
      const names = Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? "client-pipeline-a" : `missing-${i}`));
      const all = names.map((name) => {
        const p = client.send(1, ApiKeys.Metadata, { ...defaultMetadataRequest(), allowAutoTopicCreation: false, topics: [{ topicId: "AAAAAAAAAAAAAAAAAAAAAA", name }] });
        maxInflight = Math.max(maxInflight, client.inflightCount(1));
        return p;
      });
      const poll = setInterval(() => {
        maxInflight = Math.max(maxInflight, client.inflightCount(1));
      }, 0);
      const results = await Promise.all(all);
      clearInterval(poll);
      expect(maxInflight).toBe(4);
      results.forEach((r, i) => {
        if (!r.ok) throw r.error;
        expect(r.body.topics[0]?.name).toBe(names[i] ?? "");
        expect(r.body.topics[0]?.errorCode).toBe(i % 2 === 0 ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      });
    } finally {
      client.close();
    }
  });

  test("a Fetch that long-polls past the client's timeout fails with timeout; the next request reconnects", async () => {
    const client = new NodeClient({ network: bunNetwork, clock: systemClock, prng });
    client.setEndpoint(1, { host: "127.0.0.1", port, listenerName: "PLAINTEXT" });
    try {
      const topicId = await createTopic(client, "client-timeout");
      const started = performance.now();
      const r = await client.send(1, ApiKeys.Fetch, fetchBody("client-timeout", topicId, 0, 5_000), { timeoutMs: 300 });
      const tookMs = performance.now() - started;
      expect(!r.ok && [r.error.kind, r.error.sent]).toEqual(["timeout", true]);
      expect(tookMs).toBeGreaterThanOrEqual(290);
      expect(tookMs).toBeLessThan(3_000);
      expect(client.status(1)).not.toBe("ready");
      const again = await client.send(1, ApiKeys.Metadata, { ...defaultMetadataRequest(), topics: [] });
      expect(again.ok).toBe(true);
    } finally {
      client.close();
    }
  });

  test("a response above responseFrameBytesMax is refused with tooLarge", async () => {
    const client = new NodeClient({ network: bunNetwork, clock: systemClock, prng });
    client.setEndpoint(1, { host: "127.0.0.1", port, listenerName: "PLAINTEXT" });
    try {
      const topicId = await createTopic(client, "client-large");
      const value = prng.fill(new Uint8Array(200_000));
      const produced = await client.send(1, ApiKeys.Produce, produceBody("client-large", topicId, buildRecordBatch([{ key: null, value, timestamp: 1 }])));
      expect(produced.ok).toBe(true);
      const conn = new NodeConnection({ network: bunNetwork, clock: systemClock, host: "127.0.0.1", port, config: clientConfig({ responseFrameBytesMax: 64 * 1024 }) });
      const r = await conn.send(ApiKeys.Fetch, fetchBody("client-large", topicId, 0, 0));
      expect(!r.ok && r.error.kind).toBe("tooLarge");
      expect(conn.state.kind).toBe("closed");
    } finally {
      client.close();
    }
  });

  test("the broker restarts on the same port: a request made while it is down succeeds once it is back", async () => {
    const client = new NodeClient({ network: bunNetwork, clock: systemClock, prng, config: { reconnectBackoffMs: 20, reconnectBackoffMaxMs: 200 } });
    client.setEndpoint(1, { host: "127.0.0.1", port, listenerName: "PLAINTEXT" });
    try {
      expect((await client.send(1, ApiKeys.Metadata, { ...defaultMetadataRequest(), topics: [] })).ok).toBe(true);
      await node?.stop();
      // Once the client has seen the connection close (a request written before that is
      // honestly "sent" and not retried).
      for (let i = 0; i < 200 && client.status(1) === "ready"; i++) await Bun.sleep(5);
      expect(client.status(1)).not.toBe("ready");
      const pending = client.send(1, ApiKeys.Metadata, { ...defaultMetadataRequest(), topics: [] }, { timeoutMs: 20_000 });
      await Bun.sleep(300);
      await start(port);
      const r = await pending;
      if (!r.ok) throw r.error;
      expect(r.body.brokers.map((b) => b.port)).toEqual([port]);
    } finally {
      client.close();
    }
  });
});
