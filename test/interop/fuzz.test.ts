/**
 * Wire fuzzing of a real broker process: 100,000 request frames (50 lanes × 2,000 by
 * default), each a real client's request captured in test/golden/**\/*.bin sent as is or
 * mutated (size prefix, api key, api version, correlation id, int16/int32 counts and
 * lengths set to edge values, unterminated or overlong varints, bit flips, truncation,
 * appended garbage, splices of two frames, pure random bodies), pipelined over many
 * connections. The broker must answer or close each connection, never crash: afterwards the
 * process is alive, its stderr has no uncaught/unhandled exception, and it still serves real
 * clients (kcat -L, and a produce/consume round trip).
 *
 * Each lane sends its frames in chunks followed by a sentinel ApiVersions v0 request with a
 * known correlation id. Responses come back in request order, so the sentinel's answer means
 * the broker has dealt with every frame of the chunk; a close before it means one of them
 * closed the connection (allowed); neither within `chunkTimeoutMs` counts as a stall (the
 * broker may be waiting for the rest of a frame whose size prefix was enlarged; those
 * connections are dropped and the lane reconnects). Frames whose size prefix no longer matches
 * their body are sent alone on a fresh connection, since they desynchronise the stream.
 *
 * Structured mutations decode a golden frame with the generated codecs, change field values
 * (edge numbers, hostile names, emptied or duplicated arrays) and re-encode, so well-framed
 * requests with hostile values reach the handlers; any exception inside a handler fails the
 * test. Time fields are capped (see `clampTimes`) and the run stops sending at `runDeadlineMs`
 * (the frame count reached is printed). A probe connection measures the worst ApiVersions
 * round trip during the run (printed, not asserted: it shows event-loop stalls).
 *
 * Seeded: the seed is printed; `BUNKA_FUZZ_SEED=<seed> bun test test/interop/fuzz.test.ts`
 * replays the same frames (timing may differ). `BUNKA_FUZZ_LANES` / `BUNKA_FUZZ_FRAMES`
 * (per lane) scale the run.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import type { Socket } from "bun";
import { flattenChunks } from "../../src/protocol/codec/writer.ts";
import { decodeRequestFrame, encodeRequest } from "../../src/protocol/frame.ts";
import { BrokerProcess, guard, ok, pollUntil, run, startBroker, text } from "./broker-process.ts";

setDefaultTimeout(150_000);

const seed = Number(process.env.BUNKA_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const lanes = Number(process.env.BUNKA_FUZZ_LANES ?? 50);
const framesPerLane = Number(process.env.BUNKA_FUZZ_FRAMES ?? 2000);
const chunkFrames = 8;
const chunkTimeoutMs = 1500;
const runDeadlineMs = 40_000;
const sentinelCorrelationBase = 0x5eed0000;

console.log(`fuzz: seed ${seed} (replay: BUNKA_FUZZ_SEED=${seed} bun test test/interop/fuzz.test.ts), ${lanes} lanes × ${framesPerLane} frames`);

/** xorshift128+ style generator on 32-bit halves; deterministic per seed. */
class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(s: number) {
    this.a = s >>> 0 || 0x9e3779b9;
    this.b = 0x243f6a88 ^ this.a;
    this.c = 0xb7e15162;
    this.d = 0x85a308d3 ^ (s * 31);
    for (let i = 0; i < 20; i++) this.u32();
  }
  u32(): number {
    // sfc32
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  int(n: number): number {
    return this.u32() % n;
  }
  chance(p: number): boolean {
    return this.u32() / 2 ** 32 < p;
  }
  pick<T>(xs: readonly T[]): T {
    const x = xs[this.int(xs.length)];
    if (x === undefined) throw new Error("pick from an empty list");
    return x;
  }
}

interface Frame {
  readonly bytes: Uint8Array;
  /** False when the size prefix does not match the body (the frame desynchronises the stream). */
  readonly framed: boolean;
  readonly kind: string;
}

