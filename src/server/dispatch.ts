/**
 * Request dispatch: a request frame's payload in, the response payload out (the connection
 * writes the size prefix). Decodes the header and body with the generated codecs, finds the
 * handler, runs it, encodes its response.
 *
 * Version policy: a request whose api key bunka does not serve, or whose version is outside
 * the handler's range, is a protocol violation and closes the connection (as Kafka does) —
 * except ApiVersions, which is always answered: a version newer than ours gets an ApiVersions
 * v0 response with UNSUPPORTED_VERSION and our ranges, so the client can retry with one we know;
 * and a handler's `refusedMinVersion`..`minVersion - 1` (Fetch v0–v3: what clients from
 * before ApiVersions send unasked), which its handler answers UNSUPPORTED_VERSION.
 *
 * Malformed bytes (a DecodeError) also close the connection; `ProtocolViolation` carries
 * the reason for the connection's log line.
 */
import { DecodeError } from "../protocol/codec/codec-error.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { decodeRequest, encodeResponsePayload, UnsupportedRequestError } from "../protocol/frame.ts";
import { ApiKeys, apiSpec, type ApiKey } from "../protocol/messages/index.ts";
import { defaultApiVersionsResponse } from "../protocol/messages/api-versions-response.ts";
import type { ApiHandler, ConnectionInfo, RequestContext } from "./handlers/handler.ts";
import type { BrokerServices } from "./services.ts";

/** A request that cannot be served on this connection; the connection is closed. */
export class ProtocolViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolViolation";
  }
}

export type Dispatch = (payload: Uint8Array, connection: ConnectionInfo) => Promise<Uint8Array[] | null>;

export function advertisedVersions(handlers: readonly ApiHandler[]): { apiKey: number; minVersion: number; maxVersion: number }[] {
  return handlers
    .map((h) => ({ apiKey: h.apiKey as number, minVersion: h.minVersion, maxVersion: h.maxVersion }))
    .sort((a, b) => a.apiKey - b.apiKey);
}

export function createDispatcher(handlers: readonly ApiHandler[], services: BrokerServices): Dispatch {
  const byKey = new Map<number, ApiHandler>();
  for (const h of handlers) {
    if (byKey.has(h.apiKey)) throw new Error(`two handlers for api key ${h.apiKey}`);
    const spec = apiSpec(h.apiKey);
    const lowest = h.refusedMinVersion ?? h.minVersion;
    if (spec === undefined || lowest < spec.minVersion || h.maxVersion > spec.maxVersion) {
      throw new Error(`handler for api key ${h.apiKey} answers ${lowest}..${h.maxVersion}, beyond the codec's range`);
    }
    byKey.set(h.apiKey, h);
  }
  const unsupportedApiVersions = (correlationId: number): Uint8Array[] =>
    encodeResponsePayload(ApiKeys.ApiVersions, 0, correlationId, {
      ...defaultApiVersionsResponse(),
      errorCode: ErrorCode.UNSUPPORTED_VERSION,
      apiKeys: advertisedVersions(handlers),
    });

  return async (payload, connection) => {
    let request;
    try {
      request = decodeRequest(payload);
    } catch (e) {
      if (e instanceof UnsupportedRequestError) {
        if (e.apiKey === ApiKeys.ApiVersions) return unsupportedApiVersions(e.correlationId);
        throw new ProtocolViolation(`${e.kind}: api key ${e.apiKey} version ${e.apiVersion} (client ${e.clientId ?? "?"})`);
      }
      if (e instanceof DecodeError) throw new ProtocolViolation(`malformed request: ${e.message}`);
      throw e;
    }
    const handler = byKey.get(request.apiKey) as ApiHandler<ApiKey> | undefined;
    if (handler === undefined || request.apiVersion < (handler.refusedMinVersion ?? handler.minVersion) || request.apiVersion > handler.maxVersion) {
      if (request.apiKey === ApiKeys.ApiVersions) return unsupportedApiVersions(request.header.correlationId);
      const name = apiSpec(request.apiKey)?.name ?? String(request.apiKey);
      throw new ProtocolViolation(
        handler === undefined
          ? `api ${name} is not served by bunka (client ${request.header.clientId ?? "?"})`
          : `${name} v${request.apiVersion} is outside the served range ${handler.minVersion}..${handler.maxVersion}`,
      );
    }
    const ctx: RequestContext = { apiVersion: request.apiVersion, header: request.header, connection, services };
    const body = await handler.handle(request.body, ctx);
    if (body === null) return null;
    return encodeResponsePayload(request.apiKey, request.apiVersion, request.header.correlationId, body);
  };
}
