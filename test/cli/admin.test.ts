/**
 * The admin CLI (`bunka topics|groups|cluster|log-dirs|produce|consume`) as a process against
 * a real single-node broker process: human output checked, `--json` parsed, bad arguments and
 * an unreachable server give one stderr line and a non-zero exit. kcat (a real Kafka client)
 * cross-checks what produce wrote, reset-offsets committed and where keyed records went.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Kafka, logLevel } from "kafkajs";
import { type BrokerProcess, guard, ok, pollUntil, run, type RunResult, startBroker, text } from "../interop/broker-process.ts";

setDefaultTimeout(120_000);

let broker: BrokerProcess | undefined;

beforeAll(async () => {
  broker = await startBroker({ name: "admin-cli" });
}, 60_000);

afterAll(async () => {
  await broker?.dispose();
});

function bunka(args: readonly string[], stdin?: string): Promise<RunResult> {
  return run(["bun", "src/main.ts", ...args, ...(args.includes("--bootstrap-server") ? [] : ["--bootstrap-server", broker!.bootstrap])], { timeoutMs: 60_000, ...(stdin === undefined ? {} : { stdin }) });
}

async function json<T>(args: readonly string[], stdin?: string): Promise<T> {
  const r = ok(`bunka ${args.join(" ")}`, await bunka([...args, "--json"], stdin));
  return JSON.parse(text(r.stdout)) as T;
}

/** A failed command: its exit code and its stderr, which must be one line. */
function oneLineFailure(r: RunResult): { code: number | null; line: string } {
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines.length).toBe(1);
  expect(text(r.stdout)).toBe("");
  return { code: r.code, line: lines[0]! };
}

