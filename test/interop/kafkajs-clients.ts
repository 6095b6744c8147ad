/**
 * kafkajs clients for a test file's broker (brokerPerFile hooks): a client built from the
 * file's settings, an admin and a producer (no topic auto-creation) connected in setup and
 * disconnected in teardown. `use` receives them after every connect, so a file keeps them in
 * its own variables. Around a broker restart: `teardown`, then `reconnect` for a fresh admin
 * and producer on the same client.
 */
import { Kafka, type Admin, type KafkaConfig, type Producer } from "kafkajs";
import type { BrokerProcess } from "./broker-process.ts";

export interface KafkajsClients {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly producer: Producer;
}

export interface KafkajsHooks {
  setup(broker: BrokerProcess): Promise<void>;
  /** Disconnects the admin and producer; errors are ignored. */
  teardown(): Promise<void>;
  /** Connects a new admin and producer on the same client and hands them to `use`. */
  reconnect(): Promise<void>;
}

export function kafkajsHooks(config: Omit<KafkaConfig, "brokers">, use: (clients: KafkajsClients) => void): KafkajsHooks {
  let current: KafkajsClients | undefined;
  const connect = async (kafka: Kafka): Promise<void> => {
    const admin = kafka.admin();
    await admin.connect();
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    current = { kafka, admin, producer };
    use(current);
  };
  return {
    setup: (broker) => connect(new Kafka({ ...config, brokers: [broker.bootstrap] })),
    teardown: async () => {
      await current?.producer.disconnect().catch(() => {});
      await current?.admin.disconnect().catch(() => {});
    },
    reconnect: () => {
      if (current === undefined) throw new Error("kafkajsHooks.reconnect before setup");
      return connect(current.kafka);
    },
  };
}
