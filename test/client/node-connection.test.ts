/**
 * NodeConnection against a scripted peer on the simulated network (writes split into random
 * chunks, so framing sees split reads): negotiation and its fallbacks, version choice,
 * pipelining in order, the in-flight and queue bounds, timeouts, acks=0, size limits, and
 * peers that break the protocol. Everything runs on simulated time from a seed.
 */
import { describe, expect, test } from "bun:test";
import { clientConfig, type ClientConfig } from "../../src/client/config.ts";
import type { ClientErrorKind } from "../../src/client/errors.ts";
import { FrameReader } from "../../src/client/frame-reader.ts";
import { NodeConnection } from "../../src/client/node-connection.ts";
import { SimClock } from "../../src/platform/clock.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { SimNetwork } from "../../src/platform/sim/network.ts";
import type { DecodedRequest } from "../../src/protocol/frame.ts";
import { ApiKeys } from "../../src/protocol/messages/index.ts";
import { defaultMetadataRequest, type MetadataRequest } from "../../src/protocol/messages/metadata-request.ts";
import { defaultMetadataResponse } from "../../src/protocol/messages/metadata-response.ts";
import { defaultProduceRequest } from "../../src/protocol/messages/produce-request.ts";
import { FakePeer, type FakePeerOptions, type PeerRequest } from "./fake-peer.ts";
import { run, settle, until } from "./sim-driver.ts";

const SERVER = "10.0.0.1";
const CLIENT = "10.0.0.2";

function setup(peerOptions: Omit<FakePeerOptions, "network" | "host"> = {}, config: Partial<ClientConfig> = {}, seed = 1) {
  const clock = new SimClock();
  const net = new SimNetwork({ clock, prng: new SeededPrng(seed), link: { delayMs: 1, jitterMs: 2 } });
  const peer = new FakePeer({ network: net.host(SERVER), host: SERVER, ...peerOptions });
  const open = (overrides: Partial<ClientConfig> = {}) =>
    new NodeConnection({ network: net.host(CLIENT), clock, host: SERVER, port: peer.port, config: clientConfig({ ...config, ...overrides }) });
  return { clock, net, peer, open };
}

/** A Metadata request carrying `tag` as its one topic name. */
function tagged(tag: string): MetadataRequest {
  return { ...defaultMetadataRequest(), topics: [{ topicId: "AAAAAAAAAAAAAAAAAAAAAA", name: tag }] };
}

/** Answers a Metadata request with its topic name as the cluster id. */
function echo({ req, conn }: PeerRequest): void {
  if (req.apiKey !== ApiKeys.Metadata) return;
  conn.answer(req as DecodedRequest & { apiKey: 3 }, { ...defaultMetadataResponse(), clusterId: req.body.topics?.[0]?.name ?? null });
}

