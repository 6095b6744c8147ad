/**
 * The only list of Kafka APIs bunka serves. ApiVersions advertises exactly these handlers'
 * ranges, so adding an API is adding its file and one line here.
 */
import { apiVersionsHandler } from "./api-versions.ts";
import { alterConfigsHandler, incrementalAlterConfigsHandler } from "./alter-configs.ts";
import { createPartitionsHandler } from "./create-partitions.ts";
import { createTopicsHandler } from "./create-topics.ts";
import { deleteTopicsHandler } from "./delete-topics.ts";
import { describeClusterHandler } from "./describe-cluster.ts";
import { describeConfigsHandler } from "./describe-configs.ts";
import { describeLogDirsHandler } from "./describe-log-dirs.ts";
import { metadataHandler } from "./metadata.ts";
import { produceHandler } from "./produce.ts";
import { fetchHandler } from "./fetch.ts";
import { listOffsetsHandler } from "./list-offsets.ts";
import { offsetForLeaderEpochHandler } from "./offset-for-leader-epoch.ts";
import { deleteRecordsHandler } from "./delete-records.ts";
import { initProducerIdHandler } from "./init-producer-id.ts";
import { findCoordinatorHandler } from "./find-coordinator.ts";
import { joinGroupHandler } from "./join-group.ts";
import { syncGroupHandler } from "./sync-group.ts";
import { heartbeatHandler } from "./heartbeat.ts";
import { leaveGroupHandler } from "./leave-group.ts";
import { describeGroupsHandler } from "./describe-groups.ts";
import { listGroupsHandler } from "./list-groups.ts";
import { deleteGroupsHandler } from "./delete-groups.ts";
import { offsetCommitHandler } from "./offset-commit.ts";
import { offsetFetchHandler } from "./offset-fetch.ts";
import { offsetDeleteHandler } from "./offset-delete.ts";
import type { ApiHandler } from "./handler.ts";
import { forwardedToController } from "../cluster.ts";
import { allocateProducerIdsHandler, alterPartitionHandler, brokerHeartbeatHandler, brokerRegistrationHandler } from "./controller-apis.ts";
import { describeQuorumHandler } from "./describe-quorum.ts";
import { addRaftVoterHandler, removeRaftVoterHandler } from "./raft-voters.ts";
import { createAclsHandler } from "./create-acls.ts";
import { describeAclsHandler } from "./describe-acls.ts";
import { deleteAclsHandler } from "./delete-acls.ts";
import { apiGates } from "./api-gates.ts";
import { electLeadersHandler } from "./elect-leaders.ts";
import { alterPartitionReassignmentsHandler } from "./alter-partition-reassignments.ts";
import { listPartitionReassignmentsHandler } from "./list-partition-reassignments.ts";
import { gated, type Gate } from "./authorize.ts";
import type { ApiKey } from "../../protocol/messages/index.ts";

/**
 * The handlers clients reach: each with its API's authorization in front (api-gates.ts), which
 * runs only when an authorizer is configured, before any forwarding to the controller.
 */
const served = {
  items: [] as ApiHandler[],
  push(...handlers: ApiHandler[]): void {
    for (const h of handlers) {
      const gate = apiGates[h.apiKey as ApiKey] as Gate<ApiKey> | undefined;
      this.items.push(gate === undefined ? h : (gated(h as ApiHandler<ApiKey>, gate) as ApiHandler));
    }
  },
};

export const handlers: readonly ApiHandler[] = served.items;

served.push(apiVersionsHandler(() => handlers) as ApiHandler);
served.push(metadataHandler as ApiHandler);
served.push(forwardedToController(createTopicsHandler) as ApiHandler);
served.push(forwardedToController(deleteTopicsHandler) as ApiHandler);
served.push(forwardedToController(createPartitionsHandler) as ApiHandler);
served.push(describeConfigsHandler as ApiHandler);
served.push(forwardedToController(alterConfigsHandler) as ApiHandler);
served.push(forwardedToController(incrementalAlterConfigsHandler) as ApiHandler);
served.push(describeClusterHandler as ApiHandler);
served.push(describeLogDirsHandler as ApiHandler);
served.push(produceHandler as ApiHandler);
served.push(fetchHandler as ApiHandler);
served.push(listOffsetsHandler as ApiHandler);
served.push(offsetForLeaderEpochHandler as ApiHandler);
served.push(deleteRecordsHandler as ApiHandler);
served.push(initProducerIdHandler as ApiHandler);
served.push(findCoordinatorHandler as ApiHandler);
served.push(joinGroupHandler as ApiHandler);
served.push(syncGroupHandler as ApiHandler);
served.push(heartbeatHandler as ApiHandler);
served.push(leaveGroupHandler as ApiHandler);
served.push(describeGroupsHandler as ApiHandler);
served.push(listGroupsHandler as ApiHandler);
served.push(deleteGroupsHandler as ApiHandler);
served.push(offsetCommitHandler as ApiHandler);
served.push(offsetFetchHandler as ApiHandler);
served.push(offsetDeleteHandler as ApiHandler);
served.push(forwardedToController(describeQuorumHandler) as ApiHandler);
served.push(forwardedToController(addRaftVoterHandler) as ApiHandler);
served.push(forwardedToController(removeRaftVoterHandler) as ApiHandler);
served.push(describeAclsHandler as ApiHandler);
served.push(forwardedToController(createAclsHandler) as ApiHandler);
served.push(forwardedToController(deleteAclsHandler) as ApiHandler);
served.push(forwardedToController(electLeadersHandler) as ApiHandler);
served.push(forwardedToController(alterPartitionReassignmentsHandler) as ApiHandler);
served.push(listPartitionReassignmentsHandler as ApiHandler);

/**
 * The controller listener's APIs besides the Raft ones (quorum-apis.ts): what brokers send
 * the active controller (registration, heartbeats, producer id blocks, the admin requests
 * they forward) and DescribeQuorum. Decided here; never forwarded again. No gate: the
 * forwarding broker authorized the client's request (authorize.ts).
 */
const controllerServed: ApiHandler[] = [];
export const controllerHandlers: readonly ApiHandler[] = controllerServed;
controllerServed.push(
  createTopicsHandler as ApiHandler,
  deleteTopicsHandler as ApiHandler,
  createPartitionsHandler as ApiHandler,
  alterConfigsHandler as ApiHandler,
  incrementalAlterConfigsHandler as ApiHandler,
  describeQuorumHandler as ApiHandler,
  addRaftVoterHandler as ApiHandler,
  removeRaftVoterHandler as ApiHandler,
  brokerRegistrationHandler as ApiHandler,
  brokerHeartbeatHandler as ApiHandler,
  allocateProducerIdsHandler as ApiHandler,
  createAclsHandler as ApiHandler,
  deleteAclsHandler as ApiHandler,
  alterPartitionHandler as ApiHandler,
  electLeadersHandler as ApiHandler,
  alterPartitionReassignmentsHandler as ApiHandler,
);
