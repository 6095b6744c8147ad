/**
 * A tiny HTTP GET endpoint on Bun.serve, for the metrics listener: one path answers with the
 * text `render` returns at request time; any other path is 404, any other method 405. A
 * render that throws answers 500 with one line (and the caller's log line), never a crash.
 */
export interface TextEndpoint {
  readonly host: string;
  readonly port: number;
  stop(): void;
}

export interface TextEndpointOptions {
  readonly host: string;
  /** 0: any free port (the bound one is returned). */
  readonly port: number;
  readonly path: string;
  readonly contentType: string;
  readonly render: () => string;
  readonly onError: (error: unknown) => void;
}

export function serveText(o: TextEndpointOptions): TextEndpoint {
  const server = Bun.serve({
    hostname: o.host,
    port: o.port,
    fetch(req) {
      const url = new URL(req.url);
      if (url.pathname !== o.path) return new Response("not found\n", { status: 404 });
      if (req.method !== "GET" && req.method !== "HEAD") return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
      try {
        return new Response(o.render(), { headers: { "content-type": o.contentType } });
      } catch (error) {
        o.onError(error);
        return new Response("metrics rendering failed\n", { status: 500 });
      }
    },
  });
  return { host: o.host, port: server.port ?? o.port, stop: () => void server.stop(true) };
}
