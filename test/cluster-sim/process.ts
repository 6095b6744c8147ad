/**
 * One life of a simulated node process: the clock, network and filesystem handed to
 * `startNode`, wrapped so the simulator can pause the process or kill it abruptly.
 *
 * Every entry into the node's code from the platform (a timer, accept, open, data, drain,
 * close) goes through `#enter`:
 * - running: it runs now;
 * - paused (SIGSTOP): it is held, and on `resume` each held entry runs as its own timer at
 *   delay 0, in the order it arrived (a stopped process's timers and sockets wait for it);
 * - dead: it is dropped. Nothing of a dead life ever runs again.
 * Kill is only called between simulator steps, when no promise callback is pending, so after
 * it no code of that life runs at all; its filesystem view throws if touched (a leak in this
 * gate, counted as `zombieCalls`).
 *
 * Kill modes: "kill" (the process dies, its kernel resets every connection at once) and
 * "power" (the machine loses power: peers hear nothing; when the machine comes back, its
 * kernel answers the old connections with resets — `reap`).
 */
import type { CancelTimer, Clock } from "../../src/platform/clock.ts";
import type { FileSystem } from "../../src/platform/fs.ts";
import type { ConnectEvents, ConnectionEvents, Listener, NetConnection, Network } from "../../src/platform/network.ts";
import { ReceiverFailure } from "../../src/platform/network.ts";

export type ProcessState = "running" | "paused" | "dead";

export class ZombieCallError extends Error {
  override readonly name = "ZombieCallError";
}

export class SimProcess {
  state: ProcessState = "running";
  /** Filesystem calls made by a dead life (should stay 0). */
  zombieCalls = 0;
  readonly clock: Clock;
  readonly network: Network;
  readonly fs: FileSystem;
  readonly #shared: Clock;
  readonly #timers = new Set<CancelTimer>();
  readonly #connections = new Set<NetConnection>();
  readonly #listeners = new Set<Listener>();
  #held: (() => void)[] = [];

  constructor(shared: Clock, network: Network, fs: FileSystem) {
    this.#shared = shared;
    this.clock = this.#wrapClock(shared);
    this.network = this.#wrapNetwork(network);
    this.fs = this.#wrapFs(fs);
  }

  pause(): void {
    if (this.state === "running") this.state = "paused";
  }

  resume(): void {
    if (this.state !== "paused") return;
    this.state = "running";
    const held = this.#held;
    this.#held = [];
    for (const fn of held) this.#shared.schedule(0, () => this.#enter(fn));
  }

  /** Ends this life. "kill": connections are reset now; "power": they stay silent until `reap`. */
  kill(mode: "kill" | "power"): void {
    if (this.state === "dead") return;
    this.state = "dead";
    this.#held = [];
    for (const cancel of this.#timers) cancel();
    this.#timers.clear();
    for (const l of this.#listeners) l.stop();
    this.#listeners.clear();
    if (mode === "kill") this.reap();
  }

  /** Resets whatever connections of this (dead) life are still open. */
  reap(): void {
    for (const c of this.#connections) c.close();
    this.#connections.clear();
  }

  #enter(fn: () => void): void {
    if (this.state === "dead") return;
    if (this.state === "paused") {
      this.#held.push(fn);
      return;
    }
    fn();
  }

  #wrapClock(shared: Clock): Clock {
    return {
      nowMs: () => shared.nowMs(),
      monotonicMs: () => shared.monotonicMs(),
      schedule: (delayMs, fn) => {
        if (this.state === "dead") return () => {};
        const cancelShared = shared.schedule(delayMs, () => {
          this.#timers.delete(cancel);
          this.#enter(fn);
        });
        const cancel = (): void => {
          this.#timers.delete(cancel);
          cancelShared();
        };
        this.#timers.add(cancel);
        return cancel;
      },
    };
  }

  /**
   * Events of one connection, gated. A handler that throws while running from the held queue
   * drops its connection with a ReceiverFailure, as the platform would have.
   */
  #gate<E extends ConnectionEvents>(conn: () => NetConnection, target: () => E | null): ConnectionEvents & { open(): void } {
    const guarded = (event: "open" | "data" | "drain", run: (e: E) => void) => () => {
      const e = target();
      if (e === null) return;
      try {
        run(e);
      } catch (error) {
        this.#connections.delete(conn());
        conn().close();
        e.close(new ReceiverFailure(event, error));
      }
    };
    return {
      open: () => this.#enter(guarded("open", (e) => (e as unknown as ConnectEvents).open())),
      data: (bytes) => this.#enter(guarded("data", (e) => e.data(bytes))),
      drain: () => this.#enter(guarded("drain", (e) => e.drain())),
      close: (error) => {
        this.#connections.delete(conn());
        this.#enter(() => target()?.close(error));
      },
    };
  }

  #wrapNetwork(network: Network): Network {
    return {
      listen: (options) => {
        if (this.state === "dead") throw new ZombieCallError("listen from a dead process");
        const listener = network.listen({
          ...options,
          accept: (conn) => {
            this.#connections.add(conn);
            let events: ConnectionEvents | null = null;
            this.#enter(() => {
              events = options.accept(conn);
            });
            return this.#gate(
              () => conn,
              () => events,
            );
          },
        });
        this.#listeners.add(listener);
        return {
          host: listener.host,
          port: listener.port,
          stop: () => {
            this.#listeners.delete(listener);
            listener.stop();
          },
        };
      },
      connect: (options) => {
        if (this.state === "dead") throw new ZombieCallError("connect from a dead process");
        let conn!: NetConnection;
        const events = options.events;
        conn = network.connect({
          ...options,
          events: this.#gate(
            () => conn,
            () => events,
          ),
        });
        this.#connections.add(conn);
        return conn;
      },
    };
  }

  #wrapFs(fs: FileSystem): FileSystem {
    return new Proxy(fs, {
      get: (target, prop, receiver) => {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (this.state === "dead") {
            this.zombieCalls++;
            throw new ZombieCallError(`filesystem ${String(prop)} from a dead process`);
          }
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }
}