describe("NodeConnection: ApiVersions negotiation", () => {
  test("sends ApiVersions at the highest version we know, then uses the highest common version per API", async () => {
    const { clock, peer, open } = setup({
      onRequest: echo,
      apiVersions: [
        { apiKey: ApiKeys.ApiVersions, minVersion: 0, maxVersion: 4 },
        { apiKey: ApiKeys.Metadata, minVersion: 0, maxVersion: 7 },
        { apiKey: 9999, minVersion: 0, maxVersion: 3 },
      ],
    });
    const conn = open();
    expect(conn.state.kind).toBe("connecting");
    const ready = await settle(clock, conn.whenReady());
    expect(ready.value.ok).toBe(true);
    expect(peer.apiVersionsSeen).toEqual([4]);
    const apiVersionsReq = peer.connections[0]!.requests[0]!;
    expect(apiVersionsReq.header.clientId).toBe("bunka");
    expect(apiVersionsReq.body).toMatchObject({ clientSoftwareName: "bunka", clientSoftwareVersion: "0.1.0" });
    expect(conn.versions?.pick(ApiKeys.Metadata)).toBe(7);
    expect(conn.versions?.peer.get(9999)).toEqual({ min: 0, max: 3 });
    const r = await settle(clock, conn.send(ApiKeys.Metadata, tagged("x")));
    expect(r.value.ok && r.value.version).toBe(7);
    expect(r.value.ok && r.value.body.clusterId).toBe("x");
    expect(peer.requests()[0]?.apiVersion).toBe(7);
  });

  test("an ApiVersions version the peer rejects: retry at the maximum it lists (Kafka ≥ 2.4)", async () => {
    const { clock, peer, open } = setup({ apiVersionsMax: 2, onRequest: echo });
    const conn = open();
    expect((await settle(clock, conn.whenReady())).value.ok).toBe(true);
    expect(peer.apiVersionsSeen).toEqual([4, 2]);
    const r = await settle(clock, conn.send(ApiKeys.Metadata, tagged("y")));
    expect(r.value.ok).toBe(true);
  });

  test("an ApiVersions version the peer rejects without listing ranges: retry at v0", async () => {
    const { clock, peer, open } = setup({ apiVersionsMax: 1, listRangesOnUnsupported: false, onRequest: echo });
    const conn = open();
    expect((await settle(clock, conn.whenReady())).value.ok).toBe(true);
    expect(peer.apiVersionsSeen).toEqual([4, 0]);
  });

  test("an API the peer lacks fails with unsupportedVersion, unsent; the connection stays usable", async () => {
    const { clock, peer, open } = setup({
      onRequest: echo,
      apiVersions: [
        { apiKey: ApiKeys.ApiVersions, minVersion: 0, maxVersion: 4 },
        { apiKey: ApiKeys.Metadata, minVersion: 0, maxVersion: 12 },
      ],
    });
    const conn = open();
    const r = await settle(clock, conn.send(ApiKeys.DescribeCluster, { includeClusterAuthorizedOperations: false, endpointType: 1 }));
    expect(r.value.ok).toBe(false);
    if (r.value.ok) return;
    expect(r.value.error.kind).toBe("unsupportedVersion");
    expect(r.value.error.sent).toBe(false);
    expect(r.value.error.message).toContain("DescribeCluster");
    const bounded = await settle(clock, conn.send(ApiKeys.Metadata, tagged("z"), { minVersion: 13 }));
    expect(!bounded.value.ok && bounded.value.error.kind).toBe("unsupportedVersion");
    const capped = await settle(clock, conn.send(ApiKeys.Metadata, tagged("z"), { maxVersion: 4 }));
    expect(capped.value.ok && capped.value.version).toBe(4);
    expect(peer.requests().map((q) => q.apiKey)).toEqual([ApiKeys.Metadata]);
  });

  test("a body the negotiated version cannot carry fails with unsupportedVersion, not sent", async () => {
    const { clock, open } = setup({ onRequest: echo });
    const conn = open();
    // Null topics (all topics) exists from Metadata v1.
    const r = await settle(clock, conn.send(ApiKeys.Metadata, { ...defaultMetadataRequest(), topics: null }, { maxVersion: 0 }));
    expect(!r.value.ok && r.value.error.kind).toBe("unsupportedVersion");
    expect(conn.state.kind).toBe("ready");
  });

  test("a peer that never answers ApiVersions: set-up timeout, queued requests fail unsent", async () => {
    const { clock, open } = setup({ silent: true });
    const conn = open({ connectionSetupTimeoutMs: 5_000 });
    const pending = conn.send(ApiKeys.Metadata, tagged("a"), { timeoutMs: 60_000 });
    const ready = await settle(clock, conn.whenReady());
    expect(ready.ms).toBe(5_000);
    expect(!ready.value.ok && ready.value.error.kind).toBe("disconnected");
    expect(conn.state.kind === "closed" && conn.state.error.kind).toBe("timeout");
    const r = await settle(clock, pending);
    expect(!r.value.ok && r.value.error.sent).toBe(false);
  });
});

