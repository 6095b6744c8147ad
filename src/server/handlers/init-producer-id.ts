/**
 * InitProducerId (key 22), v0–v5, idempotent producers only.
 *
 * A null transactional id gets a fresh producer id (from the controller's producer id
 * blocks, see replication/producer-ids.ts) with epoch 0 — also when the request names its
 * current id and epoch (v3+), as Kafka does for non-transactional producers. An empty
 * transactional id is INVALID_REQUEST, as in Kafka. A non-empty one needs the transaction
 * coordinator, which bunka does not have yet: COORDINATOR_NOT_AVAILABLE (with a log line).
 * A block that cannot be obtained (metadata write failed) is COORDINATOR_LOAD_IN_PROGRESS,
 * which clients retry.
 */
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import { defaultInitProducerIdResponse } from "../../protocol/messages/init-producer-id-response.ts";
import { defineHandler } from "./handler.ts";

export const initProducerIdHandler = defineHandler({
  apiKey: ApiKeys.InitProducerId,
  minVersion: 0,
  maxVersion: 5,
  async handle(request, ctx) {
    const fail = (errorCode: number) => ({ ...defaultInitProducerIdResponse(), errorCode, producerId: -1, producerEpoch: -1 });
    if (request.transactionalId !== null) {
      if (request.transactionalId === "") return fail(ErrorCode.INVALID_REQUEST);
      ctx.logRepeated("warn", "transactional producer refused", "transactional producer refused: transactions are not supported yet", { transactionalId: request.transactionalId });
      return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    }
    try {
      const producerId = await ctx.services.replicas.producerIds().nextProducerId();
      return { ...defaultInitProducerIdResponse(), producerId, producerEpoch: 0 };
    } catch (e) {
      ctx.logRepeated("error", "producer id allocation failed", "producer id block allocation failed", { error: e instanceof Error ? e : String(e) });
      return fail(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    }
  },
});
