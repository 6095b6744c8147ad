/**
 * `Network` over `Bun.listen` and `Bun.connect` (TCP, binary type uint8array). See
 * `src/platform/network.ts` for the contract; Bun-specific notes:
 * - `socket.write` does not buffer (it returns the bytes taken, -1 once closed) and `drain`
 *   fires when the socket is writable again: exactly the interface's semantics.
 * - `pause()`/`resume()` exist on Bun 1.4 sockets and stop reads at the event loop.
 * - Each `data` array is a fresh buffer (measured: Bun never reuses it), so receivers may keep
 *   views of it.
 * - Bun calls the `close` handler synchronously from inside `terminate()` and `end()`. The
 *   contract forbids events from inside a `NetConnection` method, so a close Bun reports
 *   while one of our methods runs is delivered on a microtask instead.
 * - `Bun.connect` reports a failed attempt through `connectError` (and a rejected promise,
 *   which is ignored here); it calls neither `open` nor `close` then. Its error's `code`
 *   becomes the `NetworkError` code.
 * - Errors Bun reports on an established socket become `NetworkError`s with op "io".
 * - An exception escaping a receiver's callback is a bug in the receiver; the adapter
 *   terminates that one socket and reports the error through `close(error)`, so one bad
 *   connection never reaches Bun's process-wide error path.
 */
import type { Socket, SocketHandler, TCPSocketListener } from "bun";
import {
  type ConnectionEvents,
  type ConnectOptions,
  type Listener,
  type ListenOptions,
  type NetConnection,
  type Network,
  NetworkError,
  type NetworkErrorCode,
  type NetworkOp,
  ReceiverFailure,
} from "../network.ts";

interface SocketState {
  events: ConnectionEvents | null;
  closed: boolean;
  /** > 0 while a `NetConnection` method runs: a close reported then is delivered later. */
  depth: number;
  /** The peer, for error messages (Bun's socket forgets it once closed). */
  remoteHost: string;
  remotePort: number;
}

function newState(remoteHost = "", remotePort = 0): SocketState {
  return { events: null, closed: false, depth: 0, remoteHost, remotePort };
}

class BunConnection implements NetConnection {
  #socket: Socket<SocketState> | null;
  readonly #state: SocketState;
  readonly #targetHost: string;
  readonly #targetPort: number;

  /** `socket` is null for an outgoing connection until it opens (`attach`). */
  constructor(state: SocketState, socket: Socket<SocketState> | null, targetHost = "", targetPort = 0) {
    this.#state = state;
    this.#socket = socket;
    this.#targetHost = targetHost;
    this.#targetPort = targetPort;
  }