describe("NodeConnection: requests", () => {
  test("pipelined requests are answered in order, never more than inflightRequestsMax at once", async () => {
    const held: PeerRequest[] = [];
    let maxSeen = 0;
    const { clock, open } = setup({
      onRequest: (r) => {
        held.push(r);
        maxSeen = Math.max(maxSeen, held.length);
      },
    });
    const conn = open({ inflightRequestsMax: 3 });
    const results = Array.from({ length: 20 }, (_, i) => conn.send(ApiKeys.Metadata, tagged(`t${i}`)));
    await until(clock, () => held.length === 3);
    await run(clock, 50);
    expect(held.length).toBe(3);
    expect(conn.inflightCount).toBe(3);
    expect(conn.queuedCount).toBe(17);
    // Answer in batches, as a broker does: in order.
    let answered = 0;
    while (answered < 20) {
      await until(clock, () => held.length > 0);
      const batch = held.splice(0, held.length);
      for (const r of batch) echo(r);
      answered += batch.length;
    }
    const out = await settle(clock, Promise.all(results));
    expect(out.value.map((r) => (r.ok ? r.body.clusterId : r.error.message))).toEqual(Array.from({ length: 20 }, (_, i) => `t${i}`));
    expect(maxSeen).toBe(3);
  });

  test("queuedRequestsMax: requests beyond the queue fail at once with queueFull", async () => {
    const { clock, open } = setup({ onRequest: () => {} });
    const conn = open({ inflightRequestsMax: 1, queuedRequestsMax: 2 });
    await settle(clock, conn.whenReady());
    const a = conn.send(ApiKeys.Metadata, tagged("1"), { timeoutMs: 1000 });
    const b = conn.send(ApiKeys.Metadata, tagged("2"), { timeoutMs: 1000 });
    const c = conn.send(ApiKeys.Metadata, tagged("3"), { timeoutMs: 1000 });
    const d = await settle(clock, conn.send(ApiKeys.Metadata, tagged("4")), 0);
    expect(!d.value.ok && d.value.error.kind).toBe("queueFull");
    const all = await settle(clock, Promise.all([a, b, c]));
    // One deadline for all three: the written one times out (closing the connection), the queued ones with it, unsent.
    expect(all.value.map((r) => !r.ok && [r.error.kind, r.error.sent])).toEqual([
      ["timeout", true],
      ["timeout", false],
      ["timeout", false],
    ]);
  });

  test("a written request that times out closes the connection; the others fail disconnected", async () => {
    const held: PeerRequest[] = [];
    const { clock, open } = setup({ onRequest: (r) => held.push(r) });
    const conn = open({ inflightRequestsMax: 2 });
    await settle(clock, conn.whenReady());
    const slow = conn.send(ApiKeys.Metadata, tagged("slow"), { timeoutMs: 500 });
    const other = conn.send(ApiKeys.Metadata, tagged("other"), { timeoutMs: 60_000 });
    const queued = conn.send(ApiKeys.Metadata, tagged("queued"), { timeoutMs: 60_000 });
    const r = await settle(clock, slow);
    expect(r.ms).toBe(500);
    expect(!r.value.ok && r.value.error.kind).toBe("timeout");
    expect(!r.value.ok && r.value.error.sent).toBe(true);
    expect(conn.state.kind).toBe("closed");
    const o = await settle(clock, other);
    expect(!o.value.ok && [o.value.error.kind, o.value.error.sent]).toEqual(["disconnected", true]);
    const q = await settle(clock, queued);
    expect(!q.value.ok && [q.value.error.kind, q.value.error.sent]).toEqual(["disconnected", false]);
    // The late answer goes nowhere.
    echo(held[0]!);
    await run(clock, 10);
  });

  test("a queued request that times out fails alone; the connection stays", async () => {
    const held: PeerRequest[] = [];
    const { clock, open } = setup({ onRequest: (r) => held.push(r) });
    const conn = open({ inflightRequestsMax: 1 });
    await settle(clock, conn.whenReady());
    const first = conn.send(ApiKeys.Metadata, tagged("first"), { timeoutMs: 10_000 });
    const second = conn.send(ApiKeys.Metadata, tagged("second"), { timeoutMs: 200 });
    const s = await settle(clock, second);
    expect(!s.value.ok && [s.value.error.kind, s.value.error.sent]).toEqual(["timeout", false]);
    expect(conn.state.kind).toBe("ready");
    echo(held[0]!);
    const f = await settle(clock, first);
    expect(f.value.ok).toBe(true);
    expect(held.length).toBe(1);
  });

  test("acks=0 produce resolves once written, gets no response, and the next request still matches", async () => {
    const { clock, peer, open } = setup({ onRequest: echo });
    const conn = open();
    const produce = { ...defaultProduceRequest(), acks: 0, timeoutMs: 1000, topicData: [] };
    expect(() => conn.send(ApiKeys.Produce, produce)).toThrow("sendOneWay");
    const sent = await settle(clock, conn.sendOneWay(ApiKeys.Produce, produce));
    expect(sent.value.ok).toBe(true);
    expect(conn.inflightCount).toBe(0);
    const r = await settle(clock, conn.send(ApiKeys.Metadata, tagged("after")));
    expect(r.value.ok && r.value.body.clusterId).toBe("after");
    expect(peer.requests().map((q) => q.apiKey)).toEqual([ApiKeys.Produce, ApiKeys.Metadata]);
  });

  test("a request above requestFrameBytesMax is refused unsent; the connection stays", async () => {
    const { clock, open } = setup({ onRequest: echo });
    const conn = open({ requestFrameBytesMax: 200 });
    const r = await settle(clock, conn.send(ApiKeys.Metadata, tagged("x".repeat(300))));
    expect(!r.value.ok && [r.value.error.kind, r.value.error.sent]).toEqual(["tooLarge", false]);
    const ok = await settle(clock, conn.send(ApiKeys.Metadata, tagged("small")));
    expect(ok.value.ok).toBe(true);
  });

  test("close() fails every pending request with kind closed; later sends too", async () => {
    const { clock, open } = setup({ onRequest: () => {} });
    const conn = open({ inflightRequestsMax: 1 });
    await settle(clock, conn.whenReady());
    const a = conn.send(ApiKeys.Metadata, tagged("a"));
    const b = conn.send(ApiKeys.Metadata, tagged("b"));
    await run(clock, 5);
    conn.close();
    const all = await settle(clock, Promise.all([a, b]));
    expect(all.value.map((r) => !r.ok && [r.error.kind, r.error.sent])).toEqual([
      ["closed", true],
      ["closed", false],
    ]);
    const later = await settle(clock, conn.send(ApiKeys.Metadata, tagged("c")));
    expect(!later.value.ok && later.value.error.kind).toBe("closed");
  });

  test("a peer that goes away: in-flight requests fail disconnected (sent), queued ones unsent", async () => {
    const { clock, peer, open } = setup({ onRequest: () => {} });
    const conn = open({ inflightRequestsMax: 1 });
    await settle(clock, conn.whenReady());
    const a = conn.send(ApiKeys.Metadata, tagged("a"));
    const b = conn.send(ApiKeys.Metadata, tagged("b"));
    await run(clock, 5);
    peer.stop();
    const all = await settle(clock, Promise.all([a, b]));
    expect(all.value.map((r) => !r.ok && [r.error.kind, r.error.sent])).toEqual([
      ["disconnected", true],
      ["disconnected", false],
    ]);
  });

  test("nothing listening: the connection closes disconnected with the network's reason", async () => {
    const { clock, net, peer } = setup();
    peer.stop();
    const conn = new NodeConnection({ network: net.host(CLIENT), clock, host: SERVER, port: peer.port, config: clientConfig() });
    const r = await settle(clock, conn.whenReady());
    expect(!r.value.ok && r.value.error.kind).toBe("disconnected");
    expect(!r.value.ok && r.value.error.message).toContain("ECONNREFUSED");
  });
});

