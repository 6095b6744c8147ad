/**
 * Log lines a misbehaving client causes again and again are rate-limited (limits.ts,
 * util/log-limiter.ts) and name the client: the real dispatcher and handlers behind a Server
 * on a fake network, time on the broker's SimClock.
 *
 * The case behind it: segmentio kafka-go 0.2.1 polls with Fetch v2, below what bunka serves:
 * the log had a line per attempt. Fetch v0–v3 are now answered UNSUPPORTED_VERSION on an open
 * connection (one line per connection and interval); requests that close the connection (an
 * api bunka does not serve, a version no Kafka has) are limited across reconnects.
 */
import { afterEach, expect, test } from "bun:test";
import { encodeRequest } from "../../src/protocol/frame.ts";
import { defaultApiVersionsRequest } from "../../src/protocol/messages/api-versions-request.ts";
import { defaultDescribeClientQuotasRequest } from "../../src/protocol/messages/describe-client-quotas-request.ts";
import { defaultFetchRequest } from "../../src/protocol/messages/fetch-request.ts";
import { ApiKeys, type ApiKey, type RequestBodies } from "../../src/protocol/messages/index.ts";
import { defaultInitProducerIdRequest } from "../../src/protocol/messages/init-producer-id-request.ts";
import { handlers } from "../../src/server/handlers/index.ts";
import { repeatedLogIntervalMs } from "../../src/server/limits.ts";
import { ProtocolViolation } from "../../src/server/dispatch.ts";
import { concat, fakeServer, FakeSocket, settle } from "./fakes.ts";
import { startTestBroker, type TestBroker } from "./harness.ts";

let broker: TestBroker | null = null;
afterEach(() => {
  broker?.close();
  broker = null;
});

async function setup() {
  const br = await startTestBroker({ handlers });
  broker = br;
  const { server, network, logs } = fakeServer(br.dispatch, {}, br.clock, "info");
  let port = 50_000;
  const connect = (address = "10.0.0.7") => {
    const socket = new FakeSocket(Number.POSITIVE_INFINITY, address, port++);
    return { socket, events: network.arrive(0, socket) };
  };
  const warnings = () => logs.records().filter((r) => r.level === "warn");
  return { br, server, logs, connect, warnings };
}

let correlationId = 0;
function request<K extends ApiKey>(apiKey: K, version: number, clientId: string, body: RequestBodies[K]): Uint8Array {
  return concat(encodeRequest(apiKey, version, ++correlationId, clientId, body));
}

/** ApiVersions v3 naming the client's software (KIP-511). */
function hello(clientId: string, name: string, version: string): Uint8Array {
  return request(ApiKeys.ApiVersions, 3, clientId, { ...defaultApiVersionsRequest(), clientSoftwareName: name, clientSoftwareVersion: version });
}

const fetchV2 = (clientId: string) => request(ApiKeys.Fetch, 2, clientId, { ...defaultFetchRequest(), maxWaitMs: 100 });

test("100 Fetch v2 requests on one connection: answered UNSUPPORTED_VERSION, one warning naming the client id and its software", async () => {
  const { connect, warnings } = await setup();
  const { socket, events } = connect();
  events.data(concat([hello("old-consumer", "kafka-go", "0.2.1"), ...Array.from({ length: 100 }, () => fetchV2("old-consumer"))]));
  await settle();
  expect(socket.closed).toBe(false); // answered with an error code per partition
  const lines = warnings();
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatchObject({
    clientId: "old-consumer",
    clientSoftwareName: "kafka-go",
    clientSoftwareVersion: "0.2.1",
    api: "Fetch",
    apiVersion: "2",
    servedMin: "4",
  });
  expect(lines[0]?.msg).toContain("refused an old Fetch version");
});

const describeQuotas = (clientId: string) => request(ApiKeys.DescribeClientQuotas, 1, clientId, defaultDescribeClientQuotasRequest());

test("a client that reconnects and retries a request that closes its connection 100 times writes one warning, then one count per interval", async () => {
  const { br, connect, warnings, server } = await setup();
  for (let i = 0; i < 100; i++) {
    const { socket, events } = connect();
    events.data(concat([hello("old-admin", "kafka-go", "0.2.1"), describeQuotas("old-admin")]));
    await settle(2);
    expect(socket.closed).toBe(true);
    br.clock.advance(50);
  }
  expect(warnings().length).toBe(1);
  // Another client on another host is a line of its own.
  const other = connect("10.0.0.8");
  other.events.data(describeQuotas("burrow"));
  await settle(2);
  expect(warnings().map((r) => `${r.clientId} ${r.api} v${r.apiVersion} ${r.clientSoftwareName}`)).toEqual(["old-admin DescribeClientQuotas v1 kafka-go", "burrow DescribeClientQuotas v1 null"]);

  br.clock.advance(repeatedLogIntervalMs);
  const summary = warnings()[2];
  expect(summary).toMatchObject({ clientId: "old-admin", clientSoftwareName: "kafka-go", clientSoftwareVersion: "0.2.1", suppressed: "99" });
  expect(warnings().length).toBe(3);
  await server.stop();
  expect(warnings().length).toBe(3);
});

