/**
 * DescribeCluster (key 60), v0–v1: cluster id, the controller named to clients, and the
 * registered, unfenced brokers with their racks and endpoints on the client's listener
 * (cluster-view.ts has the rules). Endpoint type 2 (controllers, KIP-919) is refused with
 * UNSUPPORTED_ENDPOINT_TYPE, as a Kafka broker refuses it.
 */
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import { defaultDescribeClusterBroker, defaultDescribeClusterResponse } from "../../protocol/messages/describe-cluster-response.ts";
import { defineHandler } from "./handler.ts";
import { ClusterView } from "./cluster-view.ts";
import { CLUSTER_RESOURCE_NAME, ResourceType } from "../../metadata/acl.ts";
import { AUTHORIZED_OPERATIONS_OMITTED, authorizedOperations } from "./authorized-operations.ts";

/** EndpointType in DescribeCluster v1: 1 = brokers, 2 = controllers. */
const ENDPOINT_TYPE_BROKERS = 1;

export const describeClusterHandler = defineHandler({
  apiKey: ApiKeys.DescribeCluster,
  minVersion: 0,
  maxVersion: 1,
  handle(request, ctx) {
    const { services, apiVersion: version } = ctx;
    if (version >= 1 && request.endpointType !== ENDPOINT_TYPE_BROKERS) {
      return {
        ...defaultDescribeClusterResponse(),
        errorCode: ErrorCode.UNSUPPORTED_ENDPOINT_TYPE,
        errorMessage: `endpoint type ${request.endpointType} is not served; bunka describes brokers (1)`,
        endpointType: request.endpointType,
        clusterId: services.settings.clusterId,
      };
    }
    const view = ClusterView.of(ctx);
    return {
      ...defaultDescribeClusterResponse(),
      endpointType: version >= 1 ? ENDPOINT_TYPE_BROKERS : defaultDescribeClusterResponse().endpointType,
      clusterId: services.settings.clusterId,
      controllerId: view.controllerId,
      clusterAuthorizedOperations: request.includeClusterAuthorizedOperations ? authorizedOperations(ctx, ResourceType.CLUSTER, CLUSTER_RESOURCE_NAME) : AUTHORIZED_OPERATIONS_OMITTED,
      brokers: view.brokers.map((b) => ({ ...defaultDescribeClusterBroker(), brokerId: b.brokerId, host: b.host, port: b.port, rack: b.rack })),
    };
  },
});
