/**
 * DescribeQuorum (55): the state of the controller quorum as its leader sees it — leader,
 * epoch, high watermark, each voter's and observer's log end offset and last fetch. Only the
 * leader answers with data; on a broker listener the request is forwarded to it (index.ts
 * wraps this handler), on a controller listener any other node answers NOT_LEADER_OR_FOLLOWER.
 */
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import { metadataPartition, metadataTopic } from "../../raft/raft-log.ts";
import { describeQuorumToWire } from "../../raft/wire.ts";
import { defineHandler } from "./handler.ts";

export const describeQuorumHandler = defineHandler({
  apiKey: ApiKeys.DescribeQuorum,
  minVersion: 0,
  maxVersion: 2,
  handle(request, ctx) {
    const asked = request.topics.length === 1 && request.topics[0]!.topicName === metadataTopic && request.topics[0]!.partitions.length === 1 && request.topics[0]!.partitions[0]!.partitionIndex === metadataPartition;
    const quorum = ctx.services.cluster?.quorum;
    if (!asked || quorum === undefined) {
      return { errorCode: asked ? ErrorCode.BROKER_NOT_AVAILABLE : ErrorCode.INVALID_REQUEST, errorMessage: asked ? "no controller quorum here" : `only ${metadataTopic}-${metadataPartition} has a quorum`, topics: [], nodes: [] };
    }
    const image = ctx.services.metadata.image;
    const description = quorum.driver.describeQuorum();
    // A dynamic quorum's voters carry their endpoints in the log (DescribeQuorum v2 Nodes).
    const nodes = quorum.core.isDynamic
      ? (description.nodes ?? []).map((n) => ({ nodeId: n.nodeId, listeners: n.listeners.map((l) => ({ ...l })) }))
      : quorum.voters.map((v) => ({ nodeId: v.id, listeners: [{ name: quorum.listenerName, host: v.host, port: v.port }] }));
    if (quorum.voters.length === 0 && !quorum.core.isDynamic) {
      const self = image.brokers.get(ctx.services.settings.nodeId);
      nodes.push({ nodeId: ctx.services.settings.nodeId, listeners: (self?.endpoints ?? []).map((e) => ({ name: e.name, host: e.host, port: e.port })) });
    }
    return describeQuorumToWire(description, nodes, ctx.apiVersion);
  },
});