test("a request a handler logs about: one line per connection and kind, the count written when the connection closes", async () => {
  const { br, connect, logs } = await setup();
  const refused = () => logs.records().filter((r) => r.msg?.startsWith("transactional producer refused"));
  const initTxn = (clientId: string) =>
    request(ApiKeys.InitProducerId, 4, clientId, { ...defaultInitProducerIdRequest(), transactionalId: "tx-1", transactionTimeoutMs: 60_000 });

  const a = connect();
  a.events.data(concat([hello("txn-app", "librdkafka", "2.0.2"), ...Array.from({ length: 100 }, () => initTxn("txn-app"))]));
  await settle();
  expect(a.socket.closed).toBe(false); // answered with an error code: the connection stays
  expect(refused()).toHaveLength(1);
  expect(refused()[0]).toMatchObject({
    level: "warn",
    conn: "1",
    api: "InitProducerId",
    apiVersion: "4",
    clientId: "txn-app",
    clientSoftwareName: "librdkafka",
    clientSoftwareVersion: "2.0.2",
    transactionalId: "tx-1",
  });

  // Another connection has its own count.
  const b = connect();
  b.events.data(initTxn("txn-app-2"));
  await settle();
  expect(refused().map((r) => `${r.conn} ${r.clientId} ${r.clientSoftwareName}`)).toEqual(["1 txn-app librdkafka", "2 txn-app-2 null"]);

  br.clock.advance(1_000);
  a.events.close();
  expect(refused()).toHaveLength(3);
  expect(refused()[2]).toMatchObject({ conn: "1", suppressed: "99", windowMs: "1000" });
  br.clock.advance(repeatedLogIntervalMs);
  expect(refused()).toHaveLength(3); // b's single line had nothing after it
});

test("garbage on the Kafka port (a TLS client): one warning per host and interval, however often it reconnects", async () => {
  const { br, connect, warnings } = await setup();
  const clientHello = new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
  for (let i = 0; i < 50; i++) {
    const { socket, events } = connect();
    events.data(clientHello);
    expect(socket.closed).toBe(true);
  }
  expect(warnings().map((r) => r.msg)).toEqual(["invalid request frame size; closing connection"]);
  br.clock.advance(repeatedLogIntervalMs);
  expect(warnings()[1]).toMatchObject({ msg: "invalid request frame size; closing connection", suppressed: "49", kind: "invalid frame size" });
});

test("each refused request is a ProtocolViolation with a stable kind and the client id", async () => {
  const { br } = await setup();
  const kindOf = async (frame: Uint8Array): Promise<string> => {
    try {
      await br.dispatch(frame.subarray(4), br.connection);
    } catch (e) {
      if (!(e instanceof ProtocolViolation)) throw e;
      return `${e.kind} / ${e.clientId}`;
    }
    throw new Error("dispatched");
  };
  const header = (apiKey: number, apiVersion: number, clientId: string, body: number[]) => {
    const id = new TextEncoder().encode(clientId);
    const bytes = [apiKey >> 8, apiKey & 0xff, apiVersion >> 8, apiVersion & 0xff, 0, 0, 0, 1, id.length >> 8, id.length & 0xff, ...id, ...body];
    return concat([new Uint8Array([0, 0, bytes.length >> 8, bytes.length & 0xff]), Uint8Array.from(bytes)]);
  };
  expect(await kindOf(header(999, 0, "b", []))).toBe("unknown api key 999 / b");
  expect(await kindOf(header(ApiKeys.Fetch, 99, "c", []))).toBe("unsupported version Fetch v99 / c");
  // Metadata v1 whose topic count says 2^31 - 1 in a 4-byte body.
  expect(await kindOf(header(ApiKeys.Metadata, 1, "d", [0x7f, 0xff, 0xff, 0xff]))).toBe("malformed Metadata v1 / d");
  expect(handlers.some((h) => h.apiKey === ApiKeys.DescribeClientQuotas)).toBe(false);
  expect(await kindOf(request(ApiKeys.DescribeClientQuotas, 1, "e", defaultDescribeClientQuotasRequest()))).toBe("unserved api DescribeClientQuotas / e");
});
