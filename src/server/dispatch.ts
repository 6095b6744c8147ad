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
 * the reason, a stable kind (e.g. "unsupported version Fetch v2") and the client id for the
 * connection's log line, which is rate-limited by remote address, client id and kind and names
 * the client's software (connection.ts): an old client that reconnects and retries for ever
 * must not write a line per attempt.
 *
 * Each handler gets `ctx.logRepeated`: the connection's per-kind rate limit, with the api,
 * version, client id and client software added to the line.
 *
 * Bytes after a request body are malformed too,
 * except where a client in use writes them (`trailingBytesTolerated`; Kafka never checks):
 * librdkafka before 2.1 (Debian's 2.0.2 under kcat and confluent-kafka-python) writes
 * - a second empty tag section after ListGroups v3+ bodies (fixed upstream in PR 4207), and
 * - for OffsetFetch v6+ of all of a group's partitions (topics null), a 4-byte array-count
 *   placeholder it never shrinks to its 1-byte compact form, so 3 bytes follow the body
 *   (Kafka reads the same fields: null topics, requireStable from the placeholder, 0);
 * and librdkafka up to at least 2.12 writes
 * - for Metadata v9+ of all topics (topics null) the same 4-byte placeholder, so 3 bytes follow
 *   (Kafka reads null topics, allowAutoTopicCreation 0, includeTopicAuthorizedOperations 0,
 *   no tags, and ignores the rest: the flags mean nothing for an all-topics request).
 * Without this, ListConsumerGroups and ListConsumerGroupOffsets of a whole group, and every
 * all-topics metadata refresh of a current librdkafka (regex subscriptions, admin listings,
 * the consumer's periodic refresh), lose their connection.
 */
import { DecodeError } from "../protocol/codec/codec-error.ts";
import { ErrorCode } from "../protocol/errors.ts";
import { decodeRequest, encodeResponsePayload, UnsupportedRequestError } from "../protocol/frame.ts";
import { ApiKeys, apiSpec, type ApiKey } from "../protocol/messages/index.ts";
import { peekRequestHeader, peekRequestClientId } from "../protocol/header.ts";
import { defaultApiVersionsResponse } from "../protocol/messages/api-versions-response.ts";
import type { LogFields, LogLevel } from "../util/log.ts";
import { ClientFault } from "./connection.ts";
import type { ApiHandler, ConnectionInfo, RequestContext } from "./handlers/handler.ts";
import type { BrokerServices } from "./services.ts";
import type { BrokerProbe } from "./metrics/broker-probe.ts";

/** A request that cannot be served on this connection; the connection is closed (see ClientFault). */
export class ProtocolViolation extends ClientFault {
  constructor(message: string, kind = "protocol violation", clientId: string | null = null, fields: LogFields = {}) {
    super(message, kind, clientId, fields);
    this.name = "ProtocolViolation";
  }
}

function apiName(apiKey: number): string {
  return apiSpec(apiKey)?.name ?? `api key ${apiKey}`;
}

/** APIs whose bodies may be followed by extra bytes, from this version on (their first flexible one, where librdkafka writes them). */
const trailingBytesFromVersion: ReadonlyMap<number, number> = new Map([
  [ApiKeys.ListGroups, 3],
  [ApiKeys.OffsetFetch, 6],
  [ApiKeys.Metadata, 9],
]);

/** Whether the request in `payload` (api key and version are its first four bytes) may carry bytes after its body. */
function trailingBytesTolerated(payload: Uint8Array): boolean {
  if (payload.length < 4) return false;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const from = trailingBytesFromVersion.get(view.getInt16(0));
  return from !== undefined && view.getInt16(2) >= from;
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
      request = decodeRequest(payload, { allowTrailingBytes: trailingBytesTolerated(payload) });
    } catch (e) {
      if (e instanceof UnsupportedRequestError) {
        if (e.apiKey === ApiKeys.ApiVersions) return unsupportedApiVersions(e.correlationId);
        const served = byKey.get(e.apiKey);
        const name = apiName(e.apiKey);
        throw e.kind === "unknownApiKey"
          ? new ProtocolViolation(`unknown api key ${e.apiKey} (version ${e.apiVersion})`, `unknown api key ${e.apiKey}`, e.clientId, { apiKey: e.apiKey, apiVersion: e.apiVersion })
          : new ProtocolViolation(unsupportedText(name, e.apiVersion, served), `unsupported version ${name} v${e.apiVersion}`, e.clientId, versionFields(name, e.apiVersion, served));
      }
      if (e instanceof DecodeError) {
        const fixed = peekRequestHeader(payload);
        const what = fixed === null ? "request" : `${apiName(fixed.apiKey)} v${fixed.apiVersion}`;
        throw new ProtocolViolation(`malformed ${what}: ${e.message}`, `malformed ${what}`, peekRequestClientId(payload));
      }
      throw e;
    }
    const handler = byKey.get(request.apiKey) as ApiHandler<ApiKey> | undefined;
    const clientId = request.header.clientId ?? null;
    if (handler === undefined || request.apiVersion < (handler.refusedMinVersion ?? handler.minVersion) || request.apiVersion > handler.maxVersion) {
      if (request.apiKey === ApiKeys.ApiVersions) return unsupportedApiVersions(request.header.correlationId);
      const name = apiName(request.apiKey);
      throw handler === undefined
        ? new ProtocolViolation(`api ${name} is not served by bunka`, `unserved api ${name}`, clientId, { api: name, apiVersion: request.apiVersion })
        : new ProtocolViolation(unsupportedText(name, request.apiVersion, handler), `unsupported version ${name} v${request.apiVersion}`, clientId, versionFields(name, request.apiVersion, handler));
    }
    const name = apiName(request.apiKey);
    const apiVersion = request.apiVersion;
    const ctx: RequestContext = {
      apiVersion,
      header: request.header,
      connection,
      services,
      logRepeated(level: LogLevel, kind: string, msg: string, fields?: LogFields): void {
        connection.logRepeated(level, `${name} ${kind}`, msg, {
          ...fields,
          api: name,
          apiVersion,
          clientId,
          clientSoftwareName: connection.client.softwareName,
          clientSoftwareVersion: connection.client.softwareVersion,
        });
      },
    };
    const probe = services.probe;
    const startMs = probe === undefined ? 0 : services.clock.monotonicMs();
    const body = probe === undefined ? await handler.handle(request.body, ctx) : await measured(probe, name, startMs, services, handler.handle(request.body, ctx));
    if (body === null) return null;
    return encodeResponsePayload(request.apiKey, request.apiVersion, request.header.correlationId, body);
  };
}

/** Awaits a handler's answer and counts it (with its time) in the request metrics. */
async function measured<T>(probe: BrokerProbe, api: string, startMs: number, services: BrokerServices, answer: Promise<T> | T): Promise<T> {
  try {
    const body = await answer;
    probe.request(api, services.clock.monotonicMs() - startMs, false);
    return body;
  } catch (error) {
    probe.request(api, services.clock.monotonicMs() - startMs, true);
    throw error;
  }
}

function unsupportedText(name: string, apiVersion: number, served: ApiHandler | undefined): string {
  return served === undefined
    ? `${name} v${apiVersion} is not served by bunka`
    : `${name} v${apiVersion} is outside the served range ${served.minVersion}..${served.maxVersion}; the client must be upgraded`;
}

function versionFields(name: string, apiVersion: number, served: ApiHandler | undefined): LogFields {
  return { api: name, apiVersion, servedVersions: served === undefined ? "none" : `${served.minVersion}..${served.maxVersion}` };
}
