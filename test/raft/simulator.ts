/**
 * A deterministic simulator of a KRaft quorum: N voters (and observers) each run the real
 * `RaftCore` over the real `PartitionLog` on their own `SimFileSystem`, on one `SimClock`,
 * exchanging the core's messages through a seeded network. Everything random comes from the
 * seed, so a seed replays exactly.
 *
 * Faults (fault phase): message drop, duplication, delay and reordering (random per-message
 * delays; a message to a node that crashes before it arrives is lost, as requests on the
 * connections of a dead process are); one-way cuts, node isolation and full partitions, healed after a while; node
 * crashes (power loss: SimFileSystem.crash() keeps only what was fsynced, plus torn tails)
 * and restarts; pauses (the process stops; messages wait for it); disk wipes of voters (a
 * new, empty metadata dir with a new directory id). Proposals arrive at whoever is leader.
 *
 * Voter keys: by default each voter is keyed with its directory id (KIP-853), so a wiped
 * voter comes back as an observer and at most a minority is ever wiped in a run. With
 * `staticVoters` every key has the zero directory id, as `openQuorum` keys a static
 * `controller.quorum.voters` list: a wiped voter comes back as the voter it was, unproven
 * (raft-core.ts, the unproven-voter rule), and wipes are more frequent (15% of the faults)
 * and unbounded in number, within the rule's stated bound: a voter is wiped only while the
 * exposed voters (unproven, or proven less than two election timeouts ago) are fewer than a
 * minority, so they stay a minority. `unprovenRule: false` turns the rule off, to show it
 * is needed (the wiped voters then never count as proven, so at most a minority is ever
 * wiped in such a run).
 *
 * After every step (one batch of deliveries and deadlines at one instant) the checker asserts:
 * - one leader per epoch (by replica: node id and directory id);
 * - per replica, the quorum-state file never goes back: the epoch never decreases, and within
 *   an epoch a vote or a known leader never changes; the log's last epoch <= the file's;
 * - no replica grants two votes in one epoch (seen on the wire);
 * - committed = below the highest high watermark a leader has reported. Below its own high
 *   watermark every node's log holds exactly the committed batches (offset, epoch, CRC,
 *   size), and so does a leader of epoch E up to what leaders of epochs <= E committed (log
 *   matching: a committed record is never lost or changed and sits at the same offset
 *   everywhere); a leader of epoch E holds everything leaders of epochs < E reported
 *   committed (leader completeness); no node reports a high watermark past what is
 *   committed; a node's high watermark never goes back;
 * - the core's own assertions hold (any exception fails the run).
 * - snapshots: every node runs a state machine over its committed records (a count, a
 *   digest chained over (offset, value), the last values), snapshots it every so many applied
 *   bytes (`shouldSnapshot`), and the log before the oldest kept snapshot is deleted, so
 *   nodes that lag, restart or lose their disk catch up through FetchSnapshot. A node's state
 *   — rebuilt from its latest snapshot plus its log at start, replaced on "snapshotLoaded",
 *   advanced by applying committed batches — equals the committed prefix at its applied
 *   offset, as recorded from the leaders' logs; a loaded snapshot's content does too; a node's
 *   log start and snapshots never pass its high watermark (what the log no longer holds is in
 *   a snapshot, so no committed record is lost).
 * Then faults stop (heal, restart, resume) and, within a bounded simulated time (15 s), a leader
 * must commit a new proposal and every live node must reach it.
 */
import { SimClock } from "../../src/platform/clock.ts";
import { writeFileAtomic } from "../../src/platform/fs.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { SimFileSystem } from "../../src/platform/sim/fs.ts";
import { uuidBytesToText, ZERO_UUID_TEXT } from "../../src/protocol/codec/uuid.ts";
import { buildRecordBatch } from "../../src/protocol/records/builder.ts";
import { RecordBatchView } from "../../src/protocol/records/record-batch.ts";
import { defaultRaftConfig, type RaftConfig, shouldSnapshot } from "../../src/raft/config.ts";
import type { EpochEndOffset, RaftMessage, ReplicaKey } from "../../src/raft/messages.ts";
import { decodeQuorumState, type QuorumStateData, quorumStatePath } from "../../src/raft/quorum-state.ts";
import { RaftCore, type RaftOutput } from "../../src/raft/raft-core.ts";
import { unprovenPath } from "../../src/raft/unproven.ts";
import { PartitionRaftLog, type RaftAppendResult, type RaftLog, raftLogConfig, type RaftReadResult, type RetentionPolicy } from "../../src/raft/raft-log.ts";
import type { SnapshotId } from "../../src/raft/snapshot.ts";
import type { Voter } from "../../src/raft/voter-set.ts";
import { FileCache } from "../../src/storage/file-cache.ts";
import { LogDirHealth } from "../../src/storage/partition-log.ts";
import type { StorageError } from "../../src/platform/fs.ts";

export interface SimOptions {
  seed: number;
  /** Steps of the fault phase; the recovery phase that follows has its own bound. */
  steps: number;
  voters: number;
  observers: number;
  /**
   * "kafka": Kafka's default timeouts (election 1000 ms, fetch 2000, backoff 1000, request
   * 2000); "fast": everything about 3x shorter, so more elections and retries per second.
   */
  timing?: "kafka" | "fast";
  /** False: no random faults at all (scenario tests inject their own with `isolate`). */
  randomFaults?: boolean;
  /** Simulated time after the faults stop within which a new proposal must commit everywhere (15 s). */
  livenessBoundMs?: number;
  config?: RaftConfig;
  /** Every voter (and every local key) with the zero directory id, as a static quorum (see the module doc). */
  staticVoters?: boolean;
  /** False: the cores run without the unproven-voter rule (break-it runs only). */
  unprovenRule?: boolean;
  /** Trace every event to this sink (replays). */
  trace?: (line: string) => void;
}

export interface SimStats {
  steps: number;
  simulatedMs: number;
  messages: number;
  crashes: number;
  wipes: number;
  /** Wiped voters that became proven again (static voters). */
  reproven: number;
  pauses: number;
  partitions: number;
  elections: number;
  maxEpoch: number;
  proposals: number;
  committedOffset: number;
  /** Simulated time from the end of the faults until every node had a new commit. */
  recoveryMs: number;
  /** Snapshots the state machines took, and snapshots nodes installed from the leader. */
  snapshots: number;
  installs: number;
}

export type SimResult = { ok: true; stats: SimStats } | { ok: false; failure: string; invariant: string; stats: SimStats; recent: string[] };

