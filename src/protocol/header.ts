/**
 * Request and response headers (docs/protocol.html "Headers"), hand-written because their
 * version is not carried on the wire: it follows from the API and its version.
 *
 * Request header v0: api_key int16, api_version int16, correlation_id int32.
 *   v1: + client_id (nullable string with an int16 length, never compact).
 *   v2: v1 + a tagged-field section. Used exactly for the API's flexible versions.
 *   v0 is used only by ControlledShutdown v0.
 * Response header v0: correlation_id int32. v1: + a tagged-field section, for flexible
 *   versions, except ApiVersions whose response header is always v0 (clients parse it before
 *   they know which versions the broker supports).
 *
 * Invariant: `requestHeaderVersion`/`responseHeaderVersion` are the single place these rules
 * live; the framing helpers in frame.ts use nothing else.
 */
import { Reader } from "./codec/reader.ts";
import { type RawTaggedField, type Writer, writeUnknownTaggedFields } from "./codec/writer.ts";
import { ApiKeys, apiSpec } from "./messages/index.ts";

export interface RequestHeader {
  requestApiKey: number;
  requestApiVersion: number;
  correlationId: number;
  /** Null in header v0 and when the client sends a null client id. */
  clientId: string | null;
  /** Tagged fields of header v2 (Kafka defines none yet), preserved raw. */
  _unknownTaggedFields?: readonly RawTaggedField[] | undefined;
}

export interface ResponseHeader {
  correlationId: number;
  _unknownTaggedFields?: readonly RawTaggedField[] | undefined;
}

export type RequestHeaderVersion = 0 | 1 | 2;
export type ResponseHeaderVersion = 0 | 1;

/** Header version of a request; the api key must be known (see `apiSpec`). */
export function requestHeaderVersion(apiKey: number, apiVersion: number): RequestHeaderVersion {
  const api = apiSpec(apiKey);
  if (api === undefined) throw new Error(`requestHeaderVersion: unknown api key ${apiKey}`);
  if (apiKey === ApiKeys.ControlledShutdown && apiVersion === 0) return 0;
  return api.flexibleMinVersion >= 0 && apiVersion >= api.flexibleMinVersion ? 2 : 1;
}

/** Header version of a response; the api key must be known (see `apiSpec`). */
export function responseHeaderVersion(apiKey: number, apiVersion: number): ResponseHeaderVersion {
  const api = apiSpec(apiKey);
  if (api === undefined) throw new Error(`responseHeaderVersion: unknown api key ${apiKey}`);
  if (apiKey === ApiKeys.ApiVersions) return 0;
  return api.flexibleMinVersion >= 0 && apiVersion >= api.flexibleMinVersion ? 1 : 0;
}

/** The three fixed fields every request header starts with; null when fewer than 8 bytes. */
export function peekRequestHeader(bytes: Uint8Array): { apiKey: number; apiVersion: number; correlationId: number } | null {
  if (bytes.length < 8) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  return { apiKey: view.getInt16(0), apiVersion: view.getInt16(2), correlationId: view.getInt32(4) };
}

/**
 * The client id of a request header, best effort, for log lines about requests that cannot be
 * decoded (unknown api key or version, malformed body): every header version but v0 has it
 * right after the fixed fields, as a classic nullable string (also in flexible header v2).
 * Null when absent or unreadable.
 */
export function peekRequestClientId(bytes: Uint8Array): string | null {
  if (bytes.length < 10) return null;
  try {
    return new Reader(bytes, 8).readNullableString("RequestHeader.clientId");
  } catch {
    return null;
  }
}

/** Reads the rest of a request header after its three fixed fields (already read by the caller). */
export function decodeRequestHeaderTail(
  r: Reader,
  fixed: { apiKey: number; apiVersion: number; correlationId: number },
  version: RequestHeaderVersion,
): RequestHeader {
  const clientId = version >= 1 ? r.readNullableString("RequestHeader.clientId") : null;
  const unknown = version >= 2 ? r.readUnknownTaggedFields("RequestHeader._tagged") : undefined;
  return {
    requestApiKey: fixed.apiKey,
    requestApiVersion: fixed.apiVersion,
    correlationId: fixed.correlationId,
    clientId,
    _unknownTaggedFields: unknown,
  };
}

export function decodeRequestHeader(r: Reader, version: RequestHeaderVersion): RequestHeader {
  const apiKey = r.readInt16("RequestHeader.requestApiKey");
  const apiVersion = r.readInt16("RequestHeader.requestApiVersion");
  const correlationId = r.readInt32("RequestHeader.correlationId");
  return decodeRequestHeaderTail(r, { apiKey, apiVersion, correlationId }, version);
}

export function encodeRequestHeader(w: Writer, h: RequestHeader, version: RequestHeaderVersion): void {
  w.writeInt16(h.requestApiKey, "RequestHeader.requestApiKey");
  w.writeInt16(h.requestApiVersion, "RequestHeader.requestApiVersion");
  w.writeInt32(h.correlationId, "RequestHeader.correlationId");
  // Kafka: client id is ignorable, so v0 silently drops it.
  if (version >= 1) w.writeNullableString(h.clientId, "RequestHeader.clientId");
  if (version >= 2) writeUnknownTaggedFields(w, h._unknownTaggedFields, "RequestHeader._tagged");
}

export function decodeResponseHeader(r: Reader, version: ResponseHeaderVersion): ResponseHeader {
  const correlationId = r.readInt32("ResponseHeader.correlationId");
  const unknown = version >= 1 ? r.readUnknownTaggedFields("ResponseHeader._tagged") : undefined;
  return { correlationId, _unknownTaggedFields: unknown };
}

export function encodeResponseHeader(w: Writer, h: ResponseHeader, version: ResponseHeaderVersion): void {
  w.writeInt32(h.correlationId, "ResponseHeader.correlationId");
  if (version >= 1) writeUnknownTaggedFields(w, h._unknownTaggedFields, "ResponseHeader._tagged");
}