function loadGolden(): Uint8Array[] {
  const root = join(import.meta.dir, "../golden");
  const out: Uint8Array[] = [];
  for (const path of new Bun.Glob("**/*.bin").scanSync(root)) {
    const bytes = new Uint8Array(require("node:fs").readFileSync(join(root, path)) as Buffer);
    if (bytes.length < 12) throw new Error(`golden frame ${path} too short`);
    out.push(bytes);
  }
  out.sort((x, y) => x.length - y.length || Buffer.compare(Buffer.from(x), Buffer.from(y)));
  return out;
}

function withSize(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 4);
  new DataView(out.buffer).setInt32(0, body.length);
  out.set(body, 4);
  return out;
}

const edge32 = [0, 1, -1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, -0x80000000, 1 << 20, 1 << 24, 1 << 30];
const edge16 = [0, 1, -1, 0x7f, 0x80, 0xff, 0x7fff, -0x8000, 0x100];

const numberPool = [-1, 0, 1, 2, 3, 5, 17, 100, 127, -128, 255, 200, 32767, -32768, 65535, 1_000_000, 2147483647, -2147483648];
const bigintPool = [-1n, 0n, 1n, 1000n, 2n ** 53n, 2n ** 62n, 2n ** 63n - 1n, -(2n ** 63n)];
const stringPool = ["", "a", ".", "..", "x".repeat(249), "y".repeat(300), "__consumer_offsets", "__cluster_metadata", "bad/name", "ünïcødé", "golden", "fuzz-topic", "fuzz-group"];

/** Mutates leaves of a decoded request body in place (each with probability `p`); arrays may be emptied or grown (bounded). */
function mutateValue(rng: Rng, v: unknown, p: number): unknown {
  if (typeof v === "number") return rng.chance(p) ? rng.pick(numberPool) : v;
  if (typeof v === "bigint") return rng.chance(p) ? rng.pick(bigintPool) : v;
  if (typeof v === "boolean") return rng.chance(p) ? !v : v;
  if (typeof v === "string") return rng.chance(p) ? (rng.chance(0.8) ? rng.pick(stringPool) : `${v}-${rng.int(1000)}`) : v;
  if (v instanceof Uint8Array) {
    if (!rng.chance(p) || v.length === 0) return v;
    const out = v.slice(0, rng.chance(0.3) ? rng.int(v.length) : v.length);
    if (out.length > 0) out[rng.int(out.length)] = rng.int(256);
    return out;
  }
  if (Array.isArray(v)) {
    if (rng.chance(p / 2)) return [];
    const out = v.map((x: unknown) => mutateValue(rng, x, p));
    if (out.length > 0 && rng.chance(p / 2)) {
      const n = rng.chance(0.2) ? 100 : 1 + rng.int(3);
      for (let i = 0; i < n; i++) out.push(out[rng.int(out.length)]);
    }
    return out;
  }
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) o[k] = mutateValue(rng, o[k], p);
    return o;
  }
  return v;
}

/**
 * Long-poll and timeout fields (Fetch maxWaitMs, JoinGroup rebalance/session timeouts,
 * Produce/CreateTopics timeoutMs...) are honoured by the broker, so large values make it
 * wait, legitimately; capping them at `timeFieldMsMax` keeps the run short without
 * removing zero and negative values.
 */
const timeFieldMsMax = 100;
function clampTimes(v: unknown): void {
  if (Array.isArray(v)) {
    for (const x of v) clampTimes(x);
    return;
  }
  if (v === null || typeof v !== "object" || v instanceof Uint8Array) return;
  const o = v as Record<string, unknown>;
  for (const [k, x] of Object.entries(o)) {
    if (typeof x === "number" && /timeout|wait/i.test(k) && x > timeFieldMsMax) o[k] = timeFieldMsMax;
    else clampTimes(x);
  }
}

