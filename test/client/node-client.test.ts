/**
 * NodeClient on the simulated network: the reconnect backoff schedule (reproducible from the
 * Prng seed), reconnecting after the peer restarts, resending requests that were never
 * written, endpoint changes, partitions, and closing.
 */
import { describe, expect, test } from "bun:test";
import { backoffMs } from "../../src/client/backoff.ts";
import { reconnectBackoffJitter } from "../../src/client/config.ts";
import { NodeClient } from "../../src/client/node-client.ts";
import { SimClock } from "../../src/platform/clock.ts";
import type { Network } from "../../src/platform/network.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { SimNetwork } from "../../src/platform/sim/network.ts";
import type { DecodedRequest } from "../../src/protocol/frame.ts";
import { ApiKeys } from "../../src/protocol/messages/index.ts";
import { defaultMetadataRequest, type MetadataRequest } from "../../src/protocol/messages/metadata-request.ts";
import { defaultMetadataResponse } from "../../src/protocol/messages/metadata-response.ts";
import { FakePeer, type PeerRequest } from "./fake-peer.ts";
import { run, settle } from "./sim-driver.ts";

const A = "10.0.0.1";
const B = "10.0.0.3";
const CLIENT = "10.0.0.2";

function tagged(tag: string): MetadataRequest {
  return { ...defaultMetadataRequest(), topics: [{ topicId: "AAAAAAAAAAAAAAAAAAAAAA", name: tag }] };
}

/** Answers Metadata with `who` + the topic name as the cluster id. */
const echoAs =
  (who: string) =>
  ({ req, conn }: PeerRequest): void => {
    if (req.apiKey !== ApiKeys.Metadata) return;
    conn.answer(req as DecodedRequest & { apiKey: 3 }, { ...defaultMetadataResponse(), clusterId: `${who}:${req.body.topics?.[0]?.name ?? ""}` });
  };

function setup(seed = 1, reconnect = { reconnectBackoffMs: 100, reconnectBackoffMaxMs: 1000 }) {
  const clock = new SimClock();
  const net = new SimNetwork({ clock, prng: new SeededPrng(seed), link: { delayMs: 1, jitterMs: 0 }, splitWrites: true });
  // Known hosts with nothing listening yet: connects are refused after one round trip.
  net.host(A);
  net.host(B);
  const attempts: number[] = [];
  const base = net.host(CLIENT);
  const counting: Network = {
    listen: (o) => base.listen(o),
    connect: (o) => {
      attempts.push(clock.monotonicMs());
      return base.connect(o);
    },
  };
  const client = new NodeClient({ network: counting, clock, prng: new SeededPrng(seed * 7919), config: reconnect });
  return { clock, net, client, attempts };
}

describe("backoffMs", () => {
  test("grows ×2 from the initial wait, caps at the max, stays within ±20% jitter", () => {
    const policy = { initialMs: 50, maxMs: 1000, multiplier: 2, jitter: 0.2 };
    const prng = new SeededPrng(5);
    for (let failures = 0; failures < 40; failures++) {
      const term = Math.min(1000, 50 * 2 ** failures);
      for (let i = 0; i < 20; i++) {
        const w = backoffMs(policy, failures, prng);
        expect(w).toBeGreaterThanOrEqual(Math.floor(term * 0.8));
        expect(w).toBeLessThanOrEqual(Math.ceil(term * 1.2));
      }
    }
    expect(backoffMs({ ...policy, jitter: 0 }, 3, prng)).toBe(400);
    expect(backoffMs({ ...policy, jitter: 0 }, 1000, prng)).toBe(1000);
  });
});

