/**
 * Framing of Kafka requests and responses on a connection: every message is a 4-byte
 * big-endian size N followed by N bytes (header + body). This module owns the size prefix,
 * the frame-size limit, and the glue from a frame payload to a decoded header + body (and
 * back), for the broker side (`decodeRequest`, `encodeResponse`) and the client side used by
 * followers, tests and tools (`encodeRequest`, `decodeResponse`).
 *
 * Invariants:
 * - A size below 0 or above the configured maximum (Kafka's `socket.request.max.bytes`,
 *   100 MiB by default) is a typed `DecodeError` before any buffer is sized from it; the
 *   connection should then be closed, as Kafka does.
 * - An unknown api key or a version outside the codec's range is an
 *   `UnsupportedRequestError` (a DecodeError) carrying the api key, version and correlation id,
 *   so the server can answer UNSUPPORTED_VERSION (ApiVersions: a v0 response with its ranges)
 *   or close the connection.
 * - A decoded body's `records` fields are views into the payload: the payload must not be
 *   reused while the request is being handled.
 */
import { DecodeError } from "./codec/codec-error.ts";
import { Reader } from "./codec/reader.ts";
import { Writer } from "./codec/writer.ts";
import {
  decodeRequestHeaderTail,
  decodeResponseHeader,
  encodeRequestHeader,
  encodeResponseHeader,
  peekRequestClientId,
  type RequestHeader,
  requestHeaderVersion,
  type ResponseHeader,
  responseHeaderVersion,
} from "./header.ts";
import {
  type ApiKey,
  apiSpec,
  decodeRequestBody,
  decodeResponseBody,
  encodeRequestBody,
  encodeResponseBody,
  type RequestBodies,
  type ResponseBodies,
} from "./messages/index.ts";

export const FRAME_SIZE_PREFIX_BYTES = 4;
/** Kafka's default `socket.request.max.bytes` (100 MiB). */
export const SOCKET_REQUEST_MAX_BYTES_DEFAULT = 104857600;

export type FrameCheck =
  /** Not enough bytes yet; `needBytes` is the total needed from `offset` (prefix included) when known. */
  | { readonly kind: "incomplete"; readonly needBytes: number }
  /** A whole frame: its payload is `bytes[offset + 4, offset + 4 + size)`. */
  | { readonly kind: "complete"; readonly size: number; readonly totalBytes: number };

/**
 * Says whether `bytes[offset..]` holds a whole frame. Throws DecodeError `negativeFrameSize`
 * or `frameTooLarge` when the size prefix is invalid (the connection must be closed).
 */
export function checkFrame(bytes: Uint8Array, offset: number, maxFrameBytes: number = SOCKET_REQUEST_MAX_BYTES_DEFAULT): FrameCheck {
  const available = bytes.length - offset;
  if (available < FRAME_SIZE_PREFIX_BYTES) return { kind: "incomplete", needBytes: FRAME_SIZE_PREFIX_BYTES };
  const size = ((bytes[offset] ?? 0) << 24) | ((bytes[offset + 1] ?? 0) << 16) | ((bytes[offset + 2] ?? 0) << 8) | (bytes[offset + 3] ?? 0);
  if (size < 0) throw new DecodeError("negativeFrameSize", "frame.size", offset, `size ${size}`);
  if (size > maxFrameBytes) throw new DecodeError("frameTooLarge", "frame.size", offset, `size ${size} > ${maxFrameBytes}`);
  const totalBytes = FRAME_SIZE_PREFIX_BYTES + size;
  if (available < totalBytes) return { kind: "incomplete", needBytes: totalBytes };
  return { kind: "complete", size, totalBytes };
}

/** A request the codec cannot parse because of its api key or version (not its bytes). */
export class UnsupportedRequestError extends DecodeError {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;

  constructor(kind: "unknownApiKey" | "unsupportedVersion", apiKey: number, apiVersion: number, correlationId: number, clientId: string | null) {
    super(kind, "RequestHeader", 0, `api key ${apiKey} version ${apiVersion}`);
    this.apiKey = apiKey;
    this.apiVersion = apiVersion;
    this.correlationId = correlationId;
    this.clientId = clientId;
  }
}

/** A decoded request, discriminated by api key so `switch (req.apiKey)` narrows `body`. */
export type DecodedRequest = {
  [K in ApiKey]: { readonly apiKey: K; readonly apiVersion: number; readonly header: RequestHeader; readonly body: RequestBodies[K] };
}[ApiKey];

export interface DecodeOptions {
  /** Accept bytes after the body (default false: `trailingBytes` DecodeError). */
  readonly allowTrailingBytes?: boolean;
}