/** Golden frames with their time fields capped (see `clampTimes`), re-encoded. */
function tame(frames: readonly Uint8Array[]): Uint8Array[] {
  return frames.map((f) => {
    const req = decodeRequestFrame(f);
    clampTimes(req.body);
    return flattenChunks(encodeRequest(req.apiKey, req.apiVersion, req.header.correlationId, req.header.clientId, req.body));
  });
}

function countLeaves(v: unknown): number {
  if (Array.isArray(v)) return v.reduce((n: number, x: unknown) => n + countLeaves(x), 1);
  if (v !== null && typeof v === "object" && !(v instanceof Uint8Array)) return Object.values(v as Record<string, unknown>).reduce((n: number, x) => n + countLeaves(x), 0);
  return 1;
}

/** Decodes a golden frame, changes field values (types kept), re-encodes: well-framed, parseable requests with hostile values. */
function structured(rng: Rng, src: Uint8Array): Frame | null {
  for (let attempt = 0; attempt < 4; attempt++) {
    const req = decodeRequestFrame(src);
    const leaves = Math.max(1, countLeaves(req.body));
    const body = mutateValue(rng, req.body, Math.min(1, (1 + rng.int(4)) / leaves));
    clampTimes(body);
    try {
      const bytes = flattenChunks(encodeRequest(req.apiKey, req.apiVersion, rng.int(1 << 30), req.header.clientId, body as typeof req.body));
      return { bytes, framed: true, kind: "structured" };
    } catch {
      // A value out of its field's range (e.g. 65535 in an int16): try another mutation.
    }
  }
  return null;
}

function mutate(rng: Rng, golden: readonly Uint8Array[]): Frame {
  const src = rng.pick(golden);
  if (rng.chance(0.25)) {
    const f = structured(rng, src);
    if (f !== null) return f;
  }
  const body = src.slice(4); // apiKey(2) apiVersion(2) correlationId(4) ...
  const dv = new DataView(body.buffer);
  const roll = rng.int(100);
  if (roll < 8) return { bytes: withSize(body), framed: true, kind: "valid" };
  if (roll < 14) {
    dv.setInt16(0, rng.chance(0.5) ? rng.int(80) : rng.pick(edge16));
    return { bytes: withSize(body), framed: true, kind: "api-key" };
  }
  if (roll < 22) {
    dv.setInt16(2, rng.chance(0.6) ? rng.int(20) : rng.pick(edge16));
    return { bytes: withSize(body), framed: true, kind: "api-version" };
  }
  if (roll < 24) {
    dv.setInt32(4, rng.u32() | 0);
    return { bytes: withSize(body), framed: true, kind: "correlation-id" };
  }
  if (roll < 38) {
    // Counts, lengths and sizes are int16/int32 fields somewhere past the header.
    for (let k = 1 + rng.int(3); k > 0; k--) {
      if (body.length < 10) break;
      const at = 8 + rng.int(body.length - 8);
      if (rng.chance(0.5) && at + 4 <= body.length) dv.setInt32(at, rng.pick(edge32));
      else if (at + 2 <= body.length) dv.setInt16(at, rng.pick(edge16));
    }
    return { bytes: withSize(body), framed: true, kind: "counts" };
  }
  if (roll < 48) {
    // Varints (compact lengths, tagged fields, record fields): unterminated or huge.
    const at = 8 + rng.int(Math.max(1, body.length - 8));
    const run = 1 + rng.int(10);
    const out = new Uint8Array(body.length + run);
    out.set(body.subarray(0, at), 0);
    for (let i = 0; i < run; i++) out[at + i] = rng.chance(0.8) ? 0xff : 0x80 | rng.int(128);
    out.set(body.subarray(at), at + run);
    return { bytes: withSize(out), framed: true, kind: "varint" };
  }
  if (roll < 60) {
    for (let k = 1 + rng.int(8); k > 0; k--) {
      const at = rng.int(body.length);
      body[at] = (body[at] ?? 0) ^ (1 << rng.int(8));
    }
    return { bytes: withSize(body), framed: true, kind: "bit-flips" };
  }
  if (roll < 72) {
    const len = rng.chance(0.2) ? rng.int(8) : 8 + rng.int(Math.max(1, body.length - 8));
    return { bytes: withSize(body.subarray(0, len)), framed: true, kind: "truncated" };
  }
  if (roll < 80) {
    const extra = new Uint8Array(1 + rng.int(rng.chance(0.1) ? 4096 : 64));
    for (let i = 0; i < extra.length; i++) extra[i] = rng.int(256);
    const out = new Uint8Array(body.length + extra.length);
    out.set(body, 0);
    out.set(extra, body.length);
    return { bytes: withSize(out), framed: true, kind: "appended" };
  }
  if (roll < 86) {
    const other = rng.pick(golden).subarray(4);
    const cut = rng.int(body.length + 1);
    const from = rng.int(other.length + 1);
    const out = new Uint8Array(cut + other.length - from);
    out.set(body.subarray(0, cut), 0);
    out.set(other.subarray(from), cut);
    return { bytes: withSize(out), framed: true, kind: "splice" };
  }
  if (roll < 94) {
    const out = new Uint8Array(rng.int(300));
    for (let i = 0; i < out.length; i++) out[i] = rng.int(256);
    if (out.length >= 4 && rng.chance(0.7)) {
      // A plausible header: a known api key and a small version, then noise.
      new DataView(out.buffer).setInt16(0, rng.int(70));
      new DataView(out.buffer).setInt16(2, rng.int(16));
    }
    return { bytes: withSize(out), framed: true, kind: "random" };
  }
  // Size prefix that lies about the body: negative, zero, tiny, larger than the body, huge.
  const bytes = withSize(body);
  const lie = rng.pick([-1, -0x80000000, 0, 1, 3, body.length - 1, body.length + 1, body.length + 1000, 0x7fffffff, 200 * 1024 * 1024]);
  new DataView(bytes.buffer).setInt32(0, lie);
  return { bytes, framed: false, kind: "size-prefix" };
}

