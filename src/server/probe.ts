/**
 * Server counters, kept apart from the logic that bumps them (Redpanda's probe files). Plain
 * numbers, monotonic except the `*Open`/`*Inflight` gauges; `snapshot()` copies them for
 * tests, logs and, later, a metrics endpoint.
 */
export class ServerProbe {
  connectionsAccepted = 0;
  /** Refused at accept: max.connections, max.connections.per.ip, or shutting down. */
  connectionsRejected = 0;
  connectionsClosed = 0;
  connectionsOpen = 0;
  requestsReceived = 0;
  responsesSent = 0;
  /** Requests whose handler returned null (no response, e.g. acks=0 produce). */
  responsesSkipped = 0;
  bytesIn = 0;
  bytesOut = 0;
  /** Frames with a negative or oversized size prefix. */
  frameErrors = 0;
  /** Handlers that threw, rejected or returned something that is not a response. */
  handlerErrors = 0;
  idleClosed = 0;
  /** Times a connection stopped reading for flow control. */
  readPauses = 0;

  snapshot(): Readonly<Record<string, number>> {
    return {
      connectionsAccepted: this.connectionsAccepted,
      connectionsRejected: this.connectionsRejected,
      connectionsClosed: this.connectionsClosed,
      connectionsOpen: this.connectionsOpen,
      requestsReceived: this.requestsReceived,
      responsesSent: this.responsesSent,
      responsesSkipped: this.responsesSkipped,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      frameErrors: this.frameErrors,
      handlerErrors: this.handlerErrors,
      idleClosed: this.idleClosed,
      readPauses: this.readPauses,
    };
  }
}
