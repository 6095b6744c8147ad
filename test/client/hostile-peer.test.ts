/**
 * Peers that break the protocol, over real TCP (the simulated-network versions are in
 * node-connection.test.ts): garbage, a wrong correlation id, an absurd frame size, a peer that
 * closes mid-response. Each closes that connection with a typed error; nothing throws out of
 * the client, and the client still works with a well-behaved peer afterwards.
 */
import { expect, test } from "bun:test";
import { type ClientErrorKind } from "../../src/client/errors.ts";
import { clientConfig } from "../../src/client/config.ts";
import { NodeClient } from "../../src/client/node-client.ts";
import { NodeConnection } from "../../src/client/node-connection.ts";
import { systemClock } from "../../src/platform/bun/clock.ts";
import { bunNetwork } from "../../src/platform/bun/network.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import type { DecodedRequest } from "../../src/protocol/frame.ts";
import { ApiKeys } from "../../src/protocol/messages/index.ts";
import { defaultMetadataRequest } from "../../src/protocol/messages/metadata-request.ts";
import { defaultMetadataResponse } from "../../src/protocol/messages/metadata-response.ts";
import { FakePeer, type PeerRequest } from "./fake-peer.ts";

const be32 = (v: number): number[] => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];

const behaviours: { name: string; kind: ClientErrorKind; act: (r: PeerRequest) => void }[] = [
  { name: "random garbage (read as a ~1 GiB size)", kind: "tooLarge", act: ({ conn }) => conn.raw(new SeededPrng(4).fill(new Uint8Array(64)).map((b, i) => (i === 0 ? 0x3f : b))) },
  { name: "a wrong correlation id", kind: "protocol", act: ({ req, conn }) => conn.raw(new Uint8Array([...be32(8), ...be32(req.header.correlationId + 1), 0, 0, 0, 0])) },
  { name: "an absurd frame size", kind: "tooLarge", act: ({ conn }) => conn.raw(new Uint8Array([0x7f, 0xff, 0xff, 0xff])) },
  { name: "a negative frame size", kind: "protocol", act: ({ conn }) => conn.raw(new Uint8Array([0x80, 0, 0, 0])) },
  { name: "a body that does not decode", kind: "protocol", act: ({ req, conn }) => conn.raw(new Uint8Array([...be32(7), ...be32(req.header.correlationId), 0xff, 0xff, 0xff])) },
  { name: "closing halfway through a response", kind: "disconnected", act: ({ req, conn }) => {
      conn.raw(new Uint8Array([...be32(100), ...be32(req.header.correlationId), 1, 2]));
      conn.close();
    } },
];

for (const b of behaviours) {
  test(`over TCP, a peer sending ${b.name}: a typed error, the client goes on`, async () => {
    let hostile = true;
    const peer = new FakePeer({
      network: bunNetwork,
      host: "127.0.0.1",
      onRequest: (r) => {
        if (hostile) b.act(r);
        else if (r.req.apiKey === ApiKeys.Metadata) r.conn.answer(r.req as DecodedRequest & { apiKey: 3 }, { ...defaultMetadataResponse(), clusterId: "fine" });
      },
    });
    const client = new NodeClient({ network: bunNetwork, clock: systemClock, prng: new SeededPrng(1), config: { responseFrameBytesMax: 1 << 20, reconnectBackoffMs: 1 } });
    client.setEndpoint(1, { host: "127.0.0.1", port: peer.port, listenerName: "PLAINTEXT" });
    try {
      const r = await client.send(1, ApiKeys.Metadata, { ...defaultMetadataRequest(), topics: [] }, { timeoutMs: 5_000 });
      expect(!r.ok && [r.error.kind, r.error.sent]).toEqual([b.kind, true]);
      hostile = false;
      const next = await client.send(1, ApiKeys.Metadata, { ...defaultMetadataRequest(), topics: [] }, { timeoutMs: 5_000 });
      expect(next.ok && next.body.clusterId).toBe("fine");
    } finally {
      client.close();
      peer.stop();
    }
  });
}

test("over TCP, something that is not Kafka (an HTTP server): set-up fails with a typed error", async () => {
  const listener = bunNetwork.listen({
    host: "127.0.0.1",
    port: 0,
    accept: (conn) => ({
      data: () => {
        conn.write(new TextEncoder().encode("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"));
        conn.end();
      },
      drain: () => {},
      close: () => {},
    }),
  });
  const conn = new NodeConnection({ network: bunNetwork, clock: systemClock, host: "127.0.0.1", port: listener.port, config: clientConfig() });
  try {
    const ready = await conn.whenReady();
    expect(ready.ok).toBe(false);
    // "HTTP" read as a size prefix is 1.2 GB: refused before allocating.
    expect(conn.state.kind === "closed" && conn.state.error.kind).toBe("tooLarge");
  } finally {
    listener.stop();
  }
});
