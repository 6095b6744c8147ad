/**
 * Dynamic broker configs on a real broker process with kafkajs's admin: a per-broker value set
 * with alterConfigs (resource type BROKER, name "1") is described back with its source
 * (DYNAMIC_BROKER_CONFIG) and synonyms, takes effect without a restart (a lowered
 * message.max.bytes refuses a larger produce with MESSAGE_TOO_LARGE), and is still there and
 * still in force after a SIGTERM and a start on the same data dir; clearing it restores the
 * static value. A read-only key is refused.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { ConfigResourceTypes, Kafka, logLevel, type Admin } from "kafkajs";
import { brokerPerFile } from "./broker-process.ts";

setDefaultTimeout(90_000);

const { b, g } = brokerPerFile({ name: "dyncfg", sets: { "message.max.bytes": "1000000" } });

function client(): Kafka {
  return new Kafka({ clientId: "bunka-dyncfg", brokers: [b().bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 500 }, connectionTimeout: 3000, requestTimeout: 10_000 });
}

async function withAdmin<T>(body: (a: Admin) => Promise<T>): Promise<T> {
  const a = client().admin();
  await a.connect();
  try {
    return await body(a);
  } finally {
    await a.disconnect();
  }
}

interface Entry {
  value: string | null;
  source: number;
  synonyms: [string, string | null, number][];
}

async function brokerConfigs(names: string[]): Promise<Record<string, Entry>> {
  return withAdmin(async (a) => {
    const r = await a.describeConfigs({ resources: [{ type: ConfigResourceTypes.BROKER, name: "1", configNames: names }], includeSynonyms: true });
    const out: Record<string, Entry> = {};
    for (const e of r.resources[0]!.configEntries) {
      const entry = e as typeof e & { configSource: number; configSynonyms: { configName: string; configValue: string | null; configSource: number }[] };
      out[e.configName] = { value: e.configValue, source: entry.configSource, synonyms: entry.configSynonyms.map((s) => [s.configName, s.configValue, s.configSource]) };
    }
    return out;
  });
}

/** Produces one message of `bytes` bytes (no retries); resolves with the error type, or "ok". */
async function produce(topic: string, bytes: number): Promise<string> {
  const p = client().producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
  await p.connect();
  try {
    await p.send({ topic, acks: -1, messages: [{ value: "x".repeat(bytes) }] });
    return "ok";
  } catch (error) {
    const e = error as { type?: string; originalError?: { type?: string } };
    return e.type ?? e.originalError?.type ?? String(error);
  } finally {
    await p.disconnect();
  }
}

describe("dynamic broker configs with kafkajs", () => {
  test(
    "set per broker, described with its source, live at once, kept across a restart, cleared back to static",
    g(async () => {
      const topic = "dyncfg-t";
      await withAdmin((a) => a.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true }));
      expect(await produce(topic, 5000)).toBe("ok");

      const before = await brokerConfigs(["message.max.bytes"]);
      expect(before["message.max.bytes"]).toMatchObject({ value: "1000000", source: 4 });

      await withAdmin((a) =>
        a.alterConfigs({
          validateOnly: false,
          resources: [{ type: ConfigResourceTypes.BROKER, name: "1", configEntries: [{ name: "message.max.bytes", value: "2000" }, { name: "sasl.kerberos.min.time.before.relogin", value: "58000" }] }],
        }),
      );
      const set = await brokerConfigs(["message.max.bytes", "sasl.kerberos.min.time.before.relogin"]);
      expect(set["message.max.bytes"]).toEqual({
        value: "2000",
        source: 2,
        synonyms: [
          ["message.max.bytes", "2000", 2],
          ["message.max.bytes", "1000000", 4],
          ["message.max.bytes", "1048588", 5],
        ],
      });
      expect(set["sasl.kerberos.min.time.before.relogin"]).toMatchObject({ value: "58000", source: 2 });
      // Live: no restart between the change and the refusal.
      expect(await produce(topic, 5000)).toBe("MESSAGE_TOO_LARGE");
      expect(await produce(topic, 100)).toBe("ok");
      expect(b().stderr()).toContain("broker config changed");

      // A read-only key is refused (INVALID_REQUEST, as Kafka's broker-side validation answers).
      const refused = await withAdmin((a) =>
        a.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.BROKER, name: "1", configEntries: [{ name: "num.partitions", value: "3" }] }] }).then(
          () => "accepted",
          (e: { type?: string }) => e.type ?? String(e),
        ),
      );
      expect(refused).toBe("INVALID_REQUEST");

      expect(await b().stop()).toBe(0);
      await b().restart();
      const after = await brokerConfigs(["message.max.bytes", "sasl.kerberos.min.time.before.relogin"]);
      expect(after["message.max.bytes"]).toMatchObject({ value: "2000", source: 2 });
      expect(after["sasl.kerberos.min.time.before.relogin"]).toMatchObject({ value: "58000", source: 2 });
      expect(await produce(topic, 5000)).toBe("MESSAGE_TOO_LARGE");

      // Legacy AlterConfigs replaces broker 1's whole set: an empty one clears it.
      await withAdmin((a) => a.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.BROKER, name: "1", configEntries: [] }] }));
      expect((await brokerConfigs(["message.max.bytes"]))["message.max.bytes"]).toMatchObject({ value: "1000000", source: 4 });
      expect(await produce(topic, 5000)).toBe("ok");
    }),
  );
});
