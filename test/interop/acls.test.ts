/**
 * ACLs on a real broker process with kafkajs (createAcls/describeAcls/deleteAcls, a producer
 * and a consumer), all as User:ANONYMOUS (PLAINTEXT):
 *
 * 1. Started with the StandardAuthorizer and allow.everyone.if.no.acl.found=true: nothing
 *    names the cluster yet, so the anonymous admin may grant itself ALL on the cluster.
 * 2. Restarted with allow.everyone.if.no.acl.found=false: the cluster ACL survived (the admin
 *    still works), and with no ACL on the topic or group, produce and consume are refused
 *    with authorization errors.
 * 3. CreateAcls allowing WRITE/READ on the topic and READ on the group: produce and consume
 *    work. DeleteAcls of the topic ACLs: produce is refused again.
 * 4. Restarted again: the remaining ACLs are described as before, and still enforced.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { AclOperationTypes, AclPermissionTypes, AclResourceTypes, type AclEntry, type AclFilter, Kafka, logLevel, ResourcePatternTypes } from "kafkajs";
import { brokerPerFile } from "./broker-process.ts";

setDefaultTimeout(120_000);

const AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer";
const { b, g } = brokerPerFile({ name: "acls", sets: { "authorizer.class.name": AUTHORIZER, "allow.everyone.if.no.acl.found": "true" } });

const topic = "acl-orders";
const groupId = "acl-group";

function client(): Kafka {
  return new Kafka({ clientId: "bunka-acls", brokers: [b().bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 300 }, connectionTimeout: 3000, requestTimeout: 10_000 });
}

async function withAdmin<T>(body: (a: ReturnType<Kafka["admin"]>) => Promise<T>): Promise<T> {
  const a = client().admin();
  await a.connect();
  try {
    return await body(a);
  } finally {
    await a.disconnect();
  }
}

const anonymous = (resourceType: AclResourceTypes, resourceName: string, operation: AclOperationTypes): AclEntry => ({
  resourceType,
  resourceName,
  resourcePatternType: ResourcePatternTypes.LITERAL,
  principal: "User:ANONYMOUS",
  host: "*",
  operation,
  permissionType: AclPermissionTypes.ALLOW,
});

const everything: AclFilter = {
  resourceType: AclResourceTypes.ANY,
  resourcePatternType: ResourcePatternTypes.ANY,
  operation: AclOperationTypes.ANY,
  permissionType: AclPermissionTypes.ANY,
};

/** Resolves with the error a produce of one record fails with, or null when it succeeds. */
async function produceError(value: string): Promise<string | null> {
  const producer = client().producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: [{ value }] });
    return null;
  } catch (e) {
    return describeError(e);
  } finally {
    await producer.disconnect();
  }
}

function describeError(e: unknown): string {
  const err = e as { type?: string; message?: string; originalError?: { type?: string }; cause?: { type?: string } };
  return [err.type, err.originalError?.type, err.cause?.type, err.message].filter((x) => x !== undefined).join(" ");
}

/** Consumes from the start until `count` records arrive or an error stops the consumer. */
async function consume(count: number): Promise<{ values: string[]; error: string | null }> {
  const consumer = client().consumer({ groupId, retry: { retries: 0 }, sessionTimeout: 10_000, heartbeatInterval: 500 });
  const values: string[] = [];
  let error: string | null = null;
  try {
    await consumer.connect();
    const crashed = new Promise<void>((resolve) =>
      consumer.on(consumer.events.CRASH, (event) => {
        error = describeError(event.payload.error);
        resolve();
      }),
    );
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const done = new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          values.push(message.value?.toString() ?? "");
          if (values.length >= count) resolve();
        },
      });
    });
    await Promise.race([done, crashed, Bun.sleep(30_000)]);
  } catch (e) {
    error = describeError(e);
  } finally {
    await consumer.disconnect().catch(() => {});
  }
  return { values, error };
}

describe("ACLs with kafkajs on a real broker", () => {
  test(
    "refused without ACLs, allowed after createAcls, refused after deleteAcls, and the ACLs survive restarts",
    g(async () => {
      // 1. Open cluster: grant the anonymous admin the cluster, and create the topic.
      await withAdmin(async (a) => {
        await a.createAcls({ acl: [anonymous(AclResourceTypes.CLUSTER, "kafka-cluster", AclOperationTypes.ALL)] });
        await a.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
      });

      // 2. Closed: what no ACL names is refused.
      await b().stop();
      b().configure({ "allow.everyone.if.no.acl.found": "false" });
      await b().restart();
      const afterRestart = await withAdmin((a) => a.describeAcls(everything));
      expect(afterRestart.resources.map((r) => [r.resourceType, r.resourceName, r.acls.map((x) => x.operation)])).toEqual([[AclResourceTypes.CLUSTER, "kafka-cluster", [AclOperationTypes.ALL]]]);
      expect(await produceError("refused")).toContain("TOPIC_AUTHORIZATION_FAILED");
      const refusedConsume = await consume(1);
      expect(refusedConsume.values).toEqual([]);
      expect(refusedConsume.error).toMatch(/AUTHORIZATION_FAILED/);

      // 3. Allowed by ACLs.
      await withAdmin((a) =>
        a.createAcls({
          acl: [
            anonymous(AclResourceTypes.TOPIC, topic, AclOperationTypes.WRITE),
            anonymous(AclResourceTypes.TOPIC, topic, AclOperationTypes.READ),
            anonymous(AclResourceTypes.GROUP, groupId, AclOperationTypes.READ),
          ],
        }),
      );
      expect(await produceError("allowed-1")).toBeNull();
      const consumed = await consume(1);
      expect(consumed).toEqual({ values: ["allowed-1"], error: null });

      const deleted = await withAdmin((a) =>
        a.deleteAcls({ filters: [{ ...everything, resourceType: AclResourceTypes.TOPIC, resourceName: topic, resourcePatternType: ResourcePatternTypes.LITERAL }] }),
      );
      expect(deleted.filterResponses[0]!.matchingAcls.map((m) => m.operation).sort()).toEqual([AclOperationTypes.READ, AclOperationTypes.WRITE].sort());
      expect(await produceError("refused-again")).toContain("TOPIC_AUTHORIZATION_FAILED");

      // 4. The ACLs left (cluster ALL, group READ) are there after a restart, and enforced.
      const before = await withAdmin((a) => a.describeAcls(everything));
      await b().stop();
      await b().restart();
      const after = await withAdmin((a) => a.describeAcls(everything));
      expect(after.resources).toEqual(before.resources);
      expect(after.resources.map((r) => r.resourceName).sort()).toEqual([groupId, "kafka-cluster"].sort());
      expect(await produceError("refused-after-restart")).toContain("TOPIC_AUTHORIZATION_FAILED");
    }),
  );
});