class InvariantViolation extends Error {
  constructor(
    readonly invariant: string,
    detail: string,
  ) {
    super(`${invariant}: ${detail}`);
  }
}

const metadataDir = "/data/__cluster_metadata-0";
const metaPath = "/data/meta.properties";
const clusterId = "sim-cluster-AAAAAAAAAAA";
const fastConfig: RaftConfig = {
  ...defaultRaftConfig,
  electionTimeoutMs: 300,
  fetchTimeoutMs: 600,
  electionBackoffMaxMs: 300,
  requestTimeoutMs: 400,
  fetchMaxWaitMs: 150,
  fetchBytesMax: 4096,
};
/** Simulated time between steps when nothing is due (bounds how long a step can jump). */
const idleStepMsMax = 200;
/** Events kept for the failure report. */
const recentEventsMax = 60;

/** A RaftLog that remembers how far back its end went since the checker last looked. */
class ObservedLog implements RaftLog {
  lowestEndSinceCheck: number;
  constructor(readonly inner: PartitionRaftLog) {
    this.lowestEndSinceCheck = inner.logEndOffset;
  }
  get logStartOffset(): number {
    return this.inner.logStartOffset;
  }
  get logEndOffset(): number {
    return this.inner.logEndOffset;
  }
  get flushedOffset(): number {
    return this.inner.flushedOffset;
  }
  lastFetchedEpoch(): number {
    return this.inner.lastFetchedEpoch();
  }
  endOffsetForEpoch(epoch: number): EpochEndOffset {
    return this.inner.endOffsetForEpoch(epoch);
  }
  appendAsLeader(batches: Uint8Array, epoch: number): RaftAppendResult {
    return this.inner.appendAsLeader(batches, epoch);
  }
  appendAsFollower(batches: Uint8Array): RaftAppendResult {
    return this.inner.appendAsFollower(batches);
  }
  truncateTo(offset: number): void {
    this.inner.truncateTo(offset);
    this.lowestEndSinceCheck = Math.min(this.lowestEndSinceCheck, this.inner.logEndOffset);
  }
  read(fromOffset: number, maxBytes: number): RaftReadResult {
    return this.inner.read(fromOffset, maxBytes);
  }
  flush(): void {
    this.inner.flush();
  }
  setHighWatermark(offset: number): void {
    this.inner.setHighWatermark(offset);
  }
  snapshots(): readonly SnapshotId[] {
    return this.inner.snapshots();
  }
  latestSnapshot(): SnapshotId | null {
    return this.inner.latestSnapshot();
  }
  snapshotSize(id: SnapshotId): number | null {
    return this.inner.snapshotSize(id);
  }
  readSnapshotChunk(id: SnapshotId, position: number, maxBytes: number): Uint8Array {
    return this.inner.readSnapshotChunk(id, position, maxBytes);
  }
  readSnapshotContent(id: SnapshotId): Uint8Array {
    return this.inner.readSnapshotContent(id);
  }
  readSnapshotVoters(id: SnapshotId): readonly Voter[] | null {
    return this.inner.readSnapshotVoters(id);
  }
  snapshotEpochAt(endOffset: number): { kind: "ok"; epoch: number } | { kind: "error"; detail: string } {
    return this.inner.snapshotEpochAt(endOffset);
  }
  createSnapshot(id: SnapshotId, content: Uint8Array, timestampMs: number): void {
    this.inner.createSnapshot(id, content, timestampMs);
  }
  maybeDeleteBeforeSnapshots(policy: RetentionPolicy): boolean {
    return this.inner.maybeDeleteBeforeSnapshots(policy);
  }
  get snapshotDownload(): { readonly id: SnapshotId; readonly size: number; readonly position: number } | null {
    return this.inner.snapshotDownload;
  }
  beginSnapshotDownload(id: SnapshotId, size: number): void {
    this.inner.beginSnapshotDownload(id, size);
  }
  appendSnapshotDownload(bytes: Uint8Array): void {
    this.inner.appendSnapshotDownload(bytes);
  }
  finishSnapshotDownload(): { kind: "ok"; id: SnapshotId; content: Uint8Array; voters: readonly Voter[] | null } | { kind: "corrupt"; detail: string } {
    const r = this.inner.finishSnapshotDownload();
    this.lowestEndSinceCheck = Math.min(this.lowestEndSinceCheck, this.inner.logEndOffset);
    return r;
  }
  abortSnapshotDownload(): void {
    this.inner.abortSnapshotDownload();
  }
}

interface BatchId {
  base: number;
  last: number;
  epoch: number;
  crc: number;
  size: number;
}

/** Reads the batch headers of `log` in [from, to): whole batches, in order. */
function batchIds(log: RaftLog, from: number, to: number): BatchId[] {
  const out: BatchId[] = [];
  let at = from;
  while (at < to) {
    const r = log.read(at, 64 * 1024);
    if (r.kind !== "ok" || r.records.length === 0) throw new InvariantViolation("log readable", `read at ${at}: ${r.kind === "ok" ? "nothing" : r.detail}`);
    let pos = 0;
    while (pos < r.records.length && at < to) {
      const b = RecordBatchView.at(r.records, pos);
      out.push({ base: b.baseOffset, last: b.lastOffset, epoch: b.partitionLeaderEpoch, crc: b.crc, size: b.sizeInBytes });
      at = b.lastOffset + 1;
      pos += b.sizeInBytes;
    }
  }
  return out;
}

interface Message {
  dueMs: number;
  seq: number;
  from: number;
  to: number;
  /** The life of `to` it was sent to: a message does not outlive the process it went to (a connection). */
  toLife: number;
  message: RaftMessage;
}

/** Min-heap of in-flight messages by (dueMs, seq). */
class MessageQueue {
  #heap: Message[] = [];
  get size(): number {
    return this.#heap.length;
  }
  peek(): Message | undefined {
    return this.#heap[0];
  }
  push(m: Message): void {
    const h = this.#heap;
    h.push(m);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!MessageQueue.#less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  pop(): Message | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && MessageQueue.#less(h[l]!, h[m]!)) m = l;
        if (r < h.length && MessageQueue.#less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
  clear(): void {
    this.#heap = [];
  }
  static #less(a: Message, b: Message): boolean {
    return a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.seq < b.seq);
  }
}

