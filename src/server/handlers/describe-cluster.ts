/** DescribeCluster (key 60), v0–v1: cluster id, controller, and live brokers' endpoints for the client's listener. */
import { ErrorCode } from "../../protocol/errors.ts";
import { ApiKeys } from "../../protocol/messages/index.ts";
import { defaultDescribeClusterBroker, defaultDescribeClusterResponse } from "../../protocol/messages/describe-cluster-response.ts";
import { defineHandler } from "./handler.ts";
import { AUTHORIZED_OPERATIONS_OMITTED, brokerEndpoint } from "./metadata.ts";

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
    const image = services.metadata.image;
    return {
      ...defaultDescribeClusterResponse(),
      endpointType: version >= 1 ? ENDPOINT_TYPE_BROKERS : defaultDescribeClusterResponse().endpointType,
      clusterId: services.settings.clusterId,
      controllerId: services.settings.nodeId,
      clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
      brokers: image.liveBrokers().flatMap((b) => {
        const e = brokerEndpoint(b, ctx.connection.listenerName);
        return e === undefined ? [] : [{ ...defaultDescribeClusterBroker(), brokerId: b.brokerId, host: e.host, port: e.port, rack: b.rack }];
      }),
    };
  },
});
