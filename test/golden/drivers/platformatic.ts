/**
 * Drives @platformatic/kafka against the capture fake broker (scripts/capture.ts) so its
 * requests are saved as golden fixtures. Not a test: run by test/golden/drivers/capture-all.sh.
 *
 *   bun test/golden/drivers/platformatic.ts <port> <scenario>
 *
 * Scenarios: admin (createTopics, listOffsets, describeConfigs of the topic's retention.ms,
 * listGroups, describeGroups, deleteTopics), producer (acks -1, uncompressed), producer-snappy, producer-lz4 (acks -1,
 * not idempotent), producer-idempotent-zstd (idempotent: InitProducerId first, then a batch
 * with producer id/epoch/sequence), consumer.
 * Topic "golden-pt", client id "golden-platformatic", group "golden-pt-group"; produced
 * records are key "k<i>" / value "golden-<i>" with header "h" = "v<i>" for i = 1..3.
 */
import { Admin, type CompressionAlgorithmValue, Consumer, Producer, stringDeserializers, stringSerializers } from "@platformatic/kafka";

const port = Number(process.argv[2]);
const scenario = process.argv[3];
if (!Number.isInteger(port) || port <= 0) throw new Error("usage: platformatic.ts <port> <scenario>");

const topic = "golden-pt";
const base = { clientId: "golden-platformatic", bootstrapBrokers: [`127.0.0.1:${port}`] };

async function admin(): Promise<void> {
  const a = new Admin(base);
  await a.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
  await a.listOffsets({ topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -2n }] }] });
  await a.describeConfigs({ resources: [{ resourceType: 2, resourceName: topic, configurationKeys: ["retention.ms"] }] });
  await a.listGroups();
  await a.describeGroups({ groups: ["golden-pt-group"] });
  await a.deleteTopics({ topics: [topic] });
  await a.close();
}

async function producer(compression: CompressionAlgorithmValue, idempotent: boolean): Promise<void> {
  const p = new Producer({ ...base, serializers: stringSerializers, idempotent });
  await p.send({
    acks: -1,
    compression,
    messages: [1, 2, 3].map((i) => ({ topic, key: `k${i}`, value: `golden-${i}`, headers: { h: `v${i}` } })),
  });
  await p.close();
}

async function consumer(): Promise<void> {
  const c = new Consumer({ ...base, groupId: "golden-pt-group", deserializers: stringDeserializers, sessionTimeout: 10000, heartbeatInterval: 300, maxWaitTime: 100 });
  const stream = await c.consume({ topics: [topic], mode: "committed", fallbackMode: "earliest", autocommit: false });
  for await (const message of stream) {
    await message.commit();
    break;
  }
  await new Promise((r) => setTimeout(r, 1000));
  await stream.close();
  await c.close();
}

switch (scenario) {
  case "admin":
    await admin();
    break;
  case "producer":
    await producer("none", false);
    break;
  case "producer-snappy":
    await producer("snappy", false);
    break;
  case "producer-lz4":
    await producer("lz4", false);
    break;
  case "producer-idempotent-zstd":
    await producer("zstd", true);
    break;
  case "consumer":
    await consumer();
    break;
  default:
    throw new Error(`unknown scenario ${scenario}`);
}
