import { describe, expect, test } from "bun:test";
import { alterPartitionBatchMax, AlterPartitionBatcher, type AlterPartitionItem } from "../../src/server/alter-partition-batcher.ts";
import { SimClock } from "../../src/platform/clock.ts";

const item = (partition: number, topicId = "T"): AlterPartitionItem => ({ topicId, partition, leaderEpoch: 0, partitionEpoch: partition, newIsr: [{ brokerId: 1, brokerEpoch: 1 }] });

/** A transport whose requests the test answers by hand. */
function manual() {
  const requests: { items: readonly AlterPartitionItem[]; answer: (codes: number[]) => void; fail: (e: Error) => void }[] = [];
  const transport = (items: readonly AlterPartitionItem[]) =>
    new Promise<number[]>((resolve, reject) => {
      requests.push({ items, answer: resolve, fail: reject });
    });
  return { requests, transport };
}

async function settle(clock: SimClock): Promise<void> {
  for (let i = 0; i < 5; i++) {
    clock.advance(0);
    await Promise.resolve();
    await Promise.resolve();
  }
}

describe("AlterPartition batching", () => {
  test("items of one turn go in one request; items arriving meanwhile go in the next; each gets its own partition's code", async () => {
    const clock = new SimClock();
    const { requests, transport } = manual();
    const b = new AlterPartitionBatcher(clock, transport);
    const first = [0, 1, 2].map((p) => b.send(item(p)));
    expect(requests.length).toBe(0);
    await settle(clock);
    expect(requests.map((r) => r.items.map((i) => i.partition))).toEqual([[0, 1, 2]]);
    const later = [3, 4].map((p) => b.send(item(p)));
    await settle(clock);
    expect(requests.length).toBe(1); // one in flight at a time
    requests[0]!.answer([0, 7, 0]);
    expect(await Promise.all(first)).toEqual([0, 7, 0]);
    await settle(clock);
    expect(requests.map((r) => r.items.map((i) => i.partition))).toEqual([[0, 1, 2], [3, 4]]);
    requests[1]!.answer([0, 0]);
    expect(await Promise.all(later)).toEqual([0, 0]);
    expect(b.requests).toBe(2);
  });

  test("a partition twice waits for the next request; a failed request rejects its own items only; batches are bounded", async () => {
    const clock = new SimClock();
    const { requests, transport } = manual();
    const b = new AlterPartitionBatcher(clock, transport);
    const outcome = (p: Promise<number>) => p.then((code) => `code ${code}`, (e: Error) => e.message);
    const a = outcome(b.send(item(0)));
    const again = b.send(item(0));
    const other = outcome(b.send(item(1, "U")));
    await settle(clock);
    expect(requests[0]!.items.map((i) => `${i.topicId}${i.partition}`)).toEqual(["T0", "U1"]);
    requests[0]!.fail(new Error("controller unreachable"));
    expect(await a).toBe("controller unreachable");
    expect(await other).toBe("controller unreachable");
    await settle(clock);
    expect(requests[1]!.items.map((i) => `${i.topicId}${i.partition}`)).toEqual(["T0"]);
    requests[1]!.answer([0]);
    expect(await again).toBe(0);

    const many = Array.from({ length: alterPartitionBatchMax + 5 }, (_, p) => b.send(item(p)));
    await settle(clock);
    expect(requests[2]!.items.length).toBe(alterPartitionBatchMax);
    requests[2]!.answer(requests[2]!.items.map(() => 0));
    await settle(clock);
    expect(requests[3]!.items.length).toBe(5);
    requests[3]!.answer([0, 0, 0, 0, 0]);
    expect((await Promise.all(many)).length).toBe(alterPartitionBatchMax + 5);
    // An answer of the wrong length is a failure of that request.
    const bad = outcome(b.send(item(9)));
    await settle(clock);
    requests[4]!.answer([]);
    expect(await bad).toBe("AlterPartition answered 0 partitions for 1");
  });
});
