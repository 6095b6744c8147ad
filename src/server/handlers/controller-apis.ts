/**
 * APIs only the active controller answers (served on the controller listener; brokers reach
 * them through ControllerLink): BrokerRegistration, BrokerHeartbeat, AllocateProducerIds,
 * AlterPartition (a leader's ISR change, replication-control.ts; answered once committed).
 * A node that is not the active controller answers NOT_CONTROLLER, so the sender looks for
 * the controller again.
 */
import { registerBroker } from "../../metadata/broker-lifecycle.ts";
import { allocateProducerIds } from "../../metadata/controller.ts";
import { NotControllerError } from "../../metadata/metadata-manager.ts";
import { alterPartition } from "../../metadata/replication-control.ts";
import { parseUuid, type Uuid, ZERO_UUID } from "../../metadata/uuid.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import { securityProtocolName } from "../cluster.ts";
import { defineHandler } from "./handler.ts";

function errorOf(error: unknown): number {
  if (error instanceof NotControllerError) return ErrorCode.NOT_CONTROLLER;
  return ErrorCode.UNKNOWN_SERVER_ERROR;
}

export const brokerRegistrationHandler = defineHandler({
  apiKey: ApiKeys.BrokerRegistration,
  minVersion: 0,
  maxVersion: 4,
  async handle(request, ctx) {
    const answer = (errorCode: number, brokerEpoch = -1) => ({ throttleTimeMs: 0, errorCode, brokerEpoch });
    if (request.clusterId !== ctx.services.settings.clusterId) {
      ctx.logRepeated("warn", "wrong cluster", "registration from a broker of another cluster", { broker: request.brokerId, clusterId: request.clusterId });
      return answer(ErrorCode.INCONSISTENT_CLUSTER_ID);
    }
    if (request.listeners.length > 64 || request.brokerId < 0) return answer(ErrorCode.INVALID_REQUEST);
    try {
      const reply = await ctx.services.metadata.submit((c) =>
        registerBroker(c, {
          brokerId: request.brokerId,
          incarnationId: request.incarnationId as Uuid,
          endpoints: request.listeners.map((l) => ({ name: l.name, host: l.host, port: l.port, securityProtocol: securityProtocolName(l.securityProtocol) })),
          rack: request.rack,
        }, ctx.services.cluster?.duties.uncleanDefault ?? false),
      );
      return answer(reply.errorCode, reply.brokerEpoch);
    } catch (error) {
      ctx.logRepeated("warn", "registration failed", "broker registration failed", { broker: request.brokerId, error: error instanceof Error ? error.message : String(error) });
      return answer(errorOf(error));
    }
  },
});

export const brokerHeartbeatHandler = defineHandler({
  apiKey: ApiKeys.BrokerHeartbeat,
  minVersion: 0,
  maxVersion: 1,
  async handle(request, ctx) {
    const duties = ctx.services.cluster?.duties;
    const fail = (errorCode: number) => ({ throttleTimeMs: 0, errorCode, isCaughtUp: false, isFenced: true, shouldShutDown: false });
    if (duties === undefined) return fail(ErrorCode.NOT_CONTROLLER);
    try {
      const reply = await duties.heartbeat({
        brokerId: request.brokerId,
        brokerEpoch: request.brokerEpoch,
        currentMetadataOffset: request.currentMetadataOffset,
        wantFence: request.wantFence,
        wantShutDown: request.wantShutDown,
      });
      return { throttleTimeMs: 0, ...reply };
    } catch (error) {
      return fail(errorOf(error));
    }
  },
});

export const allocateProducerIdsHandler = defineHandler({
  apiKey: ApiKeys.AllocateProducerIds,
  minVersion: 0,
  maxVersion: 0,
  async handle(request, ctx) {
    const broker = ctx.services.metadata.image.brokers.get(request.brokerId);
    if (broker === undefined || broker.brokerEpoch !== request.brokerEpoch) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.STALE_BROKER_EPOCH, producerIdStart: -1, producerIdLen: 0 };
    }
    try {
      const block = await ctx.services.metadata.submit((c) => allocateProducerIds(c, request.brokerId, request.brokerEpoch));
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerIdStart: block.firstProducerId, producerIdLen: block.size };
    } catch (error) {
      return { throttleTimeMs: 0, errorCode: errorOf(error), producerIdStart: -1, producerIdLen: 0 };
    }
  },
});

/** AlterPartition v2 names topics by id; v3 gives each ISR member's broker epoch (KIP-903). */
const ALTER_PARTITION_TOPIC_IDS_MIN = 2;
const ALTER_PARTITION_EPOCHS_MIN = 3;

export const alterPartitionHandler = defineHandler({
  apiKey: ApiKeys.AlterPartition,
  minVersion: 0,
  maxVersion: 3,
  async handle(request, ctx) {
    const byId = ctx.apiVersion >= ALTER_PARTITION_TOPIC_IDS_MIN;
    const withEpochs = ctx.apiVersion >= ALTER_PARTITION_EPOCHS_MIN;
    const items = request.topics.flatMap((t) =>
      t.partitions.map((p) => ({
        topicId: byId ? parseUuid(t.topicId) : null,
        topicName: byId ? null : t.topicName,
        partition: p.partitionIndex,
        leaderEpoch: p.leaderEpoch,
        partitionEpoch: p.partitionEpoch,
        newIsr: withEpochs ? p.newIsrWithEpochs.map((m) => ({ brokerId: m.brokerId, brokerEpoch: m.brokerEpoch })) : p.newIsr.map((brokerId) => ({ brokerId, brokerEpoch: -1 })),
      })),
    );
    const answer = (errorCode: number, partitions: { topicId: Uuid | null; topicName: string | null; partition: number; errorCode: number; leaderId: number; leaderEpoch: number; isr: number[]; partitionEpoch: number }[]) => {
      const topics = new Map<string, { topicName: string; topicId: string; partitions: { partitionIndex: number; errorCode: number; leaderId: number; leaderEpoch: number; isr: number[]; leaderRecoveryState: number; partitionEpoch: number }[] }>();
      for (const p of partitions) {
        const key = p.topicId ?? p.topicName ?? "";
        let t = topics.get(key);
        if (t === undefined) topics.set(key, (t = { topicName: p.topicName ?? "", topicId: p.topicId ?? ZERO_UUID, partitions: [] }));
        t.partitions.push({ partitionIndex: p.partition, errorCode: p.errorCode, leaderId: p.leaderId, leaderEpoch: p.leaderEpoch, isr: p.isr, leaderRecoveryState: 0, partitionEpoch: p.partitionEpoch });
      }
      return { throttleTimeMs: 0, errorCode, topics: [...topics.values()] };
    };
    if (items.some((i) => byId && i.topicId === null)) return answer(ErrorCode.INVALID_REQUEST, []);
    try {
      const r = await ctx.services.metadata.submit((c) => alterPartition(c, request.brokerId, request.brokerEpoch, items));
      return answer(r.errorCode, r.partitions);
    } catch (error) {
      return answer(errorOf(error), []);
    }
  },
});