interface SimNode {
  readonly id: number;
  fs: SimFileSystem;
  /** The directory id in meta.properties (a new one after each wipe); the voter key's in KIP-853 mode. */
  directoryId: string;
  /** Static voters: wiped, and not proven since. */
  lostState: boolean;
  /** Static voters: when this node last became proven (-Infinity: never). */
  provenAtMs: number;
  /** Crashes so far: messages sent to an earlier life are dropped, as a dead process's connections are. */
  life: number;
  core: RaftCore | null;
  log: ObservedLog | null;
  downUntilMs: number;
  pausedUntilMs: number;
  held: Message[];
  /** Checker: committed offsets below this were verified against the history in this life. */
  checkedEnd: number;
  /** Checker: the quorum-state last seen for this replica. */
  lastState: QuorumStateData | null;
  lastHighWatermark: number;
  /** The node's state machine (see the module doc). */
  sm: AppliedState;
}

/** The simulated state machine: what a node applied of the committed records. */
interface AppliedState {
  /** Everything below this offset is applied. */
  end: number;
  count: number;
  digest: number;
  recent: string[];
  bytesSinceSnapshot: number;
  lastSnapshotMs: number;
}

const digestSeed = 0x811c9dc5;
/** Values a state machine keeps verbatim (makes snapshots span several FetchSnapshot chunks). */
const recentValuesMax = 200;

