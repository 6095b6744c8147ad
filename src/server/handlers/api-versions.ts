/**
 * ApiVersions (key 18), v0–v4: the API ranges bunka serves, derived from the handler list,
 * and the finalized features Kafka 4 clients read to choose protocols. Only features whose
 * behaviour bunka implements are finalized: `metadata.version` (the KRaft metadata format
 * level whose API set bunka serves). `transaction.version` and `group.version` are absent
 * (level 0), so clients use the classic transaction and group protocols.
 *
 * The response header is always v0 (the codec's responseHeaderVersion encodes that rule);
 * a version newer than v4 is answered by dispatch.ts with a v0 UNSUPPORTED_VERSION response.
 *
 * v3+ requests carry the client's software name and version (KIP-511): they are kept on the
 * connection (at most `clientSoftwareCharsMax` characters each) so that log lines about the
 * client's later requests say whom to upgrade.
 */
import { ApiKeys } from "../../protocol/messages/index.ts";
import { defaultApiVersionsResponse } from "../../protocol/messages/api-versions-response.ts";
import { advertisedVersions } from "../dispatch.ts";
import { clientSoftwareCharsMax } from "../limits.ts";
import { defineHandler, type ApiHandler } from "./handler.ts";

/** metadata.version level of Kafka 3.9 (3.9-IV0), whose broker API set bunka serves. */
export const METADATA_VERSION_LEVEL = 21;
const METADATA_VERSION_MIN = 7;

export function apiVersionsHandler(handlers: () => readonly ApiHandler[]): ApiHandler<typeof ApiKeys.ApiVersions> {
  return defineHandler({
    apiKey: ApiKeys.ApiVersions,
    minVersion: 0,
    maxVersion: 4,
    handle(request, ctx) {
      if (ctx.apiVersion >= 3) {
        ctx.connection.client.softwareName = request.clientSoftwareName.slice(0, clientSoftwareCharsMax);
        ctx.connection.client.softwareVersion = request.clientSoftwareVersion.slice(0, clientSoftwareCharsMax);
      }
      return {
        ...defaultApiVersionsResponse(),
        apiKeys: advertisedVersions(handlers()),
        supportedFeatures: ctx.apiVersion >= 3 ? [{ name: "metadata.version", minVersion: METADATA_VERSION_MIN, maxVersion: METADATA_VERSION_LEVEL }] : [],
        finalizedFeaturesEpoch: ctx.apiVersion >= 3 ? ctx.services.metadata.image.offset : -1,
        finalizedFeatures:
          ctx.apiVersion >= 3 ? [{ name: "metadata.version", minVersionLevel: METADATA_VERSION_LEVEL, maxVersionLevel: METADATA_VERSION_LEVEL }] : [],
      };
    },
  });
}