describe("bunka admin CLI on a single node", () => {
  test(
    "topics create, list, describe, alter, delete",
    guard(
      () => broker,
      async () => {
        const created = ok("create", await bunka(["topics", "create", "orders", "--partitions", "3", "--config", "retention.ms=123456"]));
        expect(text(created.stdout)).toMatch(/^created topic orders \(id [\w-]{22}\)\n$/);
        expect(oneLineFailure(await bunka(["topics", "create", "orders"]))).toEqual({ code: 1, line: expect.stringContaining("TOPIC_ALREADY_EXISTS (36)") });

        const list = await json<{ name: string; partitions: number; replicationFactor: number }[]>(["topics", "list"]);
        expect(list.find((t) => t.name === "orders")).toMatchObject({ partitions: 3, replicationFactor: 1 });
        expect(list.some((t) => t.name === "__consumer_offsets")).toBe(false);
        const human = text(ok("list", await bunka(["topics", "list"])).stdout).split("\n");
        expect(human[0]).toMatch(/^TOPIC\s+PARTITIONS\s+REPLICATION\s+INTERNAL$/);
        expect(human.some((l) => /^orders\s+3\s+1\s+no$/.test(l))).toBe(true);

        const [d] = await json<{ name: string; partitions: { partition: number; leader: number; isr: number[]; offline: boolean; underReplicated: boolean }[]; configs: Record<string, string> }[]>(["topics", "describe", "orders"]);
        expect(d!.configs).toEqual({ "retention.ms": "123456" });
        expect(d!.partitions.map((p) => [p.partition, p.leader, p.isr, p.offline, p.underReplicated])).toEqual([0, 1, 2].map((p) => [p, 1, [1], false, false]));
        expect(text(ok("describe", await bunka(["topics", "describe", "orders"])).stdout)).toContain("Configs: retention.ms=123456");
        expect(await json<unknown[]>(["topics", "describe", "--under-replicated"])).toEqual([]);

        ok("alter", await bunka(["topics", "alter", "orders", "--partitions", "5", "--config", "cleanup.policy=compact", "--delete-config", "retention.ms"]));
        const [after] = await json<{ partitions: unknown[]; configs: Record<string, string> }[]>(["topics", "describe", "orders"]);
        expect({ partitions: after!.partitions.length, configs: after!.configs }).toEqual({ partitions: 5, configs: { "cleanup.policy": "compact" } });
        expect(oneLineFailure(await bunka(["topics", "alter", "orders", "--partitions", "2"]))).toEqual({ code: 1, line: expect.stringContaining("INVALID_PARTITIONS") });
        expect(oneLineFailure(await bunka(["topics", "describe", "nope"]))).toEqual({ code: 1, line: expect.stringContaining("UNKNOWN_TOPIC_OR_PARTITION") });

        expect(text(ok("delete", await bunka(["topics", "delete", "orders"])).stdout)).toBe("deleted topic orders\n");
        expect((await json<{ name: string }[]>(["topics", "list"])).some((t) => t.name === "orders")).toBe(false);
      },
    ),
  );

  test(
    "produce and consume with keys and headers; keyed records land where Kafka's partitioner puts them",
    guard(
      () => broker,
      async () => {
        ok("create", await bunka(["topics", "create", "events", "--partitions", "4"]));
        const lines = Array.from({ length: 40 }, (_, i) => `key-${i}:value ${i}`);
        const produced = ok("produce", await bunka(["produce", "events", "--key-separator", ":", "--header", "source=cli", "--header", "n=1"], `${lines.join("\n")}\n`));
        expect(produced.stderr).toContain("40 records sent to events");
        // --json: one object per line.
        const r = ok("consume", await bunka(["consume", "events", "--json"]));
        const records = text(r.stdout).trimEnd().split("\n").map((l) => JSON.parse(l) as { partition: number; offset: number; key: string; value: string; headers: Record<string, string> });
        expect(records.length).toBe(40);
        expect(new Set(records.map((x) => `${x.key}:${x.value}`))).toEqual(new Set(lines));
        expect(records.every((x) => x.headers.source === "cli" && x.headers.n === "1")).toBe(true);
        // kcat with librdkafka's Java-compatible murmur2 partitioner puts each key on the same partition.
        const kcatOut = ok("kcat", await run(["kcat", "-b", broker!.bootstrap, "-C", "-t", "events", "-o", "beginning", "-e", "-q", "-f", "%k %p\\n"], { timeoutMs: 20_000 }));
        const ours = new Map(records.map((x) => [x.key, x.partition]));
        const kcatKeys = text(kcatOut.stdout).trim().split("\n").map((l) => l.split(" ") as [string, string]);
        expect(kcatKeys.length).toBe(40);
        ok("kcat produce", await run(["kcat", "-b", broker!.bootstrap, "-P", "-t", "events", "-K", ":", "-X", "topic.partitioner=murmur2"], { stdin: `${lines.map((l) => `${l.split(":")[0]}:again`).join("\n")}\n`, timeoutMs: 20_000 }));
        const again = ok("consume again", await bunka(["consume", "events", "--json"]));
        const kcatPlaced = text(again.stdout).trimEnd().split("\n").map((l) => JSON.parse(l) as { partition: number; key: string; value: string }).filter((x) => x.value === "again");
        expect(kcatPlaced.length).toBe(40);
        for (const x of kcatPlaced) expect({ key: x.key, partition: ours.get(x.key) }).toEqual({ key: x.key, partition: x.partition });

        const plain = ok("consume plain", await bunka(["consume", "events", "--partition", "0", "--count", "2", "--key-separator", "="]));
        const plainLines = text(plain.stdout).trimEnd().split("\n");
        expect(plainLines.length).toBe(2);
        expect(plainLines.every((l) => /^key-\d+=(value \d+|again)$/.test(l))).toBe(true);
        expect(oneLineFailure(await bunka(["consume", "events", "--partition", "9"]))).toEqual({ code: 2, line: expect.stringContaining("no partition 9") });
      },
    ),
  );

  test(
    "groups list, describe with lag, reset-offsets (dry run, then --execute), delete",
    guard(
      () => broker,
      async () => {
        ok("create", await bunka(["topics", "create", "g-topic", "--partitions", "2"]));
        ok("produce", await bunka(["produce", "g-topic", "--partition", "0"], "a\nb\nc\nd\n"));
        ok("produce", await bunka(["produce", "g-topic", "--partition", "1"], "e\nf\n"));
        // A real consumer group commits: kcat's balanced consumer reads everything.
        ok("kcat group", await run(["kcat", "-b", broker!.bootstrap, "-G", "g1", "-o", "beginning", "-e", "-q", "g-topic"], { timeoutMs: 60_000 }));
        const groups = await json<{ groupId: string; state: string }[]>(["groups", "list"]);
        expect(groups.find((g) => g.groupId === "g1")).toBeDefined();
        const d = await json<{ state: string; offsets: { partition: number; committed: number; logEndOffset: number; lag: number }[]; totalLag: number }>(["groups", "describe", "g1"]);
        expect(d.state).toBe("Empty");
        expect(d.offsets.map((o) => [o.partition, o.committed, o.logEndOffset, o.lag])).toEqual([[0, 4, 4, 0], [1, 2, 2, 0]]);

        const dry = ok("dry run", await bunka(["groups", "reset-offsets", "g1", "--topic", "g-topic:0", "--to-earliest"]));
        expect(text(dry.stdout)).toContain("dry run: nothing changed");
        expect((await json<{ offsets: { committed: number }[] }>(["groups", "describe", "g1"])).offsets[0]!.committed).toBe(4);

        const exec = await json<{ executed: boolean; offsets: { partition: number; previous: number; offset: number }[] }>(["groups", "reset-offsets", "g1", "--all-topics", "--shift-by", "-1", "--execute"]);
        expect(exec).toEqual({ group: "g1", executed: true, offsets: [{ topic: "g-topic", partition: 0, previous: 4, offset: 3 }, { topic: "g-topic", partition: 1, previous: 2, offset: 1 }] } as never);
        const lagged = await json<{ offsets: { lag: number }[]; totalLag: number }>(["groups", "describe", "g1"]);
        expect(lagged.totalLag).toBe(2);
        const human = text(ok("describe", await bunka(["groups", "describe", "g1"])).stdout);
        expect(human).toMatch(/Total lag: 2/);
        expect(human).toMatch(/g-topic\s+0\s+3\s+4\s+1/);
        // The group resumes where reset put it: kcat reads exactly the two records after the reset offsets.
        const resumed = ok("kcat resume", await run(["kcat", "-b", broker!.bootstrap, "-G", "g1", "-e", "-q", "-f", "%s\\n", "g-topic"], { timeoutMs: 60_000 }));
        expect(text(resumed.stdout).trim().split("\n").sort()).toEqual(["d", "f"]);

        ok("reset to time", await bunka(["groups", "reset-offsets", "g1", "--topic", "g-topic", "--to-datetime", "1970-01-01T00:00:00Z", "--execute"]));
        expect((await json<{ offsets: { committed: number }[] }>(["groups", "describe", "g1"])).offsets.map((o) => o.committed)).toEqual([0, 0]);

        expect(text(ok("delete", await bunka(["groups", "delete", "g1"])).stdout)).toBe("deleted group g1\n");
        expect(oneLineFailure(await bunka(["groups", "describe", "g1"]))).toEqual({ code: 1, line: expect.stringContaining("GROUP_ID_NOT_FOUND") });
      },
    ),
  );

  test(
    "groups describe shows a live kafkajs consumer's member and assignment; an admin reset of an active group is refused",
    guard(
      () => broker,
      async () => {
        ok("create", await bunka(["topics", "create", "live-topic", "--partitions", "2"]));
        const kafka = new Kafka({ clientId: "live-consumer", brokers: [broker!.bootstrap], logLevel: logLevel.NOTHING });
        const consumer = kafka.consumer({ groupId: "live", sessionTimeout: 30_000 });
        await consumer.connect();
        try {
          await consumer.subscribe({ topic: "live-topic", fromBeginning: true });
          await consumer.run({ eachMessage: async () => {} });
          const g = await pollUntil("the group is Stable with one member", 60_000, async () => {
            const d = await json<{ state: string; members: { memberId: string; clientId: string; assignment: { topic: string; partitions: number[] }[] }[] }>(["groups", "describe", "live"]);
            return d.state === "Stable" && d.members.length === 1 ? d : undefined;
          }, 500);
          expect(g.members[0]!.clientId).toBe("live-consumer");
          expect(g.members[0]!.assignment).toEqual([{ topic: "live-topic", partitions: [0, 1] }]);
          const human = text(ok("describe", await bunka(["groups", "describe", "live"])).stdout);
          expect(human).toContain(`${g.members[0]!.memberId}  live-consumer`);
          expect(human).toContain("live-topic:0,1");
          const refused = oneLineFailure(await bunka(["groups", "reset-offsets", "live", "--topic", "live-topic", "--to-earliest", "--execute"]));
          expect(refused.code).toBe(1);
          expect(refused.line).toMatch(/^bunka: groups reset-offsets live: [A-Z_]+ \(\d+\)/);
        } finally {
          await consumer.disconnect();
        }
      },
    ),
  );

  test(
    "cluster describe, cluster health, log-dirs describe",
    guard(
      () => broker,
      async () => {
        const c = await json<{ clusterId: string; controllerId: number; brokers: { id: number; port: number; fenced: boolean }[]; quorum: { leaderId: number; leaderEpoch: number; voters: { id: number; lag: number }[] } }>(["cluster", "describe"]);
        expect(c.clusterId).toBe(broker!.clusterId);
        expect(c.brokers).toEqual([{ id: 1, host: "127.0.0.1", port: broker!.port, rack: null, fenced: false } as never]);
        expect(c.quorum.leaderId).toBe(1);
        expect(c.quorum.voters.map((v) => [v.id, v.lag])).toEqual([[1, 0]]);
        expect(text(ok("describe", await bunka(["cluster", "describe"])).stdout)).toMatch(/Quorum: leader 1 {2}epoch \d+/);
        const h = ok("health", await bunka(["cluster", "health"]));
        expect(text(h.stdout)).toMatch(/^healthy: 1 brokers serving/);
        expect(await json<{ healthy: boolean }>(["cluster", "health"])).toMatchObject({ healthy: true, problems: [] });
        const dirs = await json<{ broker: number; logDir: string; error: string | null; partitions: { topic: string }[] }[]>(["log-dirs", "describe"]);
        expect(dirs.map((d) => [d.broker, d.logDir, d.error])).toEqual([[1, broker!.dataDir, null]]);
        expect(dirs[0]!.partitions.some((p) => p.topic === "g-topic")).toBe(true);
      },
    ),
  );

  test("bad arguments and an unreachable server: one line, non-zero exit", async () => {
    const cases: [string[], number, string][] = [
      [["topics"], 2, "needs a command"],
      [["topics", "bogus"], 2, 'unknown command "bogus"'],
      [["topics", "create"], 2, "needs a topic name"],
      [["topics", "list", "--nope"], 2, 'unknown argument "--nope"'],
      [["topics", "create", "x", "--partitions", "zero"], 2, "--partitions"],
      [["topics", "create", "x", "--config", "novalue"], 2, "is not key=value"],
      [["topics", "alter", "x"], 2, "nothing to change"],
      [["groups", "reset-offsets", "g", "--all-topics"], 2, "exactly one of"],
      [["groups", "reset-offsets", "g", "--to-latest"], 2, "--all-topics"],
      [["groups", "reset-offsets", "g", "--all-topics", "--to-datetime", "someday"], 2, "--to-datetime"],
      [["consume", "t", "--offset", "middle"], 2, "--offset"],
      [["topics", "list", "--bootstrap-server", "nonsense"], 2, "not host:port"],
      [["topics", "list", "--bootstrap-server", "127.0.0.1:1"], 1, "cannot reach 127.0.0.1:1"],
      [["cluster", "health", "--bootstrap-server", "127.0.0.1:1"], 1, "ECONNREFUSED"],
    ];
    for (const [args, code, fragment] of cases) {
      const r = await bunka(args);
      expect({ args, ...oneLineFailure(r) }).toEqual({ args, code, line: expect.stringContaining(fragment) });
    }
    const help = ok("help", await bunka(["groups", "--help"]));
    expect(text(help.stdout)).toContain("bunka groups reset-offsets GROUP");
  });
});