function mixDigest(digest: number, offset: number, value: string): number {
  let h = digest ^ offset;
  const text = `${offset}:${value}`;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function emptyState(nowMs: number): AppliedState {
  return { end: 0, count: 0, digest: digestSeed, recent: [], bytesSinceSnapshot: 0, lastSnapshotMs: nowMs };
}

/** The data records (offset, value) of whole batches in [from, to), batch by batch. */
function batchValues(log: RaftLog, from: number, to: number): { last: number; size: number; values: { offset: number; value: string }[] }[] {
  const out: { last: number; size: number; values: { offset: number; value: string }[] }[] = [];
  let at = from;
  const text = new TextDecoder();
  while (at < to) {
    const r = log.read(at, 64 * 1024);
    if (r.kind !== "ok" || r.records.length === 0) throw new InvariantViolation("log readable", `read at ${at}: ${r.kind === "ok" ? "nothing" : r.detail}`);
    let pos = 0;
    while (pos < r.records.length && at < to) {
      const b = RecordBatchView.at(r.records, pos);
      const values = b.isControl ? [] : b.records({ maxBytes: 1 << 20 }).map((rec) => ({ offset: rec.offset, value: text.decode(rec.value ?? new Uint8Array(0)) }));
      out.push({ last: b.lastOffset, size: b.sizeInBytes, values });
      at = b.lastOffset + 1;
      pos += b.sizeInBytes;
    }
  }
  return out;
}

interface LinkFault {
  from: number;
  to: number;
  untilMs: number;
  cut: boolean;
  dropP: number;
  dupP: number;
  delayMaxMs: number;
}

export class Simulation {
  readonly options: SimOptions;
  readonly clock = new SimClock();
  readonly prng: SeededPrng;
  readonly config: RaftConfig;
  readonly nodes: SimNode[] = [];
  readonly voters: ReplicaKey[] = [];
  readonly stats: SimStats = {
    steps: 0,
    simulatedMs: 0,
    messages: 0,
    crashes: 0,
    wipes: 0,
    reproven: 0,
    pauses: 0,
    partitions: 0,
    elections: 0,
    maxEpoch: 0,
    proposals: 0,
    committedOffset: 0,
    recoveryMs: 0,
    snapshots: 0,
    installs: 0,
  };
  readonly #queue = new MessageQueue();
  #seq = 0;
  #faults: LinkFault[] = [];
  #faultsOn: boolean;
  #nextFaultMs = 0;
  /** Crashes tied to protocol events (a vote just granted, a proposal just taken). */
  #scheduledCrashes: { atMs: number; node: number; downMs: number }[] = [];
  #nextProposalMs = 0;
  #wipesLeft: number;
  #proposalCount = 0;
  #proposalsOn = true;
  readonly #recent: string[] = [];
  // ---- checker state ----
  /** epoch → replica that led it. */
  readonly #leaders = new Map<number, string>();
  /** `replica@epoch` → candidate it voted for. */
  readonly #votes = new Map<string, number>();
  /** The committed batches, contiguous from offset 0. */
  readonly #history: BatchId[] = [];
  #committedEnd = 0;
  /** Committed batch end offset → the state machine's (count, digest) there. */
  readonly #digestAt = new Map<number, { count: number; digest: number }>([[0, { count: 0, digest: digestSeed }]]);
  /** Every committed data record's value, in offset order. */
  readonly #committedValues: string[] = [];
  /** epoch → highest high watermark its leader reported. */
  readonly #committedByEpoch = new Map<number, number>();

  constructor(options: SimOptions) {
    this.options = options;
    this.prng = new SeededPrng(options.seed);
    this.#faultsOn = options.randomFaults ?? true;
    const base = options.config ?? (options.timing === "fast" ? fastConfig : { ...defaultRaftConfig, fetchBytesMax: 4096 });
    // Snapshots often (every 0.8-2.8 KB applied), and in a fifth of the seeds a retention small
    // enough that only the newest snapshot is kept.
    this.config = options.config ?? {
      ...base,
      snapshotRecordBytesBetween: 800 + this.prng.int(2000),
      snapshotIntervalMs: this.prng.int(2) === 0 ? 0 : 5000,
      retentionBytes: options.seed % 5 === 0 ? 4096 : -1,
      retentionMs: -1,
    };
    const total = options.voters + options.observers;
    for (let id = 0; id < total; id++) {
      const node: SimNode = {
        id,
        fs: new SimFileSystem(new SeededPrng(this.prng.nextU32()), this.clock),
        directoryId: "",
        lostState: false,
        provenAtMs: Number.NEGATIVE_INFINITY,
        life: 0,
        core: null,
        log: null,
        downUntilMs: 0,
        pausedUntilMs: 0,
        held: [],
        checkedEnd: 0,
        lastState: null,
        lastHighWatermark: 0,
        sm: emptyState(0),
      };
      node.directoryId = this.#format(node);
      this.nodes.push(node);
      if (id < options.voters) this.voters.push({ id, directoryId: this.#keyDirectoryId(node) });
    }
    this.#wipesLeft = options.voters - (Math.floor(options.voters / 2) + 1);
    for (const n of this.nodes) this.#start(n);
    this.#nextFaultMs = this.#expMs(1500);
    this.#nextProposalMs = this.#expMs(150);
  }

  get now(): number {
    return this.clock.monotonicMs();
  }

  /** The directory id of a node's replica key: the zero id for static voters. */
  #keyDirectoryId(n: SimNode): string {
    return this.options.staticVoters === true ? ZERO_UUID_TEXT : n.directoryId;
  }

  /** A replica for the checker: node id and meta.properties directory id, so each wipe starts a new one. */
  #identity(n: SimNode): string {
    return `${n.id}:${n.directoryId}`;
  }

  #expMs(meanMs: number): number {
    return this.now + Math.max(1, Math.round(-Math.log(1 - this.prng.nextFloat()) * meanMs));
  }

  #trace(line: string): void {
    const text = `${String(this.now).padStart(7)} ${line}`;
    this.#recent.push(text);
    if (this.#recent.length > recentEventsMax) this.#recent.shift();
    this.options.trace?.(text);
  }

  /** Formats a node's disk: meta.properties with a new directory id (as `bunka format` would). */
  #format(node: SimNode): string {
    const bytes = new Uint8Array(16);
    this.prng.fill(bytes);
    const directoryId = uuidBytesToText(bytes, 0);
    node.fs.mkdirp("/data");
    writeFileAtomic(node.fs, metaPath, new TextEncoder().encode(`version=1\nnode.id=${node.id}\ndirectory.id=${directoryId}\n`));
    return directoryId;
  }

  #start(node: SimNode): void {
    const meta = new TextDecoder().decode(node.fs.readFile(metaPath));
    const directoryId = /directory\.id=(\S+)/.exec(meta)?.[1];
    if (directoryId === undefined) throw new Error(`node ${node.id}: meta.properties without directory.id`);
    node.directoryId = directoryId;
    const config = raftLogConfig({ segmentBytes: 2048, segmentIndexBytes: 4096, indexIntervalBytes: 512 });
    const inner = PartitionRaftLog.open({
      fs: node.fs,
      clock: this.clock,
      dir: metadataDir,
      config,
      files: new FileCache(node.fs, 16),
      health: new LogDirHealth("/data", 1000),
    });
    node.log = new ObservedLog(inner);
    node.core = RaftCore.open({
      clusterId,
      local: { id: node.id, directoryId: this.#keyDirectoryId(node) },
      voters: this.voters,
      config: this.config,
      fs: node.fs,
      metadataDir,
      log: node.log,
      prng: new SeededPrng(this.prng.nextU32()),
      clock: this.clock,
      nowMs: this.now,
      ...(this.options.unprovenRule === false ? { testOnlyDisableUnprovenRule: true } : {}),
    });
    node.checkedEnd = 0;
    node.lastHighWatermark = 0;
    // The state machine starts from the latest snapshot and applies the log after it.
    node.sm = emptyState(this.now);
    const latest = node.core.latestSnapshot();
    if (latest !== null) this.#loadSnapshot(node, latest, node.core.readSnapshot(latest));
    this.#trace(
      `n${node.id} start (${node.core.role.kind} epoch ${node.core.epoch}, log ${node.log.logStartOffset}..${node.log.logEndOffset}, snapshot ${latest === null ? "none" : `${latest.endOffset}-${latest.epoch}`}${node.core.unproven ? ", unproven" : ""})`,
    );
    this.#route(node);
  }

  #up(n: SimNode): boolean {
    return n.core !== null;
  }

  #running(n: SimNode): boolean {
    return n.core !== null && this.now >= n.pausedUntilMs;
  }

  // ---- network ----------------------------------------------------------------------------

  #linkFault(from: number, to: number): LinkFault | null {
    let worst: LinkFault | null = null;
    for (const f of this.#faults) {
      if (f.untilMs <= this.now || f.from !== from || f.to !== to) continue;
      if (f.cut) return f;
      worst = f;
    }
    return worst;
  }

  #send(from: number, to: number, message: RaftMessage): void {
    this.stats.messages++;
    const fault = this.#linkFault(from, to);
    if (fault?.cut === true) return;
    const dropP = this.#faultsOn ? 0.01 + (fault?.dropP ?? 0) : 0;
    const dupP = this.#faultsOn ? 0.01 + (fault?.dupP ?? 0) : 0;
    const delayMax = 5 + (fault?.delayMaxMs ?? 0);
    if (this.prng.nextFloat() < dropP) return;
    const copies = this.prng.nextFloat() < dupP ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.#queue.push({ dueMs: this.now + 1 + this.prng.int(delayMax), seq: this.#seq++, from, to, toLife: this.nodes[to]!.life, message });
    }
  }

  /** Takes a node's outputs: sends messages and feeds the checker. */
  #route(node: SimNode): void {
    const core = node.core;
    if (core === null) return;
    for (const out of core.takeOutputs()) this.#onOutput(node, out);
  }

  #onOutput(node: SimNode, out: RaftOutput): void {
    switch (out.kind) {
      case "send": {
        const m = out.message;
        if (m.type === "VoteResponse" && m.voteGranted && !m.preVote && m.errorCode === 0) {
          const key = `${this.#identity(node)}@${m.leaderEpoch}`;
          const before = this.#votes.get(key);
          if (before !== undefined && before !== out.to) {
            throw new InvariantViolation("one vote per epoch", `replica ${this.#identity(node)} voted for ${before} and for ${out.to} in epoch ${m.leaderEpoch}`);
          }
          this.#votes.set(key, out.to);
          // The moment a forgotten vote would matter: crash soon after granting it.
          if (this.#faultsOn && this.prng.nextFloat() < 0.3) {
            this.#scheduledCrashes.push({ atMs: this.now + this.prng.int(20), node: node.id, downMs: 1 + this.prng.int(300) });
          }
        }
        this.#send(node.id, out.to, m);
        return;
      }
      case "roleChanged":
        this.#trace(`n${node.id} → ${out.role} epoch ${out.epoch} leader ${out.leaderId}`);
        if (out.role === "leader") {
          this.stats.elections++;
          const holder = this.#leaders.get(out.epoch);
          if (holder !== undefined && holder !== this.#identity(node)) {
            throw new InvariantViolation("one leader per epoch", `epoch ${out.epoch}: ${holder} and ${this.#identity(node)}`);
          }
          this.#leaders.set(out.epoch, this.#identity(node));
        }
        this.stats.maxEpoch = Math.max(this.stats.maxEpoch, out.epoch);
        return;
      case "committed":
        if (out.byLeader) this.#recordCommit(node, out.highWatermark, out.epoch);
        this.#apply(node, out.highWatermark);
        return;
      case "snapshotLoaded":
        this.stats.installs++;
        this.#trace(`n${node.id} installed snapshot ${out.snapshotId.endOffset}-${out.snapshotId.epoch}`);
        this.#loadSnapshot(node, out.snapshotId, out.content);
        return;
      case "provenChanged":
        this.#trace(`n${node.id} ${out.proven ? "proven" : "unproven"}: ${out.reason}`);
        if (out.proven) node.provenAtMs = this.now;
        if (out.proven && node.lostState) {
          node.lostState = false;
          this.stats.reproven++;
        }
        return;
    }
  }

  // ---- the simulated state machine ----------------------------------------------------------

  /** Replaces node's state by a snapshot's content, checking it against the committed prefix. */
  #loadSnapshot(node: SimNode, id: SnapshotId, content: Uint8Array): void {
    const [record] = RecordBatchView.at(content, 0).records({ maxBytes: 1 << 22 });
    const saved = JSON.parse(new TextDecoder().decode(record!.value!)) as { end: number; count: number; digest: number; recent: string[] };
    const want = this.#digestAt.get(saved.end);
    const wantRecent = this.#committedValues.slice(Math.max(0, saved.count - saved.recent.length), saved.count);
    if (saved.end !== id.endOffset || want === undefined || want.digest !== saved.digest || want.count !== saved.count || JSON.stringify(wantRecent) !== JSON.stringify(saved.recent)) {
      throw new InvariantViolation(
        "a snapshot holds the committed prefix",
        `n${node.id}: snapshot ${id.endOffset}-${id.epoch} holds end ${saved.end}, count ${saved.count}, digest ${saved.digest}; committed there: ${JSON.stringify(want)}`,
      );
    }
    node.sm = { end: saved.end, count: saved.count, digest: saved.digest, recent: saved.recent, bytesSinceSnapshot: 0, lastSnapshotMs: this.now };
  }

  /** Applies node's committed batches up to `hw`, then snapshots when `shouldSnapshot` says so. */
  #apply(node: SimNode, hw: number): void {
    const sm = node.sm;
    const core = node.core!;
    if (sm.end >= hw) return;
    for (const b of batchValues(node.log!, sm.end, hw)) {
      for (const v of b.values) {
        sm.digest = mixDigest(sm.digest, v.offset, v.value);
        sm.count++;
        sm.recent.push(v.value);
      }
      if (sm.recent.length > recentValuesMax) sm.recent.splice(0, sm.recent.length - recentValuesMax);
      sm.end = b.last + 1;
      sm.bytesSinceSnapshot += b.size;
    }
    if (!shouldSnapshot(this.config, sm.bytesSinceSnapshot, this.now - sm.lastSnapshotMs)) return;
    const value = new TextEncoder().encode(JSON.stringify({ end: sm.end, count: sm.count, digest: sm.digest, recent: sm.recent }));
    const r = core.createSnapshot(sm.end, buildRecordBatch([{ key: null, value, timestamp: this.clock.nowMs() }]));
    if (r.kind !== "ok") return;
    this.stats.snapshots++;
    sm.bytesSinceSnapshot = 0;
    sm.lastSnapshotMs = this.now;
    this.#trace(`n${node.id} snapshot ${r.snapshotId.endOffset}-${r.snapshotId.epoch}, log start ${r.logStartOffset}`);
  }

  /** A leader reported `hw`: everything below is committed; extend the history from its log. */
  #recordCommit(node: SimNode, hw: number, epoch: number): void {
    this.#committedByEpoch.set(epoch, Math.max(this.#committedByEpoch.get(epoch) ?? 0, hw));
    if (hw <= this.#committedEnd) return;
    const log = node.log!;
    const values = batchValues(log, this.#committedEnd, hw);
    for (const [i, b] of batchIds(log, this.#committedEnd, hw).entries()) {
      if (b.base !== this.#committedEnd) throw new InvariantViolation("log matching", `leader n${node.id}: committed batch at ${b.base}, history ends at ${this.#committedEnd}`);
      if (b.last >= hw) throw new InvariantViolation("high watermark on a batch boundary", `leader n${node.id}: HW ${hw} inside batch ${b.base}..${b.last}`);
      this.#history.push(b);
      this.#committedEnd = b.last + 1;
      let { count, digest } = this.#digestAt.get(b.base)!;
      for (const v of values[i]!.values) {
        digest = mixDigest(digest, v.offset, v.value);
        count++;
        this.#committedValues.push(v.value);
      }
      this.#digestAt.set(this.#committedEnd, { count, digest });
    }
    this.#trace(`n${node.id} committed to ${hw} (epoch ${epoch})`);
    this.stats.committedOffset = this.#committedEnd;
  }

  // ---- faults -----------------------------------------------------------------------------

  #crash(node: SimNode, downMs: number, wipe: boolean): void {
    node.log?.inner.partitionLog.closeUnclean();
    node.core = null;
    node.log = null;
    node.held = [];
    node.pausedUntilMs = 0;
    node.life++;
    node.fs.crash();
    this.stats.crashes++;
    if (wipe) {
      this.stats.wipes++;
      node.fs = new SimFileSystem(new SeededPrng(this.prng.nextU32()), this.clock);
      node.directoryId = this.#format(node);
      node.lastState = null;
      node.lostState = this.options.staticVoters === true;
    }
    node.downUntilMs = this.now + downMs;
    this.#trace(`n${node.id} ${wipe ? "disk wiped" : "crash"}, down ${downMs} ms`);
  }

  #injectFault(): void {
    const p = this.prng;
    const nodes = this.nodes;
    const pick = (): SimNode => nodes[p.int(nodes.length)]!;
    // Static voters: wipes are 15% of the faults, within the unproven-voter rule's bound
    // (raft-core.ts, #onVoteRequest): the exposed voters stay a minority.
    if (this.options.staticVoters === true && p.nextFloat() < 0.15) {
      const n = nodes[p.int(this.options.voters)]!;
      const exposed = nodes.filter((m) => this.#exposed(m)).length;
      const minority = this.options.voters - (Math.floor(this.options.voters / 2) + 1);
      if (this.#up(n) && !this.#exposed(n) && exposed < minority) this.#crash(n, 100 + p.int(3000), true);
      return;
    }
    const kind = p.int(100);
    if (kind < 22) {
      const n = pick();
      if (this.#up(n)) this.#crash(n, 100 + p.int(3000), false);
    } else if (kind < 26) {
      const n = nodes[p.int(this.options.voters)]!;
      if (this.#up(n) && this.#wipesLeft > 0 && this.#isIntactVoter(n)) {
        this.#wipesLeft--;
        this.#crash(n, 100 + p.int(3000), true);
      }
    } else if (kind < 40) {
      const n = pick();
      if (this.#running(n)) {
        n.pausedUntilMs = this.now + 100 + p.int(4000);
        this.stats.pauses++;
        this.#trace(`n${n.id} paused until ${n.pausedUntilMs}`);
      }
    } else if (kind < 58) {
      // Full partition: a random side against the rest.
      const side = new Set(nodes.filter(() => p.int(2) === 0).map((n) => n.id));
      const until = this.now + 300 + p.int(6000);
      for (const a of nodes) for (const b of nodes) if (side.has(a.id) !== side.has(b.id)) this.#faults.push({ from: a.id, to: b.id, untilMs: until, cut: true, dropP: 0, dupP: 0, delayMaxMs: 0 });
      this.stats.partitions++;
      this.#trace(`partition {${[...side].join(",")}} until ${until}`);
    } else if (kind < 68) {
      const a = pick();
      const until = this.now + 300 + p.int(6000);
      for (const b of nodes) {
        if (b === a) continue;
        this.#faults.push({ from: a.id, to: b.id, untilMs: until, cut: true, dropP: 0, dupP: 0, delayMaxMs: 0 });
        this.#faults.push({ from: b.id, to: a.id, untilMs: until, cut: true, dropP: 0, dupP: 0, delayMaxMs: 0 });
      }
      this.stats.partitions++;
      this.#trace(`n${a.id} isolated until ${until}`);
    } else if (kind < 80) {
      const a = pick();
      const b = pick();
      if (a !== b) {
        const until = this.now + 300 + p.int(6000);
        this.#faults.push({ from: a.id, to: b.id, untilMs: until, cut: true, dropP: 0, dupP: 0, delayMaxMs: 0 });
        this.#trace(`one-way cut n${a.id} → n${b.id} until ${until}`);
      }
    } else if (kind < 94) {
      const a = pick();
      const b = pick();
      const until = this.now + 300 + p.int(8000);
      this.#faults.push({ from: a.id, to: b.id, untilMs: until, cut: false, dropP: p.nextFloat() * 0.5, dupP: p.nextFloat() * 0.3, delayMaxMs: p.int(300) });
      this.#trace(`link n${a.id} → n${b.id} degraded until ${until}`);
    } else {
      this.#faults = [];
      this.#trace("network healed");
    }
  }

  /**
   * A static voter the rule's bound counts: unproven (wiped, or fresh and not caught up yet;
   * its marker is on disk), or proven less than two election timeouts ago (a candidate's
   * round lasts at most that long, so a vote it gave while empty may still be counted).
   */
  #exposed(m: SimNode): boolean {
    if (m.id >= this.options.voters) return false;
    return m.lostState || m.fs.exists(unprovenPath(metadataDir)) || this.now - m.provenAtMs < 2 * this.config.electionTimeoutMs;
  }

  #isIntactVoter(n: SimNode): boolean {
    return this.voters.some((v) => v.id === n.id && v.directoryId === n.directoryId);
  }

  #propose(): void {
    const leaders = this.nodes.filter((n) => this.#running(n) && n.core!.role.kind === "leader");
    const n = leaders[this.prng.int(Math.max(1, leaders.length))];
    if (n === undefined) return;
    const count = 1 + this.prng.int(3);
    const records = Array.from({ length: count }, (_, i) => ({
      key: null,
      value: new TextEncoder().encode(`s${this.options.seed}-p${this.#proposalCount}-r${i}`),
      timestamp: this.clock.nowMs(),
    }));
    this.#proposalCount++;
    const r = n.core!.propose(buildRecordBatch(records));
    if (r.kind === "ok") this.stats.proposals++;
    // Crash before the next tick flushes it, now and then.
    if (r.kind === "ok" && this.#faultsOn && this.prng.nextFloat() < 0.05) this.#scheduledCrashes.push({ atMs: this.now, node: n.id, downMs: 1 + this.prng.int(1000) });
    this.#trace(`n${n.id} propose ${count} → ${r.kind === "ok" ? `${r.firstOffset}..${r.lastOffset} epoch ${r.epoch}` : r.kind}`);
    this.#route(n);
  }

  // ---- stepping ---------------------------------------------------------------------------

  #nextEventMs(): number {
    let t = this.now + idleStepMsMax;
    const head = this.#queue.peek();
    if (head !== undefined) t = Math.min(t, head.dueMs);
    for (const n of this.nodes) {
      if (n.core === null) t = Math.min(t, n.downUntilMs);
      else if (this.now < n.pausedUntilMs) t = Math.min(t, n.pausedUntilMs);
      else t = Math.min(t, n.core.nextDeadlineMs());
    }
    for (const c of this.#scheduledCrashes) t = Math.min(t, c.atMs);
    if (this.#faultsOn) t = Math.min(t, this.#nextFaultMs, this.#nextProposalMs);
    else t = Math.min(t, this.#nextProposalMs);
    return Math.max(t, this.now);
  }

  /** One step: move time to the next event, deliver what is due, fire deadlines, check. */
  step(): void {
    this.stats.steps++;
    const t = this.#nextEventMs();
    this.clock.advance(t - this.now);
    for (const n of this.nodes) {
      if (n.core === null && t >= n.downUntilMs) this.#start(n);
    }
    // Faults first: a crash here can catch a leader with proposals it has not flushed yet.
    const due = this.#scheduledCrashes.filter((c) => c.atMs <= t);
    this.#scheduledCrashes = this.#scheduledCrashes.filter((c) => c.atMs > t);
    for (const c of due) {
      const n = this.nodes[c.node]!;
      if (this.#faultsOn && this.#up(n)) this.#crash(n, c.downMs, false);
    }
    if (this.#faultsOn && t >= this.#nextFaultMs) {
      this.#injectFault();
      this.#nextFaultMs = this.#expMs(1500);
    }
    for (let head = this.#queue.peek(); head !== undefined && head.dueMs <= t; head = this.#queue.peek()) {
      this.#queue.pop();
      this.#deliver(head);
    }
    for (const n of this.nodes) {
      if (n.core === null) continue;
      if (t < n.pausedUntilMs) continue;
      if (n.held.length > 0) {
        const held = n.held;
        n.held = [];
        for (const m of held) this.#deliver(m);
        if (n.core === null) continue;
      }
      if (n.core.nextDeadlineMs() <= t) {
        n.core.tick(t);
        this.#route(n);
      }
    }
    if (t >= this.#nextProposalMs) {
      if (this.#proposalsOn) this.#propose();
      this.#nextProposalMs = this.#expMs(this.#faultsOn ? 150 : 400);
    }
    this.#check();
  }

  #deliver(m: Message): void {
    const node = this.nodes[m.to]!;
    if (node.core === null || node.life !== m.toLife) return;
    if (this.#linkFault(m.from, m.to)?.cut === true) return;
    if (this.now < node.pausedUntilMs) {
      node.held.push(m);
      return;
    }
    node.core.tick(this.now);
    node.core.receive(m.from, m.message);
    this.#route(node);
  }

  /** Stops all faults: heals the network, restarts crashed nodes, resumes paused ones. */
  heal(): void {
    this.#faultsOn = false;
    this.#faults = [];
    this.#scheduledCrashes = [];
    for (const n of this.nodes) {
      n.downUntilMs = Math.min(n.downUntilMs, this.now);
      n.pausedUntilMs = Math.min(n.pausedUntilMs, this.now);
    }
    this.#trace("faults stop");
  }

  // ---- scripted faults and views, for scenario tests ---------------------------------------

  /** Cuts node `id` off from every other node, both ways, for `ms`. */
  isolate(id: number, ms: number): void {
    for (const b of this.nodes) {
      if (b.id === id) continue;
      this.#faults.push({ from: id, to: b.id, untilMs: this.now + ms, cut: true, dropP: 0, dupP: 0, delayMaxMs: 0 });
      this.#faults.push({ from: b.id, to: id, untilMs: this.now + ms, cut: true, dropP: 0, dupP: 0, delayMaxMs: 0 });
    }
    this.#trace(`n${id} isolated for ${ms} ms`);
  }

  /** Crashes node `id` (power loss) for `ms`; `wipe` also removes its whole disk, as an operator's `rm -rf`. */
  crash(id: number, ms: number, wipe: boolean): void {
    const n = this.nodes[id]!;
    if (n.core === null) throw new Error(`n${id} is down already`);
    this.#crash(n, ms, wipe);
  }

  /** Whether node `id` has its `quorum-unproven` marker on disk (up or down). */
  hasUnprovenMarker(id: number): boolean {
    return this.nodes[id]!.fs.exists(unprovenPath(metadataDir));
  }

  /** Stops or restarts the random proposals. */
  setProposals(on: boolean): void {
    this.#proposalsOn = on;
  }

  /** Cuts the link between nodes `a` and `b`, both ways, for `ms` (a partial partition). */
  cutBetween(a: number, b: number, ms: number): void {
    this.#faults.push({ from: a, to: b, untilMs: this.now + ms, cut: true, dropP: 0, dupP: 0, delayMaxMs: 0 });
    this.#faults.push({ from: b, to: a, untilMs: this.now + ms, cut: true, dropP: 0, dupP: 0, delayMaxMs: 0 });
    this.#trace(`n${a} and n${b} cut apart for ${ms} ms`);
  }

  /** Steps until `ms` of simulated time have passed, checking the invariants at every step. */
  runFor(ms: number): void {
    const end = this.now + ms;
    while (this.now < end) this.step();
  }

  /** The nodes that think they lead, with their epochs. */
  leaders(): { id: number; epoch: number }[] {
    return this.nodes.flatMap((n) => (n.core !== null && n.core.role.kind === "leader" ? [{ id: n.id, epoch: n.core.epoch }] : []));
  }

  roleOf(id: number): { kind: string; epoch: number; leaderId: number; highWatermark: number } | null {
    const core = this.nodes[id]?.core ?? null;
    return core === null ? null : { kind: core.role.kind, epoch: core.epoch, leaderId: core.leaderId, highWatermark: core.highWatermark };
  }

  get committedOffset(): number {
    return this.#committedEnd;
  }

  // ---- invariants -------------------------------------------------------------------------

  #maxCommittedBelow(epoch: number): number {
    let max = 0;
    for (const [e, hw] of this.#committedByEpoch) if (e < epoch && hw > max) max = hw;
    return max;
  }

  #check(): void {
    for (const n of this.nodes) {
      const core = n.core;
      const log = n.log;
      if (core === null || log === null) continue;
      const who = `n${n.id} (${this.#identity(n)})`;
      // The quorum-state file: what a crash would leave.
      const path = quorumStatePath(metadataDir);
      const state = n.fs.exists(path) ? decodeQuorumState(path, n.fs.readFile(path)) : null;
      if (state !== null) {
        const prev = n.lastState;
        if (prev !== null) {
          if (state.leaderEpoch < prev.leaderEpoch) throw new InvariantViolation("quorum-state never goes back", `${who}: epoch ${prev.leaderEpoch} → ${state.leaderEpoch}`);
          if (state.leaderEpoch === prev.leaderEpoch) {
            if (prev.votedId !== -1 && (state.votedId !== prev.votedId || state.votedDirectoryId !== prev.votedDirectoryId)) {
              throw new InvariantViolation("quorum-state never goes back", `${who}: vote in epoch ${state.leaderEpoch} changed from ${prev.votedId} to ${state.votedId}`);
            }
            if (prev.leaderId !== -1 && state.leaderId !== prev.leaderId && core.isVoter) {
              throw new InvariantViolation("quorum-state never goes back", `${who}: leader of epoch ${state.leaderEpoch} changed from ${prev.leaderId} to ${state.leaderId}`);
            }
          }
        }
        n.lastState = state;
        if (log.lastFetchedEpoch() > state.leaderEpoch) {
          throw new InvariantViolation("durable before acted", `${who}: log holds epoch ${log.lastFetchedEpoch()}, quorum-state says ${state.leaderEpoch}`);
        }
      } else if (log.logEndOffset > 0) {
        throw new InvariantViolation("durable before acted", `${who}: records in the log but no quorum-state`);
      }
      // High watermarks.
      const hw = core.highWatermark;
      if (hw < n.lastHighWatermark) throw new InvariantViolation("high watermark never goes back", `${who}: ${n.lastHighWatermark} → ${hw}`);
      n.lastHighWatermark = hw;
      if (hw > this.#committedEnd) throw new InvariantViolation("high watermark only covers committed records", `${who}: HW ${hw}, committed ${this.#committedEnd}`);
      // Log matching on the committed prefix a node vouches for: below its high watermark,
      // and for a leader of epoch E everything leaders of epochs <= E committed (past its high
      // watermark a follower may still hold a stale tail it has yet to truncate).
      if (log.lowestEndSinceCheck < n.checkedEnd) n.checkedEnd = log.lowestEndSinceCheck;
      log.lowestEndSinceCheck = log.logEndOffset;
      // Below the log start the committed records are in a snapshot (checked through the state).
      n.checkedEnd = Math.max(n.checkedEnd, log.logStartOffset);
      const latest = log.latestSnapshot();
      if (log.logStartOffset > hw || (latest !== null && latest.endOffset > hw)) {
        throw new InvariantViolation("committed records never lost (snapshots)", `${who}: log start ${log.logStartOffset}, latest snapshot ${JSON.stringify(latest)}, past HW ${hw}`);
      }
      // The state machine: rebuilt from snapshot + log, it equals the committed prefix where it stands.
      const sm = n.sm;
      const want = this.#digestAt.get(sm.end);
      if (sm.end > hw || want === undefined || want.count !== sm.count || want.digest !== sm.digest) {
        throw new InvariantViolation(
          "state from snapshot + log equals the committed prefix",
          `${who}: applied to ${sm.end} (HW ${hw}): count ${sm.count}, digest ${sm.digest}; committed there: ${JSON.stringify(want)}`,
        );
      }
      const vouched = core.role.kind === "leader" ? Math.max(hw, this.#maxCommittedBelow(core.epoch + 1)) : hw;
      const upTo = Math.min(log.logEndOffset, vouched);
      if (n.checkedEnd < upTo) {
        let i = this.#historyIndex(n.checkedEnd);
        for (const b of batchIds(log, n.checkedEnd, upTo)) {
          const want = this.#history[i++];
          if (want === undefined || b.base !== want.base || b.last !== want.last || b.epoch !== want.epoch || b.crc !== want.crc || b.size !== want.size) {
            throw new InvariantViolation(
              "committed records never lost or changed (log matching)",
              `${who}: batch ${JSON.stringify(b)} where the committed batch is ${JSON.stringify(want)}`,
            );
          }
        }
        n.checkedEnd = upTo;
      }
      // Leader completeness.
      if (core.role.kind === "leader") {
        const holder = this.#leaders.get(core.epoch);
        if (holder !== this.#identity(n)) throw new InvariantViolation("one leader per epoch", `epoch ${core.epoch}: ${holder} and ${this.#identity(n)}`);
        const need = this.#maxCommittedBelow(core.epoch);
        if (log.logEndOffset < need) {
          throw new InvariantViolation("leader completeness", `${who} leads epoch ${core.epoch} with log end ${log.logEndOffset}, but ${need} was committed before`);
        }
      }
    }
  }

  #historyIndex(offset: number): number {
    let lo = 0;
    let hi = this.#history.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#history[mid]!.last < offset) lo = mid + 1;
      else hi = mid;
    }
    if (lo < this.#history.length && this.#history[lo]!.base !== offset) {
      throw new InvariantViolation("committed records never lost or changed (log matching)", `offset ${offset} is inside committed batch ${this.#history[lo]!.base}`);
    }
    return lo;
  }

  // ---- the run ----------------------------------------------------------------------------

  /** Once the faults stop: a leader commits a new proposal and every live node reaches it. */
  #recovered(marker: { offset: number; epoch: number } | null): boolean {
    if (marker === null || this.#committedEnd <= marker.offset) return false;
    const i = this.#historyIndex(this.#history.findLast((b) => b.base <= marker.offset)?.base ?? 0);
    if (this.#history[i]?.epoch !== marker.epoch) return false;
    return this.nodes.every((n) => n.core !== null && n.core.highWatermark > marker.offset);
  }

  run(): SimResult {
    const bound = this.options.livenessBoundMs ?? 15_000;
    try {
      for (let i = 0; i < this.options.steps; i++) this.step();
      this.heal();
      const healedMs = this.now;
      let marker: { offset: number; node: number; epoch: number } | null = null;
      while (!this.#recovered(marker)) {
        if (this.now - healedMs > bound) {
          const roles = this.nodes.map((n) => `n${n.id}=${n.core === null ? "down" : `${n.core.role.kind}@${n.core.epoch} hw ${n.core.highWatermark} end ${n.log!.logEndOffset}`}`).join(" ");
          throw new InvariantViolation("liveness", `no new commit reached every node within ${bound} ms after the faults stopped (marker ${JSON.stringify(marker)}; ${roles})`);
        }
        // A marker proposal at the current leader; again at a new leader if it changed.
        const leader = this.nodes.find((n) => n.core !== null && n.core.role.kind === "leader");
        if (leader !== undefined && (marker === null || marker.node !== leader.id || marker.epoch !== leader.core!.epoch)) {
          const batch = buildRecordBatch([{ key: null, value: new TextEncoder().encode("marker"), timestamp: this.clock.nowMs() }]);
          const r = leader.core!.propose(batch);
          if (r.kind === "ok") marker = { offset: r.lastOffset, node: leader.id, epoch: r.epoch };
          this.#route(leader);
        }
        this.step();
      }
      this.stats.recoveryMs = this.now - healedMs;
    } catch (e) {
      this.stats.simulatedMs = this.now;
      const invariant = e instanceof InvariantViolation ? e.invariant : e instanceof Error ? `exception (${e.name})` : "exception";
      const message = e instanceof Error ? e.message : String(e);
      return { ok: false, failure: `step ${this.stats.steps} at ${this.now} ms: ${message}`, invariant, stats: this.stats, recent: [...this.#recent] };
    }
    this.stats.simulatedMs = this.now;
    return { ok: true, stats: this.stats };
  }
}

export function replayCommand(o: Pick<SimOptions, "seed" | "steps" | "voters" | "observers" | "timing" | "staticVoters" | "unprovenRule">): string {
  const flags = `${o.staticVoters === true ? " --static" : ""}${o.unprovenRule === false ? " --no-unproven-rule" : ""}`;
  return `bun test/raft/sim-main.ts --seed ${o.seed} --steps ${o.steps} --voters ${o.voters} --observers ${o.observers} --timing ${o.timing ?? "kafka"}${flags} --trace`;
}

/**
 * The shape of seed `seed` in the CI mix: 3 or 5 voters, an observer every third seed, fast
 * timing in half, static voters (zero directory ids, frequent wipes) in two seeds of five.
 */
export function mixedShape(seed: number): Pick<SimOptions, "voters" | "observers" | "timing" | "staticVoters"> {
  return { voters: seed % 2 === 0 ? 3 : 5, observers: seed % 3 === 0 ? 1 : 0, timing: seed % 4 >= 2 ? "fast" : "kafka", staticVoters: seed % 5 < 2 };
}

export function runSimulation(options: SimOptions): SimResult {
  return new Simulation(options).run();
}