function sentinel(id: number): Uint8Array {
  // ApiVersions v0, request header v1 with a null client id.
  const f = new Uint8Array(14);
  const dv = new DataView(f.buffer);
  dv.setInt32(0, 10);
  dv.setInt16(4, 18);
  dv.setInt16(6, 0);
  dv.setInt32(8, id);
  dv.setInt16(12, -1);
  return f;
}

interface Stats {
  frames: number;
  chunksAnswered: number;
  chunksClosed: number;
  chunksStalled: number;
  loneFrames: number;
  connections: number;
  responses: number;
  kinds: Map<string, number>;
  /** api key/version/kind of the frames in chunks that stalled: where to look when the broker stalls. */
  stalledFrames: Map<string, number>;
  /** Connects refused and retried (see `openConn`). */
  refusedConnects: number;
}

/**
 * Opens a connection, retrying a refused connect for up to 2 s. The fuzz opens ~100k loopback
 * connections in 30 s, most closed first by the broker, so the server side holds them in
 * TIME_WAIT; once the 28k ephemeral ports wrap, a reused client port can be answered with a
 * reset. The broker being reachable at all is checked with real clients after the fuzz.
 */
async function openConn(port: number, stats: Stats): Promise<Conn> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await Conn.open(port);
    } catch (e) {
      if (attempt >= 40) throw e;
      stats.refusedConnects++;
      await Bun.sleep(50);
    }
  }
}

/** One connection: writes with backpressure, splits the response stream into frames. */
class Conn {
  private socket: Socket<undefined> | null = null;
  private pending: Uint8Array[] = [];
  private inbuf = new Uint8Array(0);
  closed = false;
  private waiters: (() => void)[] = [];
  readonly correlationIds: number[] = [];

