/**
 * A scriptable Kafka peer for client tests, on any `Network` (the simulated one mostly): it
 * decodes request frames with the generated codecs, answers ApiVersions itself (ranges and the
 * highest ApiVersions version it accepts are settable, with Kafka's v0 UNSUPPORTED_VERSION
 * answer above it), and hands every other request to the test, which may answer, hold, answer
 * out of order, send raw bytes (garbage, bad correlation ids, absurd sizes) or close.
 */
import type { NetConnection, Network } from "../../src/platform/network.ts";
import { ourVersions } from "../../src/client/api-versions.ts";
import { FrameReader } from "../../src/client/frame-reader.ts";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { type DecodedRequest, decodeRequest, encodeResponse } from "../../src/protocol/frame.ts";
import { defaultApiVersionsResponse } from "../../src/protocol/messages/api-versions-response.ts";
import { type ApiKey, ApiKeys, apis, type ResponseBodies } from "../../src/protocol/messages/index.ts";

export interface PeerRequest {
  readonly req: DecodedRequest;
  readonly conn: PeerConnection;
}

export class PeerConnection {
  readonly #conn: NetConnection;
  #out: Uint8Array[] = [];
  closed = false;
  readonly requests: DecodedRequest[] = [];

  constructor(conn: NetConnection) {
    this.#conn = conn;
  }

  /** Answers `req` with `body` at the request's version. */
  answer<K extends ApiKey>(req: DecodedRequest & { apiKey: K }, body: ResponseBodies[K]): void {
    for (const c of encodeResponse(req.apiKey, req.apiVersion, req.header.correlationId, body)) this.raw(c);
  }

  /** Writes bytes as they are (queued through short writes). */
  raw(bytes: Uint8Array): void {
    this.#out.push(bytes);
    this.flush();
  }

  flush(): void {
    while (this.#out.length > 0 && !this.closed) {
      const head = this.#out[0] as Uint8Array;
      const n = this.#conn.write(head);
      if (n < 0) return;
      if (n < head.length) {
        this.#out[0] = head.subarray(n);
        return;
      }
      this.#out.shift();
    }
  }

  close(): void {
    this.closed = true;
    this.#conn.close();
  }
}

export interface FakePeerOptions {
  readonly network: Network;
  readonly host: string;
  readonly port?: number;
  /** Ranges advertised in ApiVersions; default every API of the codec at our versions. */
  readonly apiVersions?: readonly { apiKey: number; minVersion: number; maxVersion: number }[];
  /** Highest ApiVersions request version accepted (default 4); above it the v0 error answer. */
  readonly apiVersionsMax?: number;
  /** Whether the UNSUPPORTED_VERSION answer lists the ranges (Kafka ≥ 2.4 does). */
  readonly listRangesOnUnsupported?: boolean;
  /** Leave ApiVersions unanswered (a peer that hangs during set-up). */
  readonly silent?: boolean;
  /** Every request other than ApiVersions; the default answers nothing. */
  readonly onRequest?: (r: PeerRequest) => void;
}

export class FakePeer {
  readonly port: number;
  readonly connections: PeerConnection[] = [];
  /** ApiVersions versions received, in order. */
  readonly apiVersionsSeen: number[] = [];
  readonly #stop: () => void;

  constructor(options: FakePeerOptions) {
    const ranges = options.apiVersions ?? apis.map((a) => ({ apiKey: a.apiKey, minVersion: a.minVersion, maxVersion: ourVersions(a.apiKey)?.max ?? a.maxVersion }));
    const apiVersionsMax = options.apiVersionsMax ?? 4;
    const listener = options.network.listen({
      host: options.host,
      port: options.port ?? 0,
      accept: (conn) => {
        const peer = new PeerConnection(conn);
        this.connections.push(peer);
        const reader = new FrameReader(1 << 30);
        return {
          data: (bytes) => {
            const pushed = reader.push(bytes);
            for (const frame of pushed.frames) {
              const apiKey = new DataView(frame.buffer, frame.byteOffset).getInt16(0);
              const apiVersion = new DataView(frame.buffer, frame.byteOffset).getInt16(2);
              const correlationId = new DataView(frame.buffer, frame.byteOffset).getInt32(4);
              if (apiKey === ApiKeys.ApiVersions) {
                this.apiVersionsSeen.push(apiVersion);
                if (options.silent === true) continue;
                if (apiVersion > apiVersionsMax) {
                  const body = {
                    ...defaultApiVersionsResponse(),
                    errorCode: ErrorCode.UNSUPPORTED_VERSION,
                    apiKeys: options.listRangesOnUnsupported === false ? [] : [{ apiKey: ApiKeys.ApiVersions, minVersion: 0, maxVersion: apiVersionsMax }],
                  };
                  for (const c of encodeResponse(ApiKeys.ApiVersions, 0, correlationId, body)) peer.raw(c);
                  continue;
                }
              }
              const req = decodeRequest(frame);
              peer.requests.push(req);
              if (req.apiKey === ApiKeys.ApiVersions) {
                peer.answer(req as DecodedRequest & { apiKey: 18 }, { ...defaultApiVersionsResponse(), apiKeys: ranges.map((r) => ({ ...r })) });
                continue;
              }
              options.onRequest?.({ req, conn: peer });
            }
          },
          drain: () => peer.flush(),
          close: () => {
            peer.closed = true;
          },
        };
      },
    });
    this.port = listener.port;
    this.#stop = () => listener.stop();
  }

  /** Stops listening and drops every connection (a crashed peer process). */
  stop(): void {
    this.#stop();
    for (const c of this.connections) if (!c.closed) c.close();
  }

  /** All requests other than ApiVersions, across connections. */
  requests(): DecodedRequest[] {
    return this.connections.flatMap((c) => c.requests.filter((r) => r.apiKey !== ApiKeys.ApiVersions));
  }
}
