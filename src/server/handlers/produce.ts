/**
 * Produce (key 0). Advertised v0–v11, served v3–v11.
 *
 * v0–v2 stay in the advertised range only because librdkafka ≤ 2.11 turns compression off
 * unless Produce v0 is advertised (DESIGN.md); like Kafka 4, which removed them, every
 * partition of such a request is answered UNSUPPORTED_VERSION and the connection stays open.
 *
 * acks: 0 (no response; if any partition failed the connection is closed, as Kafka does, so
 * the client refreshes its metadata), 1 (answer after the leader's write), -1 (answer once
 * the ISR has the data — the HW passes the batch — or `timeoutMs` passes:
 * REQUEST_TIMED_OUT); anything else is INVALID_REQUIRED_ACKS. Per-partition validation and
 * the append are ReplicaManager.appendRecords (which inflates records only when the topic's
 * configs need it: compaction keys, timestamp bounds, recompression to compression.type);
 * nothing here looks inside a batch.
 *
 * Response: baseOffset (-1 on error), logAppendTimeMs (-1 unless LogAppendTime),
 * logStartOffset, errorMessage (v8+), currentLeader on NOT_LEADER_OR_FOLLOWER (v10+; a
 * partition this broker does not host or only follows), with the leader's endpoint in
 * nodeEndpoints (KIP-951).
 */
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import {
  defaultBatchIndexAndErrorMessage,
  defaultLeaderIdAndEpoch,
  defaultNodeEndpoint,
  defaultPartitionProduceResponse,
  defaultProduceResponse,
  type PartitionProduceResponse,
  type TopicProduceResponse,
} from "../../protocol/messages/produce-response.ts";
import type { AppendOutcome, Partition } from "../../replication/replica-manager.ts";
import { ProtocolViolation } from "../dispatch.ts";
import { ClusterView, type ListedBroker } from "./cluster-view.ts";
import { defineHandler } from "./handler.ts";

/** Lowest Produce version served (Kafka 4 removed v0–v2). */
export const PRODUCE_SERVED_MIN = 3;
/** Produce v7 introduced zstd (KIP-110). */
const PRODUCE_ZSTD_MIN = 7;
/** Kafka's AdminUtils.ADMIN_CLIENT_ID: the only client id allowed to write internal topics. */
const ADMIN_CLIENT_ID = "__admin_client";

export const produceHandler = defineHandler({
  apiKey: ApiKeys.Produce,
  minVersion: 0,
  maxVersion: 11,
  async handle(request, ctx) {
    const version = ctx.apiVersion;
    const replicas = ctx.services.replicas;
    const withError = (index: number, errorCode: number, errorMessage: string | null): PartitionProduceResponse => ({
      ...defaultPartitionProduceResponse(),
      index,
      errorCode,
      baseOffset: -1,
      errorMessage: version >= 8 ? errorMessage : null,
    });

    const acks = request.acks;
    const topLevelError: { code: number; message: string } | null =
      version < PRODUCE_SERVED_MIN
        ? { code: ErrorCode.UNSUPPORTED_VERSION, message: `Produce v${version} is not supported; use v${PRODUCE_SERVED_MIN} or later` }
        : acks !== 0 && acks !== 1 && acks !== -1
          ? { code: ErrorCode.INVALID_REQUIRED_ACKS, message: `acks must be 0, 1 or -1, not ${acks}` }
          : null;
    if (version < PRODUCE_SERVED_MIN) {
      ctx.logRepeated("warn", "unsupported version", "refused an old Produce version (message format v2 only): the client needs upgrading", { servedMin: PRODUCE_SERVED_MIN });
    }

    const responses: TopicProduceResponse[] = [];
    const pending: { response: PartitionProduceResponse; partition: Partition; lastOffset: number }[] = [];
    let anyError = false;
    // Leaders named in NOT_LEADER_OR_FOLLOWER answers, sent as nodeEndpoints (v10+, KIP-951).
    let view: ClusterView | undefined;
    const leaderNodes = new Map<number, ListedBroker>();
    for (const topic of request.topicData) {
      const partitionResponses: PartitionProduceResponse[] = [];
      for (const data of topic.partitionData) {
        if (topLevelError !== null) {
          partitionResponses.push(withError(data.index, topLevelError.code, topLevelError.message));
          anyError = true;
          continue;
        }
        const outcome: AppendOutcome = replicas.appendRecords(topic.name, data.index, data.records, {
          requiredAcks: acks,
          allowZstd: version >= PRODUCE_ZSTD_MIN,
          internalTopicsAllowed: ctx.header.clientId === ADMIN_CLIENT_ID,
        });
        if (outcome.kind === "error") {
          anyError = true;
          const response = withError(data.index, outcome.errorCode, outcome.message);
          if (version >= 8 && outcome.recordErrors !== undefined) {
            response.recordErrors = outcome.recordErrors.map((e) => ({ ...defaultBatchIndexAndErrorMessage(), batchIndex: e.batchIndex, batchIndexErrorMessage: e.message }));
          }
          if (version >= 10 && outcome.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER) {
            const p = replicas.image.partition(topic.name, data.index);
            if (p !== undefined) {
              response.currentLeader = { ...defaultLeaderIdAndEpoch(), leaderId: p.leader, leaderEpoch: p.leaderEpoch };
              view ??= ClusterView.of(ctx);
              const node = view.leaderNode(p.leader);
              if (node !== undefined) leaderNodes.set(node.brokerId, node);
            }
          }
          partitionResponses.push(response);
          continue;
        }
        const response: PartitionProduceResponse = {
          ...defaultPartitionProduceResponse(),
          index: data.index,
          baseOffset: outcome.firstOffset,
          logAppendTimeMs: outcome.logAppendTimeMs,
          logStartOffset: outcome.logStartOffset,
        };
        partitionResponses.push(response);
        if (!outcome.duplicate) ctx.services.probe?.produced(topic.name, data.records?.length ?? 0, outcome.lastOffset - outcome.firstOffset + 1);
        if (acks === -1) pending.push({ response, partition: outcome.partition, lastOffset: outcome.lastOffset });
      }
      responses.push({ name: topic.name, partitionResponses });
    }

    if (acks === 0) {
      if (anyError) throw new ProtocolViolation("acks=0 produce had partition errors; closing so the client refreshes metadata");
      return null;
    }
    if (pending.length > 0) {
      const acked = await replicas.awaitReplication(pending, Math.max(0, request.timeoutMs));
      acked.forEach((a, i) => {
        const entry = pending[i]!;
        if (a.errorCode === ErrorCode.NONE) return;
        entry.response.errorCode = a.errorCode;
        entry.response.baseOffset = -1;
        entry.response.logAppendTimeMs = -1;
        entry.response.logStartOffset = -1;
        if (version >= 8) entry.response.errorMessage = `replication of offset ${entry.lastOffset} did not complete`;
      });
    }
    return {
      ...defaultProduceResponse(),
      responses,
      nodeEndpoints: [...leaderNodes.values()].map((b) => ({ ...defaultNodeEndpoint(), nodeId: b.brokerId, host: b.host, port: b.port, rack: b.rack })),
    };
  },
});