  static async open(port: number): Promise<Conn> {
    const c = new Conn();
    c.socket = await Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        data: (_s, data) => c.onData(data),
        drain: () => c.flush(),
        close: () => c.onClose(),
        error: () => c.onClose(),
        connectError: () => c.onClose(),
      },
    });
    return c;
  }

  private onData(data: Uint8Array): void {
    const merged = new Uint8Array(this.inbuf.length + data.length);
    merged.set(this.inbuf, 0);
    merged.set(data, this.inbuf.length);
    let at = 0;
    while (merged.length - at >= 8) {
      const size = new DataView(merged.buffer, merged.byteOffset + at).getInt32(0);
      if (size < 4 || size > 256 * 1024 * 1024) throw new Error(`broker sent a response frame of size ${size}`);
      if (merged.length - at < 4 + size) break;
      this.correlationIds.push(new DataView(merged.buffer, merged.byteOffset + at + 4).getInt32(0));
      at += 4 + size;
    }
    this.inbuf = merged.slice(at);
    this.wake();
  }

  private onClose(): void {
    this.closed = true;
    this.wake();
  }

  private wake(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  write(bytes: Uint8Array): void {
    if (this.closed || this.socket === null) return;
    this.pending.push(bytes);
    this.flush();
  }

  private flush(): void {
    while (this.pending.length > 0 && !this.closed && this.socket !== null) {
      const head = this.pending[0] ?? new Uint8Array(0);
      const n = this.socket.write(head);
      if (n < 0) {
        this.onClose();
        return;
      }
      if (n < head.length) {
        this.pending[0] = head.subarray(n);
        return;
      }
      this.pending.shift();
    }
  }

  /** Resolves when `pred` holds, the connection closes, or the deadline passes. */
  async until(pred: () => boolean, timeoutMs: number): Promise<"ok" | "closed" | "timeout"> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (pred()) return "ok";
      if (this.closed) return "closed";
      const left = deadline - Date.now();
      if (left <= 0) return "timeout";
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((r) => {
        this.waiters.push(r);
        timer = setTimeout(r, left);
      });
      clearTimeout(timer);
    }
  }

  close(): void {
    this.closed = true;
    this.socket?.end();
    this.socket = null;
    this.wake();
  }
}

function correlationOf(f: Frame): number | null {
  return f.bytes.length >= 12 ? new DataView(f.bytes.buffer, f.bytes.byteOffset).getInt32(8) : null;
}

/**
 * Sends one lane's frames. Framed frames go out in pipelined chunks closed by a sentinel; when
 * the broker closes the connection mid-chunk, the answered frames are matched in order by
 * correlation id, the first unanswered one is taken as the one that closed it, and the lane
 * resumes on a new connection with the frame after it, so every frame is read by the broker.
 */
