/**
 * Truncation by leader epoch (OffsetForLeaderEpoch, as followers on a Fetch below v12 use
 * it): the data-loss and divergence sequences of KIP-101 and the fast-failover divergence of
 * KIP-279, replayed on real logs. Each replica is a PartitionLog; "the leader answers" is its
 * endOffsetForLeaderEpoch for the epoch the follower asks, exactly what the
 * OffsetForLeaderEpoch handler returns; the follower applies `truncationByEpoch` until it is
 * complete, then copies the leader's batches from its log end. Afterwards both logs must be
 * byte-identical, and a record the rule must keep (committed) is still there.
 */
import { expect, test } from "bun:test";
import { truncationByEpoch } from "../../src/replication/replica-fetcher.ts";
import type { PartitionLog } from "../../src/storage/partition-log.ts";
import { simpleBatch } from "../storage/batch-builder.ts";
import { openLog, simEnv } from "../storage/helpers.ts";

function replica(seed: number): PartitionLog {
  const env = simEnv(seed);
  return openLog({ ...env, dir: `/data/r${seed}/topic-0` });
}

/** Appends one single-record batch per epoch given (the record's bytes tell its writer). */
function write(log: PartitionLog, epochs: number[], tag: number): void {
  for (const e of epochs) expect(log.append(simpleBatch(1, 16, tag * 1000 + log.logEndOffset), e).kind).toBe("ok");
}

function bytesOf(log: PartitionLog): Buffer {
  const parts: Uint8Array[] = [];
  for (let at = log.logStartOffset; at < log.logEndOffset; ) {
    const r = log.read(at, 1 << 20);
    if (r.kind !== "ok" || r.records.length === 0) throw new Error(`read at ${at}: ${r.kind}`);
    parts.push(r.records.slice());
    at = r.lastOffset + 1;
  }
  return Buffer.concat(parts);
}

/** The follower's truncation phase against `leader`, then its catch-up; returns the rounds and where it cut. */
function reconcile(follower: PartitionLog, leader: PartitionLog): { rounds: number; cuts: number[] } {
  const cuts: number[] = [];
  let rounds = 0;
  for (;;) {
    rounds++;
    if (rounds > 10) throw new Error("truncation did not converge");
    const asked = follower.leaderEpochCache.latestEpoch();
    const answer = leader.endOffsetForLeaderEpoch(asked);
    const cut = truncationByEpoch(follower, answer);
    cuts.push(cut.offset);
    follower.truncateTo(cut.offset);
    follower.leaderEpochCache.truncateFromEnd(cut.offset);
    if (cut.complete) break;
    expect(follower.leaderEpochCache.latestEpoch()).toBeLessThan(asked);
  }
  while (follower.logEndOffset < leader.logEndOffset) {
    const r = leader.read(follower.logEndOffset, 1 << 20);
    if (r.kind !== "ok") throw new Error(r.kind);
    expect(follower.appendAsFollower(r.records).kind).toBe("ok");
  }
  return { rounds, cuts };
}

test("KIP-101, data loss: a follower restarted with a high watermark one fetch behind keeps the committed record the HW rule would drop", () => {
  // Epoch 0: A leads; B copied m0 and m1, A counted both committed (HW 2) and B learns HW 1
  // from the answer to its fetch. B restarts with HW 1.
  const a = replica(1);
  const b = replica(2);
  write(a, [0, 0], 1);
  expect(b.appendAsFollower(bytesOf(a)).kind).toBe("ok");
  a.setHighWatermark(2);
  b.setHighWatermark(1);
  // The pre-KIP-101 rule: truncate to the HW on restart, losing m1 (committed and acknowledged).
  expect(Math.min(b.highWatermark, b.logEndOffset)).toBe(1);
  // By epoch: B asks where epoch 0 ends on A — at A's end, 2 — and keeps both.
  const r = reconcile(b, a);
  expect(r).toEqual({ rounds: 1, cuts: [2] });
  expect(b.logEndOffset).toBe(2);
  // A dies, B leads epoch 1 and writes; A comes back, asks for its epoch 0 → B's epoch 0 ends at 2.
  write(b, [1], 2);
  expect(reconcile(a, b)).toEqual({ rounds: 1, cuts: [2] });
  expect(bytesOf(a).equals(bytesOf(b))).toBe(true);
  expect(a.logEndOffset).toBe(3);
});

