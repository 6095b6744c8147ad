/**
 * Drives kafkajs against the capture fake broker (scripts/capture.ts) so its requests are
 * saved as golden fixtures. Not a test: run by test/golden/drivers/capture-all.sh.
 *
 *   bun test/golden/drivers/kafkajs.ts <port> <admin|producer|producer-gzip|consumer>
 *
 * admin: createTopics, fetchTopicOffsets (ListOffsets), describeConfigs (topic retention.ms),
 * listGroups, describeGroups, deleteTopics.
 *
 * What each scenario sends is what test/protocol/golden/golden.test.ts expects to decode:
 * topic "golden-js", client id "golden-kafkajs", group "golden-js-group", and the produced
 * records key "k<i>" / value "golden-<i>" for i = 1..3 with header "h" = "v<i>".
 */
import { CompressionTypes, ConfigResourceTypes, Kafka, logLevel } from "kafkajs";

const port = Number(process.argv[2]);
const scenario = process.argv[3];
if (!Number.isInteger(port) || port <= 0) throw new Error("usage: kafkajs.ts <port> <scenario>");

const topic = "golden-js";
const kafka = new Kafka({ clientId: "golden-kafkajs", brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 2 } });

const messages = [1, 2, 3].map((i) => ({ key: `k${i}`, value: `golden-${i}`, headers: { h: `v${i}` } }));

async function admin(): Promise<void> {
  const a = kafka.admin();
  await a.connect();
  await a.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: false });
  await a.fetchTopicOffsets(topic);
  await a.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ["retention.ms"] }], includeSynonyms: false });
  await a.listGroups();
  await a.describeGroups(["golden-js-group"]);
  await a.deleteTopics({ topics: [topic] });
  await a.disconnect();
}

async function producer(compression: CompressionTypes): Promise<void> {
  const p = kafka.producer({ allowAutoTopicCreation: false });
  await p.connect();
  await p.send({ topic, acks: -1, timeout: 5000, compression, messages });
  await p.disconnect();
}

async function consumer(): Promise<void> {
  const c = kafka.consumer({ groupId: "golden-js-group", heartbeatInterval: 300, sessionTimeout: 10000, maxWaitTimeInMs: 100 });
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  let resolveGot: () => void = () => {};
  const got = new Promise<void>((r) => {
    resolveGot = r;
  });
  await c.run({
    eachMessage: async () => {
      resolveGot();
    },
  });
  await got;
  // Long enough for the post-batch commit and a couple of heartbeats.
  await new Promise((r) => setTimeout(r, 1500));
  await c.disconnect();
}

switch (scenario) {
  case "admin":
    await admin();
    break;
  case "producer":
    await producer(CompressionTypes.None);
    break;
  case "producer-gzip":
    await producer(CompressionTypes.GZIP);
    break;
  case "consumer":
    await consumer();
    break;
  default:
    throw new Error(`unknown scenario ${scenario}`);
}