async function lane(port: number, index: number, golden: readonly Uint8Array[], stats: Stats, deadline: number): Promise<void> {
  const rng = new Rng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  let sentinelId = sentinelCorrelationBase + index * 0x100;
  let conn: Conn | null = null;
  const queue: Frame[] = [];
  for (let i = 0; i < framesPerLane; i++) {
    const f = mutate(rng, golden);
    stats.kinds.set(f.kind, (stats.kinds.get(f.kind) ?? 0) + 1);
    queue.push(f);
  }
  let head = 0;
  try {
    while (head < queue.length && Date.now() < deadline) {
      const f0 = queue[head];
      if (f0 !== undefined && !f0.framed) {
        // Alone on its own connection: the broker closes it or waits for bytes that never come.
        head++;
        stats.frames++;
        stats.loneFrames++;
        stats.connections++;
        const c = await openConn(port, stats);
        c.write(f0.bytes);
        await c.until(() => false, 50);
        c.close();
        continue;
      }
      const chunk: Frame[] = [];
      for (let i = head; i < queue.length && chunk.length < chunkFrames; i++) {
        const f = queue[i];
        if (f === undefined || !f.framed) break;
        chunk.push(f);
      }
      if (conn === null || conn.closed) {
        stats.connections++;
        conn = await openConn(port, stats);
      }
      const c = conn;
      const id = ++sentinelId;
      for (const f of chunk) c.write(f.bytes);
      c.write(sentinel(id));
      const r = await c.until(() => c.correlationIds.includes(id), chunkTimeoutMs);
      const received = c.correlationIds.splice(0);
      stats.responses += received.length;
      if (r === "ok") {
        stats.chunksAnswered++;
        head += chunk.length;
        stats.frames += chunk.length;
        continue;
      }
      conn = null;
      if (r === "timeout") {
        stats.chunksStalled++;
        for (const f of chunk) {
          const dv = new DataView(f.bytes.buffer, f.bytes.byteOffset);
          const key = f.bytes.length >= 8 ? `${dv.getInt16(4)}v${dv.getInt16(6)}:${f.kind}` : `short:${f.kind}`;
          stats.stalledFrames.set(key, (stats.stalledFrames.get(key) ?? 0) + 1);
        }
        c.close();
        head += chunk.length;
        stats.frames += chunk.length;
        continue;
      }
      stats.chunksClosed++;
      let k = 0;
      let lastAnswered = -1;
      for (let j = 0; j < chunk.length && k < received.length; j++) {
        const f = chunk[j];
        if (f !== undefined && correlationOf(f) === received[k]) {
          k++;
          lastAnswered = j;
        }
      }
      const consumed = lastAnswered + 2; // the answered ones and the one that closed the connection
      head += Math.min(consumed, chunk.length);
      stats.frames += Math.min(consumed, chunk.length);
    }
  } finally {
    conn?.close();
  }
}

/** One extra connection sending an ApiVersions every 50 ms while the fuzz runs: the worst round trip shows how long the broker stalled. */
async function probe(port: number, until: () => boolean, stats: Stats): Promise<{ rounds: number; worstMs: number }> {
  let rounds = 0;
  let worstMs = 0;
  let conn = await openConn(port, stats);
  let id = 0x7e570000;
  while (!until()) {
    if (conn.closed) conn = await openConn(port, stats);
    const mine = ++id;
    const t0 = performance.now();
    conn.write(sentinel(mine));
    const r = await conn.until(() => conn.correlationIds.includes(mine), 60_000);
    conn.correlationIds.length = 0;
    if (r === "ok") {
      rounds++;
      worstMs = Math.max(worstMs, performance.now() - t0);
    }
    await Bun.sleep(50);
  }
  conn.close();
  return { rounds, worstMs: Math.round(worstMs) };
}

let broker: BrokerProcess | undefined;
const b = (): BrokerProcess => {
  if (broker === undefined) throw new Error("broker not started");
  return broker;
};

beforeAll(async () => {
  broker = await startBroker({ name: "fuzz", sets: { "socket.request.max.bytes": String(1024 * 1024), "group.initial.rebalance.delay.ms": "0", "group.min.session.timeout.ms": "0" } });
});
afterAll(async () => {
  if (broker === undefined) return;
  if (broker.alive()) await broker.stop();
  await broker.dispose();
});

