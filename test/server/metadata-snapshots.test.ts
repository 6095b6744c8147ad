/**
 * Metadata snapshots of one node on the simulated platform (the real startNode, quorum and
 * RaftMetadataStore): it snapshots its image by size and by time, retention deletes the log
 * before the snapshot, and a restart on the same disk starts from the snapshot and replays
 * the log after it into the same image.
 */
import { describe, expect, test } from "bun:test";
import type { MetadataImage } from "../../src/metadata/image.ts";
import { SimClock } from "../../src/platform/clock.ts";
import { SimFileSystem } from "../../src/platform/sim/fs.ts";
import { SimNetwork } from "../../src/platform/sim/network.ts";
import { SeededPrng } from "../../src/platform/prng.ts";
import { loadConfig } from "../../src/server/config.ts";
import { startNode, type NodeParts } from "../../src/server/node.ts";
import { imageState } from "../metadata/image-state.ts";
import { randomUuid } from "../../src/metadata/uuid.ts";
import { settle, until } from "../client/sim-driver.ts";

const metadataDir = "/data/__cluster_metadata-0";

function world(seed: number) {
  const clock = new SimClock();
  const net = new SimNetwork({ clock, prng: new SeededPrng(seed), link: { delayMs: 1, jitterMs: 0 } });
  const fs = new SimFileSystem(new SeededPrng(seed + 1), clock);
  fs.mkdirp("/data");
  return { clock, net, fs, seed };
}

async function start(w: ReturnType<typeof world>, sets: string[]) {
  const loaded = loadConfig({ sets: ["listeners=PLAINTEXT://10.0.0.1:9092", "log.dirs=/data", "node.id=1", ...sets] });
  if (!loaded.ok) throw loaded.error;
  const lines: string[] = [];
  let parts!: NodeParts;
  const platform = {
    network: w.net.host("10.0.0.1"),
    clock: w.clock,
    fs: w.fs,
    prng: new SeededPrng(w.seed + 2),
    logSink: (line: string) => void lines.push(line),
    hostname: "sim",
    absolutePath: (p: string) => p,
  };
  const node = (await settle(w.clock, startNode(loaded.config, platform, { observe: (p: NodeParts) => (parts = p) }))).value;
  await settle(w.clock, node.ready);
  return { node, parts, lines };
}

let serial = 0;

/** Commits one topic with a few partitions through the metadata manager. */
async function createTopic(w: ReturnType<typeof world>, parts: NodeParts): Promise<void> {
  const n = ++serial;
  const id = randomUuid(new SeededPrng(1000 + n));
  const r = await settle(
    w.clock,
    parts.metadata.submit(() => ({
      records: [
        { type: "topic", name: `t${n}`, topicId: id },
        ...[0, 1, 2].map((p) => ({ type: "partition" as const, topicId: id, partition: p, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 })),
        { type: "config", resourceType: "topic", resourceName: `t${n}`, name: "retention.ms", value: String(1000 + n) },
      ],
      response: "ok",
    })),
  );
  expect(r.value).toBe("ok");
}

function snapshotFiles(w: ReturnType<typeof world>): string[] {
  return w.fs.readdir(metadataDir).filter((n) => n.endsWith(".checkpoint"));
}