  attach(socket: Socket<SocketState>): void {
    if (this.#socket !== null) throw new Error("BunConnection.attach: already attached");
    this.#socket = socket;
  }

  get remoteAddress(): string {
    return this.#socket?.remoteAddress ?? this.#targetHost;
  }
  get remotePort(): number {
    return this.#socket === null ? this.#targetPort : this.#socket.remotePort;
  }
  get localAddress(): string {
    return this.#socket?.localAddress ?? "";
  }
  get localPort(): number {
    return this.#socket?.localPort ?? 0;
  }

  write(bytes: Uint8Array): number {
    if (this.#state.closed) return -1;
    const socket = this.#socket;
    if (socket === null) return 0;
    this.#state.depth++;
    try {
      return socket.write(bytes);
    } finally {
      this.#state.depth--;
    }
  }
  pause(): void {
    if (!this.#state.closed) this.#socket?.pause();
  }
  resume(): void {
    if (!this.#state.closed) this.#socket?.resume();
  }
  end(): void {
    this.#stop((socket) => socket.end());
  }
  close(): void {
    this.#stop((socket) => socket.terminate());
  }

  #stop(how: (socket: Socket<SocketState>) => void): void {
    const state = this.#state;
    if (state.closed) return;
    const socket = this.#socket;
    if (socket === null) {
      // An attempt still connecting: abandon it. `open` will find it closed and terminate.
      const events = state.events;
      state.closed = true;
      state.events = null;
      if (events !== null) queueMicrotask(() => deliverClose(events, undefined));
      return;
    }
    state.depth++;
    try {
      how(socket);
    } finally {
      state.depth--;
    }
  }
}

const networkErrorCodes: ReadonlySet<string> = new Set<NetworkErrorCode>([
  "EADDRINUSE",
  "EADDRNOTAVAIL",
  "EACCES",
  "EINVAL",
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EPIPE",
]);

function codeOf(error: unknown): NetworkErrorCode {
  const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : "";
  return networkErrorCodes.has(code) ? (code as NetworkErrorCode) : "UNKNOWN";
}

function toNetworkError(op: NetworkOp, error: unknown, host: string, port: number): NetworkError {
  if (error instanceof NetworkError) return error;
  return new NetworkError(op, codeOf(error), host, port, error instanceof Error ? error.message : String(error));
}

function deliverClose(events: ConnectionEvents, error: Error | undefined): void {
  try {
    events.close(error);
  } catch {
    // The receiver's close handler failed; the socket is gone either way.
  }
}

/** Marks the socket closed and tells its receiver once, later if one of our methods is running. */
function reportClose(state: SocketState, error: Error | undefined): void {
  if (state.closed) return;
  state.closed = true;
  const events = state.events;
  state.events = null;
  if (events === null) return;
  if (state.depth > 0) queueMicrotask(() => deliverClose(events, error));
  else deliverClose(events, error);
}

function failed(socket: Socket<SocketState>, error: Error): void {
  const state = socket.data;
  if (state.closed) return;
  reportClose(state, error);
  socket.terminate();
}

/** Handlers shared by accepted and outgoing sockets once they are open. */
const openSocketHandlers = {
  data(socket: Socket<SocketState>, bytes: Uint8Array) {
    const events = socket.data.events;
    if (events === null || socket.data.closed) return;
    try {
      events.data(bytes);
    } catch (error) {
      failed(socket, new ReceiverFailure("data", error));
    }
  },
  drain(socket: Socket<SocketState>) {
    const events = socket.data.events;
    if (events === null || socket.data.closed) return;
    try {
      events.drain();
    } catch (error) {
      failed(socket, new ReceiverFailure("drain", error));
    }
  },
  close(socket: Socket<SocketState>, error?: Error) {
    const state = socket.data;
    reportClose(state, error === undefined ? undefined : toNetworkError("io", error, state.remoteHost, state.remotePort));
  },
  error(socket: Socket<SocketState>, error: Error) {
    const state = socket.data;
    failed(socket, toNetworkError("io", error, state.remoteHost, state.remotePort));
  },
};

export const bunNetwork: Network = {
  listen(options: ListenOptions): Listener {
    let listener: TCPSocketListener<SocketState>;
    const handler: SocketHandler<SocketState> = {
      binaryType: "uint8array",
      open(socket) {
        // Bun copies `data` per socket from the listener's template; make it ours.
        socket.data = newState(socket.remoteAddress, socket.remotePort);
        socket.setNoDelay(true);
        try {
          socket.data.events = options.accept(new BunConnection(socket.data, socket));
        } catch (error) {
          failed(socket, new ReceiverFailure("accept", error));
        }
      },
      ...openSocketHandlers,
    };
    try {
      listener = Bun.listen<SocketState>({ hostname: options.host, port: options.port, data: newState(), socket: handler });
    } catch (error) {
      throw toNetworkError("listen", error, options.host, options.port);
    }
    return {
      host: listener.hostname,
      port: listener.port,
      stop: () => listener.stop(false),
    };
  },

  connect(options: ConnectOptions): NetConnection {
    const { host, port, events } = options;
    const state = newState(host, port);
    state.events = events;
    const conn = new BunConnection(state, null, host, port);
    const connectFailed = (error: unknown): void => {
      if (state.closed) return;
      reportClose(state, toNetworkError("connect", error, host, port));
    };
    const handler: SocketHandler<SocketState> = {
      binaryType: "uint8array",
      open(socket) {
        socket.data = state;
        if (state.closed) {
          // Abandoned by `close()` while connecting.
          socket.terminate();
          return;
        }
        conn.attach(socket);
        socket.setNoDelay(true);
        try {
          events.open();
        } catch (error) {
          failed(socket, new ReceiverFailure("open", error));
        }
      },
      connectError(_socket, error) {
        connectFailed(error);
      },
      ...openSocketHandlers,
    };
    try {
      // The outcome is reported through the handlers; the promise only mirrors it.
      Bun.connect<SocketState>({ hostname: host, port, data: state, socket: handler }).catch(() => undefined);
    } catch (error) {
      // Rejected synchronously (e.g. an invalid port): still reported as an event, later.
      queueMicrotask(() => connectFailed(error));
    }
    return conn;
  },
};