test(
  "random and mutated frames over many pipelined connections: the broker answers or closes, never crashes, and still serves real clients",
  guard(() => broker, async () => {
    const golden = tame(loadGolden());
    expect(golden.length).toBeGreaterThan(50);
    const stats: Stats = { frames: 0, chunksAnswered: 0, chunksClosed: 0, chunksStalled: 0, loneFrames: 0, connections: 0, responses: 0, kinds: new Map(), stalledFrames: new Map(), refusedConnects: 0 };
    const started = Date.now();
    const deadline = started + runDeadlineMs;
    let done = false;
    const probing = probe(b().port, () => done, stats);
    probing.catch(() => {}); // awaited (and rethrown) in finally; never an unhandled rejection meanwhile
    try {
      await Promise.all(Array.from({ length: lanes }, (_, i) => lane(b().port, i, golden, stats, deadline)));
    } finally {
      done = true;
      const p = await probing;
      console.log(`fuzz: probe: ${p.rounds} ApiVersions round trips during the fuzz, worst ${p.worstMs} ms`);
      const stalled = [...stats.stalledFrames].sort((x, y) => y[1] - x[1]).slice(0, 12);
      if (stalled.length > 0) console.log(`fuzz: frames in stalled chunks (apiKey v version: kind): ${JSON.stringify(Object.fromEntries(stalled))}`);
      console.log(
        `fuzz: seed ${seed}: ${stats.frames} frames in ${Date.now() - started} ms over ${stats.connections} connections; chunks answered ${stats.chunksAnswered}, closed ${stats.chunksClosed}, stalled ${stats.chunksStalled}; ${stats.refusedConnects} refused connects retried; ${stats.responses} responses; ${stats.loneFrames} lone size-prefix frames; kinds ${JSON.stringify(Object.fromEntries(stats.kinds))}`,
      );
    }
    // Requests the broker could not handle (an exception inside a handler, answered by closing
    // the connection): each distinct message once. Hostile values must get error codes instead.
    const handlerFailures = [
      ...new Set(
        b()
          .stderr()
          .split("\n")
          .filter((l) => l.includes("request handler failed"))
          .map((l) => /error="([^"]*)"/.exec(l)?.[1] ?? l),
      ),
    ];
    try {
      expect(b().alive()).toBe(true);
      expect(b().crashLines()).toEqual([]);
      expect(handlerFailures).toEqual([]);
      // Most chunks must have been dealt with (answered or closed), not left hanging.
      expect(stats.chunksAnswered + stats.chunksClosed).toBeGreaterThan(stats.chunksStalled * 4);

      // Real clients still work. Admin requests from the fuzz (thousands of partitions created
      // or deleted) may still be in progress, so kcat -L is retried for a bounded time.
      const fuzzEnded = Date.now();
      const meta = await pollUntil("kcat -L to succeed after the fuzz", 60_000, async () => {
        const r = await run(["kcat", "-b", b().bootstrap, "-L", "-J", "-m", "5"], { timeoutMs: 15_000 });
        return r.code === 0 ? r : undefined;
      }, 500);
      console.log(`fuzz: first successful kcat -L ${Date.now() - fuzzEnded} ms after the fuzz ended`);
      const parsed = JSON.parse(text(meta.stdout)) as { brokers: { id: number; name: string }[] };
      expect(parsed.brokers).toEqual([{ id: 1, name: b().bootstrap }]);
      const topic = `after-fuzz-${seed}`;
      const lines = Array.from({ length: 100 }, (_, i) => `after-fuzz-${i}`);
      ok("kcat -P", await run(["kcat", "-b", b().bootstrap, "-P", "-t", topic, "-p", "0", "-X", "acks=all", "-X", "compression.codec=zstd"], { stdin: `${lines.join("\n")}\n`, timeoutMs: 30_000 }));
      const back = ok("kcat -C", await run(["kcat", "-b", b().bootstrap, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-f", "%o %s\n"], { timeoutMs: 30_000 }));
      expect(text(back.stdout)).toBe(lines.map((l, i) => `${i} ${l}`).join("\n") + "\n");
      expect(b().alive()).toBe(true);
      expect(await b().stop()).toBe(0);
      expect(b().crashLines()).toEqual([]);
    } catch (e) {
      console.error(`fuzz: FAILED with seed ${seed}; replay: BUNKA_FUZZ_SEED=${seed} bun test test/interop/fuzz.test.ts`);
      throw e;
    }
  }),
);