describe("NodeConnection: a peer breaking the protocol closes the connection with a typed error", () => {
  const frameOf = (payload: number[]): Uint8Array => {
    const out = new Uint8Array(4 + payload.length);
    new DataView(out.buffer).setInt32(0, payload.length);
    out.set(payload, 4);
    return out;
  };
  const cases: { name: string; kind: ClientErrorKind; reply: (r: PeerRequest) => Uint8Array }[] = [
    {
      name: "a wrong correlation id",
      kind: "protocol",
      reply: ({ req }) => {
        const id = req.header.correlationId + 7;
        return frameOf([id >>> 24, (id >>> 16) & 255, (id >>> 8) & 255, id & 255, 0, 0]);
      },
    },
    {
      name: "an undecodable body",
      kind: "protocol",
      reply: ({ req }) => {
        const id = req.header.correlationId;
        return frameOf([id >>> 24, (id >>> 16) & 255, (id >>> 8) & 255, id & 255, 0xff, 0xff, 0xff]);
      },
    },
    { name: "a frame too short for a header", kind: "protocol", reply: () => frameOf([1, 2]) },
    { name: "a negative frame size", kind: "protocol", reply: () => new Uint8Array([0xff, 0xff, 0xff, 0xf0, 1, 2, 3]) },
    { name: "an absurd frame size", kind: "tooLarge", reply: () => new Uint8Array([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]) },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const { clock, open } = setup({ onRequest: (r) => r.conn.raw(c.reply(r)) });
      const conn = open({ responseFrameBytesMax: 1 << 20 });
      const r = await settle(clock, conn.send(ApiKeys.Metadata, tagged("x")));
      expect(!r.value.ok && [r.value.error.kind, r.value.error.sent]).toEqual([c.kind, true]);
      expect(conn.state.kind).toBe("closed");
    });
  }

  test("a response when nothing is in flight", async () => {
    const { clock, peer, open } = setup();
    const conn = open();
    await settle(clock, conn.whenReady());
    peer.connections[0]!.raw(frameOf([0, 0, 0, 9, 0]));
    await until(clock, () => conn.state.kind === "closed");
    expect(conn.state.kind === "closed" && conn.state.error.kind).toBe("protocol");
  });

  test("an oversized response is refused from its prefix, before its bytes arrive", async () => {
    const { clock, open } = setup({
      onRequest: ({ req, conn }) => {
        const id = req.header.correlationId;
        const size = 50 * 1024 * 1024;
        conn.raw(new Uint8Array([size >>> 24, (size >>> 16) & 255, (size >>> 8) & 255, size & 255, id >>> 24, (id >>> 16) & 255, (id >>> 8) & 255, id & 255]));
      },
    });
    const conn = open({ responseFrameBytesMax: 1024 * 1024 });
    const r = await settle(clock, conn.send(ApiKeys.Metadata, tagged("x")));
    expect(!r.value.ok && r.value.error.kind).toBe("tooLarge");
    expect(!r.value.ok && r.value.error.message).toContain("52428800");
  });
});

