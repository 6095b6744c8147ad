/**
 * `Network` over `Bun.listen` (TCP, binary type uint8array). See `src/platform/network.ts` for
 * the contract; Bun-specific notes:
 * - `socket.write` does not buffer (it returns the bytes taken, -1 once closed) and `drain`
 *   fires when the socket is writable again: exactly the interface's semantics.
 * - `pause()`/`resume()` exist on Bun 1.4 sockets and stop reads at the event loop.
 * - Each `data` array is a fresh buffer (measured: Bun never reuses it), so receivers may keep
 *   views of it.
 * - An exception escaping a receiver's callback is a bug in the receiver; the adapter
 *   terminates that one socket and reports the error through `close(error)`, so one bad
 *   connection never reaches Bun's process-wide error path.
 */
import type { Socket, TCPSocketListener } from "bun";
import {
  NetworkError,
  type ConnectionEvents,
  type Listener,
  type ListenOptions,
  type NetConnection,
  type Network,
  type NetworkErrorCode,
  ReceiverFailure,
} from "../network.ts";

interface SocketState {
  events: ConnectionEvents | null;
  closed: boolean;
}

class BunConnection implements NetConnection {
  readonly #socket: Socket<SocketState>;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;

  constructor(socket: Socket<SocketState>) {
    this.#socket = socket;
    this.remoteAddress = socket.remoteAddress;
    this.remotePort = socket.remotePort;
    this.localAddress = socket.localAddress;
    this.localPort = socket.localPort;
  }

  write(bytes: Uint8Array): number {
    if (this.#socket.data.closed) return -1;
    return this.#socket.write(bytes);
  }
  pause(): void {
    if (!this.#socket.data.closed) this.#socket.pause();
  }
  resume(): void {
    if (!this.#socket.data.closed) this.#socket.resume();
  }
  end(): void {
    if (!this.#socket.data.closed) this.#socket.end();
  }
  close(): void {
    if (!this.#socket.data.closed) this.#socket.terminate();
  }
}

function codeOf(error: unknown): NetworkErrorCode {
  const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : "";
  switch (code) {
    case "EADDRINUSE":
    case "EADDRNOTAVAIL":
    case "EACCES":
    case "EINVAL":
      return code;
    default:
      return "UNKNOWN";
  }
}

function failed(socket: Socket<SocketState>, error: Error): void {
  const state = socket.data;
  const events = state.events;
  if (state.closed) return;
  state.closed = true;
  state.events = null;
  socket.terminate();
  if (events !== null) {
    try {
      events.close(error);
    } catch {
      // Already failing this socket; nothing more to do.
    }
  }
}

export const bunNetwork: Network = {
  listen(options: ListenOptions): Listener {
    let listener: TCPSocketListener<SocketState>;
    try {
      listener = Bun.listen<SocketState>({
        hostname: options.host,
        port: options.port,
        data: { events: null, closed: false },
        socket: {
          binaryType: "uint8array",
          open(socket) {
            // Bun copies `data` per socket from the listener's template; make it ours.
            socket.data = { events: null, closed: false };
            socket.setNoDelay(true);
            try {
              socket.data.events = options.accept(new BunConnection(socket));
            } catch (error) {
              failed(socket, new ReceiverFailure("accept", error));
            }
          },
          data(socket, bytes) {
            const events = socket.data.events;
            if (events === null || socket.data.closed) return;
            try {
              events.data(bytes);
            } catch (error) {
              failed(socket, new ReceiverFailure("data", error));
            }
          },
          drain(socket) {
            const events = socket.data.events;
            if (events === null || socket.data.closed) return;
            try {
              events.drain();
            } catch (error) {
              failed(socket, new ReceiverFailure("drain", error));
            }
          },
          close(socket, error) {
            const state = socket.data;
            if (state.closed) return;
            state.closed = true;
            const events = state.events;
            state.events = null;
            if (events === null) return;
            try {
              events.close(error);
            } catch {
              // The receiver's close handler failed; the socket is gone either way.
            }
          },
          error(socket, error) {
            failed(socket, error);
          },
        },
      });
    } catch (error) {
      throw new NetworkError(codeOf(error), options.host, options.port, error instanceof Error ? error.message : String(error));
    }
    return {
      host: listener.hostname,
      port: listener.port,
      stop: () => listener.stop(false),
    };
  },
};