describe("metadata snapshots of one node", () => {
  test("by size: snapshots, the log before the newest deleted; a restart starts from it and rebuilds the same image", async () => {
    const w = world(31);
    const sets = ["metadata.log.max.record.bytes.between.snapshots=2048", "metadata.max.retention.bytes=0", "metadata.log.segment.bytes=16384"];
    const first = await start(w, sets);
    for (let i = 0; i < 60; i++) await createTopic(w, first.parts);
    await until(w.clock, () => first.parts.quorum.store.stats.taken >= 5, 5_000, "five snapshots");
    const { store, log } = first.parts.quorum;
    expect(store.stats.rejected).toBe(0);
    expect(store.stats.logStartMoves).toBeGreaterThan(0);
    expect(log.logStartOffset).toBe(log.snapshots()[0]!.endOffset);
    expect(log.snapshots().length).toBe(1);
    // The first segments (from offset 0) are gone; none lies wholly below the log start.
    const segments = w.fs
      .readdir(metadataDir)
      .filter((n) => n.endsWith(".log"))
      .map((n) => Number(n.slice(0, 20)))
      .sort((a, b) => a - b);
    expect(segments[0]).toBeGreaterThan(0);
    expect(segments.slice(1).every((base) => base > log.logStartOffset)).toBe(true);
    expect(snapshotFiles(w).length).toBe(1);
    expect(first.lines.some((l) => l.includes('msg="metadata snapshot taken"'))).toBe(true);
    // Some records after the last snapshot, so the restart replays a log tail too.
    await createTopic(w, first.parts);
    expect(first.parts.metadata.image.topicsByName.size).toBe(61);
    expect(log.latestSnapshot()!.endOffset).toBeLessThan(first.parts.quorum.store.appliedOffset);
    // The controlled shutdown writes too (the broker fenced, its partitions' leadership moved
    // off it, in several batches), which may take one more snapshot: the restart starts from
    // the newest and replays what follows it.
    await settle(w.clock, first.node.stop());
    const before: MetadataImage = first.parts.metadata.image;
    const latest = log.latestSnapshot()!;
    expect(latest.endOffset - 1).toBeLessThanOrEqual(before.offset);

    const second = await start(w, sets);
    const s2 = second.parts.quorum.store;
    expect(s2.startImage.offset).toBe(latest.endOffset - 1);
    await until(w.clock, () => second.parts.metadata.image.topicsByName.size === 61, 5_000, "the log after the snapshot replayed");
    const after = second.parts.metadata.image;
    // The same topics, partitions and configs; leaders and epochs moved (the broker was fenced
    // at shutdown and leads again once unfenced), and it registered again as it started.
    const shape = (image: MetadataImage) => ({
      topics: [...image.topicsByName.values()].map((t) => [t.name, t.topicId, t.partitions.map((p) => p.replicas)]),
      configs: [...image.configs.entries()].map(([k, m]) => [k, [...m.entries()]]),
    });
    expect(shape(after)).toEqual(shape(before));
    expect(after.brokers.get(1)!.brokerEpoch).toBeGreaterThan(before.brokers.get(1)!.brokerEpoch);
    await settle(w.clock, second.node.stop());
  });

  test("an idle metadata log gets a no-op record every metadata.max.idle.interval.ms, and the image does not change", async () => {
    const w = world(44);
    const n = await start(w, ["metadata.max.idle.interval.ms=500"]);
    await until(w.clock, () => false, 1_000).catch(() => undefined); // let start-up settle
    const image = n.parts.metadata.image;
    const end = n.parts.quorum.log.logEndOffset;
    await until(w.clock, () => false, 5_000).catch(() => undefined);
    const written = n.parts.quorum.log.logEndOffset - end;
    // One per quiet interval (one interval sees the previous no-op as a change): 5 s at 500 ms.
    expect(written).toBeGreaterThanOrEqual(4);
    expect(written).toBeLessThanOrEqual(10);
    const after = n.parts.metadata.image;
    expect(after.offset).toBeGreaterThan(image.offset);
    expect(imageState(after.withOffset(0))).toEqual(imageState(image.withOffset(0)));
    await settle(w.clock, n.node.stop());
  });

  test("a decision larger than a proposal may be: refused whole when atomic, committed in several batches when not", async () => {
    const w = world(43);
    const n = await start(w, ["metadata.log.segment.bytes=16384"]);
    const records = Array.from({ length: 400 }, (_, i) => ({ type: "config" as const, resourceType: "broker" as const, resourceName: "", name: `big.${i}`, value: "x".repeat(40) }));
    const atomic = await settle(w.clock, n.parts.metadata.submit(() => ({ records, response: "ok" })).catch((e: unknown) => String(e)));
    expect(atomic.value).toMatch(/must be 1\.\.16384/);
    expect(n.parts.metadata.image.configs.get("broker:")?.has("big.0") ?? false).toBe(false);
    const before = n.parts.quorum.log.logEndOffset;
    const split = await settle(w.clock, n.parts.metadata.submit(() => ({ records, response: "ok", atomic: false })));
    expect(split.value).toBe("ok");
    const applied = n.parts.metadata.image.configs.get("broker:")!;
    expect(records.every((r) => applied.get(r.name) === r.value)).toBe(true);
    expect(n.parts.quorum.log.logEndOffset - before).toBeGreaterThanOrEqual(400); // and no-op records of idle moments
    await settle(w.clock, n.node.stop());
  });

  test("by time: with anything applied, a snapshot is taken once metadata.log.max.snapshot.interval.ms has passed, without another commit", async () => {
    const w = world(41);
    const first = await start(w, ["metadata.log.max.snapshot.interval.ms=5000", "metadata.max.idle.interval.ms=0"]); // no no-op records: nothing is committed unless the test does
    const { store } = first.parts.quorum;
    // The records of start-up (LEADER_CHANGE, the registration) are snapshotted by time first.
    await until(w.clock, () => store.stats.taken > 0, 20_000, "a snapshot of start-up by time");
    const taken = store.stats.taken;
    await createTopic(w, first.parts);
    const at = w.clock.monotonicMs();
    await until(w.clock, () => store.stats.taken > taken, 20_000, "a snapshot by time");
    expect(w.clock.monotonicMs() - at).toBeLessThanOrEqual(5_000);
    expect(store.stats.latest!.endOffset).toBe(store.appliedOffset);
    // Nothing applied since: no snapshot however long it waits.
    const count = store.stats.taken;
    w.clock.advance(20_000);
    await settle(w.clock, Promise.resolve());
    expect(store.stats.taken).toBe(count);
    await settle(w.clock, first.node.stop());
  });
});