test("KIP-101, divergence: after both replicas lose power, the one elected first writes over an offset the other holds from an older epoch; the other truncates that record instead of keeping a different one", () => {
  const a = replica(3);
  const b = replica(4);
  // Epoch 0: A wrote m0 and m1; B copied m0 only (its copy of m1 was unflushed and lost).
  write(a, [0, 0], 1);
  expect(b.appendAsFollower(bytesOf(a).subarray(0, bytesOf(a).length / 2)).kind).toBe("ok");
  expect(b.logEndOffset).toBe(1);
  a.setHighWatermark(2);
  // Both lose power; B is back first and leads epoch 1, writing m2 at offset 1.
  write(b, [1, 1], 2);
  // The HW rule would keep A's offset 1 (HW 2): offset 1 would hold m1 on A and m2 on B.
  expect(a.highWatermark).toBe(2);
  const r = reconcile(a, b);
  expect(r).toEqual({ rounds: 1, cuts: [1] });
  expect(bytesOf(a).equals(bytesOf(b))).toBe(true);
  expect(a.leaderEpochCache.entries()).toEqual([...b.leaderEpochCache.entries()]);
});

test("KIP-279, fast failover: the leader answers with an epoch the follower never had; the follower cuts to its own epoch's end and asks again, not to the leader's end", () => {
  const a = replica(5);
  const b = replica(6);
  // Epoch 0: A leads, offsets 0..2 on both.
  write(a, [0, 0, 0], 1);
  expect(b.appendAsFollower(bytesOf(a)).kind).toBe("ok");
  // Epoch 1: A leads again and writes 3..6; B fetches none of it.
  write(a, [1, 1, 1, 1], 1);
  // A stops; B is elected for epoch 2 and writes 3..4; B stops before anyone copies them.
  write(b, [2, 2], 2);
  // A is back and elected for epoch 3 on its own log, and writes 7.
  write(a, [3], 1);
  expect(a.leaderEpochCache.entries()).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 1, startOffset: 3 }, { epoch: 3, startOffset: 7 }]);
  expect(b.leaderEpochCache.entries()).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 2, startOffset: 3 }]);
  // B asks for epoch 2: A's largest epoch at or below it is 1, which ends at 7 on A.
  expect(a.endOffsetForLeaderEpoch(2)).toEqual({ leaderEpoch: 1, endOffset: 7 });
  // Trusting that end (min(7, B's end 5)) would keep B's epoch-2 records at 3..4 — divergence.
  const once = truncationByEpoch(b, a.endOffsetForLeaderEpoch(2));
  expect(once).toEqual({ offset: 3, complete: false });
  const r = reconcile(b, a);
  expect(r).toEqual({ rounds: 2, cuts: [3, 3] });
  expect(bytesOf(a).equals(bytesOf(b))).toBe(true);
  expect(b.leaderEpochCache.entries()).toEqual([...a.leaderEpochCache.entries()]);
});

test("a leader that knows no epoch at or below the follower's answers -1: the follower falls back to its HW; answers below our first epoch cut there; never above the log end", () => {
  const f = replica(7);
  write(f, [4, 4, 4], 1);
  f.setHighWatermark(2);
  expect(truncationByEpoch(f, { leaderEpoch: -1, endOffset: -1 })).toEqual({ offset: 2, complete: true });
  // An old leader that answers only an offset.
  expect(truncationByEpoch(f, { leaderEpoch: -1, endOffset: 1 })).toEqual({ offset: 1, complete: true });
  // The leader's epoch 2 is below every epoch we have: ours "ends" where our first epoch starts.
  expect(truncationByEpoch(f, { leaderEpoch: 2, endOffset: 1 })).toEqual({ offset: 0, complete: true });
  // Never above our log end.
  expect(truncationByEpoch(f, { leaderEpoch: 4, endOffset: 10 })).toEqual({ offset: 3, complete: true });
});