describe("NodeClient", () => {
  test("reconnect attempts follow the seeded backoff schedule while a node refuses", async () => {
    const seed = 3;
    const { clock, client, attempts } = setup(seed);
    client.setEndpoint(1, { host: A, port: 9092, listenerName: "PLAINTEXT" });
    const r = await settle(clock, client.send(1, ApiKeys.Metadata, tagged("x"), { timeoutMs: 8_000 }));
    expect(!r.value.ok && r.value.error.kind).toBe("timeout");
    expect(r.ms).toBe(8_000);
    // Expected: refused after one round trip (2 ms), then the jittered backoff.
    const prng = new SeededPrng(seed * 7919);
    const policy = { initialMs: 100, maxMs: 1000, multiplier: 2, jitter: reconnectBackoffJitter };
    let t = 0;
    const expected = [0];
    for (let k = 0; ; k++) {
      t += 2 + Math.max(1, backoffMs(policy, k, prng));
      if (t >= 8_000) break;
      expected.push(t);
    }
    expect(attempts).toEqual(expected);
    expect(expected.length).toBeGreaterThan(8);
    expect(client.status(1)).toBe("backoff");
  });

  test("the same seed gives the same attempt times; another seed other ones", async () => {
    const times = async (seed: number): Promise<number[]> => {
      const { clock, client, attempts } = setup(seed);
      client.setEndpoint(1, { host: A, port: 9092, listenerName: "PLAINTEXT" });
      await settle(clock, client.send(1, ApiKeys.Metadata, tagged("x"), { timeoutMs: 5_000 }));
      return attempts;
    };
    expect(await times(11)).toEqual(await times(11));
    expect(await times(11)).not.toEqual(await times(12));
  });

  test("a peer restart: the written request fails, later ones wait out the backoff and succeed", async () => {
    const { clock, net, client } = setup();
    let peer = new FakePeer({ network: net.host(A), host: A, port: 9092, onRequest: echoAs("first") });
    client.setEndpoint(1, { host: A, port: 9092, listenerName: "PLAINTEXT" });
    const ok = await settle(clock, client.send(1, ApiKeys.Metadata, tagged("a")));
    expect(ok.value.ok && ok.value.body.clusterId).toBe("first:a");
    expect(client.status(1)).toBe("ready");

    const held: PeerRequest[] = [];
    peer.stop();
    peer = new FakePeer({ network: net.host(A), host: A, port: 9092, onRequest: (r) => held.push(r) });
    // The old connection is gone (the peer "crashed"): the next request reconnects.
    const during = await settle(clock, client.send(1, ApiKeys.Metadata, tagged("b"), { timeoutMs: 5_000 }), 10_000);
    expect(during.value.ok).toBe(false);
    peer.stop();
    peer = new FakePeer({ network: net.host(A), host: A, port: 9092, onRequest: echoAs("second") });
    const after = await settle(clock, client.send(1, ApiKeys.Metadata, tagged("c")));
    expect(after.value.ok && after.value.body.clusterId).toBe("second:c");
  });

  test("a request sent while the node is down is written once it is back, within its timeout", async () => {
    const { clock, net, client, attempts } = setup();
    client.setEndpoint(1, { host: A, port: 9092, listenerName: "PLAINTEXT" });
    const pending = client.send(1, ApiKeys.Metadata, tagged("late"), { timeoutMs: 10_000 });
    await run(clock, 3_000);
    expect(attempts.length).toBeGreaterThan(3);
    const peer = new FakePeer({ network: net.host(A), host: A, port: 9092, onRequest: echoAs("up") });
    const r = await settle(clock, pending);
    expect(r.value.ok && r.value.body.clusterId).toBe("up:late");
    expect(peer.requests().length).toBe(1);
  });

  test("waitForConnection: false fails at once while the node is unreachable", async () => {
    const { clock, client } = setup();
    client.setEndpoint(1, { host: A, port: 9092, listenerName: "PLAINTEXT" });
    const first = await settle(clock, client.send(1, ApiKeys.Metadata, tagged("x"), { waitForConnection: false }));
    expect(!first.value.ok && [first.value.error.kind, first.value.error.sent]).toEqual(["disconnected", false]);
    expect(first.ms).toBeLessThan(10);
    const second = await settle(clock, client.send(1, ApiKeys.Metadata, tagged("x"), { waitForConnection: false }), 0);
    expect(!second.value.ok && second.value.error.message).toContain("backoff");
  });

  test("an endpoint change moves the node's connection to the new address", async () => {
    const { clock, net, client } = setup();
    new FakePeer({ network: net.host(A), host: A, port: 9092, onRequest: echoAs("A") });
    new FakePeer({ network: net.host(B), host: B, port: 9092, onRequest: echoAs("B") });
    client.setEndpoint(1, { host: A, port: 9092, listenerName: "PLAINTEXT" });
    const a = await settle(clock, client.send(1, ApiKeys.Metadata, tagged("1")));
    expect(a.value.ok && a.value.body.clusterId).toBe("A:1");
    client.setEndpoint(1, { host: B, port: 9092, listenerName: "PLAINTEXT" });
    expect(client.status(1)).toBe("idle");
    const b = await settle(clock, client.send(1, ApiKeys.Metadata, tagged("2")));
    expect(b.value.ok && b.value.body.clusterId).toBe("B:2");
    expect(client.endpoint(1)?.host).toBe(B);
  });

  test("a partition: requests time out; after heal the node is reached again", async () => {
    const { clock, net, client } = setup();
    new FakePeer({ network: net.host(A), host: A, port: 9092, onRequest: echoAs("A") });
    client.setEndpoint(1, { host: A, port: 9092, listenerName: "PLAINTEXT" });
    expect((await settle(clock, client.send(1, ApiKeys.Metadata, tagged("1")))).value.ok).toBe(true);
    net.partition([A], [CLIENT]);
    const cut = await settle(clock, client.send(1, ApiKeys.Metadata, tagged("2"), { timeoutMs: 2_000 }));
    expect(!cut.value.ok && [cut.value.error.kind, cut.value.error.sent]).toEqual(["timeout", true]);
    expect(cut.ms).toBe(2_000);
    const stillCut = await settle(clock, client.send(1, ApiKeys.Metadata, tagged("3"), { timeoutMs: 2_000 }));
    expect(!stillCut.value.ok && [stillCut.value.error.kind, stillCut.value.error.sent]).toEqual(["timeout", false]);
    net.heal();
    const healed = await settle(clock, client.send(1, ApiKeys.Metadata, tagged("4")));
    expect(healed.value.ok && healed.value.body.clusterId).toBe("A:4");
  });

  test("endpoints by listener name: the named listener is used; a node without it is forgotten", async () => {
    const { clock, net, client } = setup();
    new FakePeer({ network: net.host(A), host: A, port: 9093, onRequest: echoAs("controller-listener") });
    const listeners = [
      { name: "PLAINTEXT", host: A, port: 9092 },
      { name: "CONTROLLER", host: A, port: 9093 },
    ];
    expect(client.setEndpointFromListeners(1, listeners, "CONTROLLER")).toBe(true);
    expect(client.endpoint(1)).toEqual({ host: A, port: 9093, listenerName: "CONTROLLER" });
    const r = await settle(clock, client.send(1, ApiKeys.Metadata, tagged("q")));
    expect(r.value.ok && r.value.body.clusterId).toBe("controller-listener:q");
    expect(client.setEndpointFromListeners(1, listeners.slice(0, 1), "CONTROLLER")).toBe(false);
    expect(client.status(1)).toBe("unknown");
  });

  test("unknown nodes, removed nodes and close() give typed errors", async () => {
    const { clock, net, client } = setup();
    new FakePeer({ network: net.host(A), host: A, port: 9092, onRequest: () => {} });
    const unknown = await settle(clock, client.send(7, ApiKeys.Metadata, tagged("x")));
    expect(!unknown.value.ok && unknown.value.error.kind).toBe("disconnected");
    client.setEndpoint(1, { host: A, port: 9092, listenerName: "PLAINTEXT" });
    expect((await settle(clock, client.ready(1))).value.ok).toBe(true);
    const pending = client.send(1, ApiKeys.Metadata, tagged("x"));
    await run(clock, 5);
    expect(client.inflightCount(1)).toBe(1);
    client.close();
    const r = await settle(clock, pending);
    expect(!r.value.ok && r.value.error.kind).toBe("closed");
    const later = await settle(clock, client.send(1, ApiKeys.Metadata, tagged("x")));
    expect(!later.value.ok && later.value.error.kind).toBe("closed");
  });
});