describe("FrameReader", () => {
  test("frames split at every byte boundary and merged across chunks come out whole", () => {
    const prng = new SeededPrng(3);
    const payloads = Array.from({ length: 50 }, (_, i) => prng.fill(new Uint8Array(i === 7 ? 0 : 1 + prng.int(300))));
    const stream: number[] = [];
    for (const p of payloads) stream.push(p.length >>> 24, (p.length >>> 16) & 255, (p.length >>> 8) & 255, p.length & 255, ...p);
    const bytes = new Uint8Array(stream);
    for (const seed of [1, 2, 3]) {
      const cut = new SeededPrng(seed);
      const reader = new FrameReader(1000);
      const out: Uint8Array[] = [];
      let at = 0;
      while (at < bytes.length) {
        const n = 1 + cut.int(Math.min(40, bytes.length - at));
        const r = reader.push(bytes.subarray(at, at + n));
        expect(r.ok).toBe(true);
        out.push(...r.frames);
        at += n;
      }
      expect(out).toEqual(payloads);
      expect(reader.bufferedBytes).toBe(0);
    }
  });

  test("a size above the bound is reported before any allocation; frames before it still come out", () => {
    const reader = new FrameReader(10);
    const r = reader.push(new Uint8Array([0, 0, 0, 1, 42, 0, 0, 0, 11]));
    expect(r.ok).toBe(false);
    expect(r.frames.map((f) => [...f])).toEqual([[42]]);
    expect(!r.ok && r.problem).toEqual({ kind: "tooLarge", size: 11 });
    expect(() => reader.push(new Uint8Array([1]))).toThrow();
  });
});