/**
 * Decodes a request frame payload (the bytes after the size prefix): header, then body.
 * Throws UnsupportedRequestError for an unknown api key / version, DecodeError otherwise.
 */
export function decodeRequest(payload: Uint8Array, options: DecodeOptions = {}): DecodedRequest {
  const r = new Reader(payload);
  const apiKey = r.readInt16("RequestHeader.requestApiKey");
  const apiVersion = r.readInt16("RequestHeader.requestApiVersion");
  const correlationId = r.readInt32("RequestHeader.correlationId");
  const api = apiSpec(apiKey);
  // The client id is still useful for the log line; the header layout of an api or version we
  // do not know is a guess, so a failure to read it is not an error here.
  if (api === undefined) throw new UnsupportedRequestError("unknownApiKey", apiKey, apiVersion, correlationId, peekRequestClientId(payload));
  const fixed = { apiKey, apiVersion, correlationId };
  if (apiVersion < api.minVersion || apiVersion > api.maxVersion) {
    throw new UnsupportedRequestError("unsupportedVersion", apiKey, apiVersion, correlationId, peekRequestClientId(payload));
  }
  const header = decodeRequestHeaderTail(r, fixed, requestHeaderVersion(apiKey, apiVersion));
  const key = apiKey as ApiKey;
  const body = decodeRequestBody(key, r, apiVersion);
  if (options.allowTrailingBytes !== true) r.expectEnd(api.name);
  return { apiKey: key, apiVersion, header, body } as DecodedRequest;
}

/**
 * Decodes a whole request frame, size prefix included (e.g. bytes captured from a client):
 * the prefix must match the frame's length exactly.
 */
export function decodeRequestFrame(frame: Uint8Array, options: DecodeOptions & { readonly maxFrameBytes?: number } = {}): DecodedRequest {
  const check = checkFrame(frame, 0, options.maxFrameBytes ?? SOCKET_REQUEST_MAX_BYTES_DEFAULT);
  if (check.kind !== "complete") throw new DecodeError("truncated", "frame", frame.length, `need ${check.needBytes} bytes`);
  if (check.totalBytes !== frame.length) throw new DecodeError("trailingBytes", "frame", check.totalBytes, `${frame.length - check.totalBytes} bytes after the frame`);
  return decodeRequest(frame.subarray(FRAME_SIZE_PREFIX_BYTES), options);
}

/** Encodes a whole response frame (size prefix, header, body) as a chunk list. */
export function encodeResponse<K extends ApiKey>(apiKey: K, apiVersion: number, correlationId: number, body: ResponseBodies[K]): Uint8Array[] {
  const w = new Writer(1024);
  const size = w.reserveInt32();
  const header: ResponseHeader = { correlationId };
  encodeResponseHeader(w, header, responseHeaderVersion(apiKey, apiVersion));
  encodeResponseBody(apiKey, w, body, apiVersion);
  w.patchInt32(size, w.length - FRAME_SIZE_PREFIX_BYTES);
  return w.finish();
}

/** Encodes a response frame's payload (header and body, no size prefix) as a chunk list, for a transport that writes the prefix itself. */
export function encodeResponsePayload<K extends ApiKey>(apiKey: K, apiVersion: number, correlationId: number, body: ResponseBodies[K]): Uint8Array[] {
  const w = new Writer(1024);
  encodeResponseHeader(w, { correlationId }, responseHeaderVersion(apiKey, apiVersion));
  encodeResponseBody(apiKey, w, body, apiVersion);
  return w.finish();
}

/** Encodes a whole request frame (size prefix, header, body) as a chunk list. */
export function encodeRequest<K extends ApiKey>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  clientId: string | null,
  body: RequestBodies[K],
): Uint8Array[] {
  const w = new Writer(1024);
  const size = w.reserveInt32();
  const header: RequestHeader = { requestApiKey: apiKey, requestApiVersion: apiVersion, correlationId, clientId };
  encodeRequestHeader(w, header, requestHeaderVersion(apiKey, apiVersion));
  encodeRequestBody(apiKey, w, body, apiVersion);
  w.patchInt32(size, w.length - FRAME_SIZE_PREFIX_BYTES);
  return w.finish();
}

/** Decodes a response frame payload; the caller knows the api key and version it asked with. */
export function decodeResponse<K extends ApiKey>(
  apiKey: K,
  apiVersion: number,
  payload: Uint8Array,
  options: DecodeOptions = {},
): { readonly header: ResponseHeader; readonly body: ResponseBodies[K] } {
  const r = new Reader(payload);
  const header = decodeResponseHeader(r, responseHeaderVersion(apiKey, apiVersion));
  const body = decodeResponseBody(apiKey, r, apiVersion);
  if (options.allowTrailingBytes !== true) r.expectEnd("response");
  return { header, body };
}
