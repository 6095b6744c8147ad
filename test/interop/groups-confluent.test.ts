/**
 * Consumer groups with confluent-kafka-python (apt, librdkafka 2.0.2) against a real bunka
 * broker, driven by test/interop/py/groups_confluent.py (/usr/bin/python3):
 *
 * 1. cooperative-sticky: a second member's join is an incremental rebalance. The first member
 *    is revoked only the partitions that move (never all of them), keeps the rest without a
 *    revoke and keeps consuming them; the second member is assigned exactly what moved. When
 *    the second member leaves, the first is assigned exactly the freed partitions, no revoke.
 * 2. Static membership (group.instance.id): a member closed without LeaveGroup and restarted
 *    with the same instance id inside session.timeout.ms gets the same partitions back, and
 *    the other member sees no revoke and no assign (no rebalance). A static member that never
 *    comes back is removed when its session (6 s) expires and the other member gets everything.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { brokerPerFile, ok, run, text } from "./broker-process.ts";

setDefaultTimeout(90_000);

const script = join(import.meta.dir, "py/groups_confluent.py");
const { b, g } = brokerPerFile({ name: "groups-confluent", sets: { "group.initial.rebalance.delay.ms": "0" } });


async function createTopic(topic: string, numPartitions: number): Promise<void> {
  const admin = new Kafka({ clientId: "groups-confluent-admin", brokers: [b().bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

async function py<T>(args: readonly string[]): Promise<T> {
  const r = ok(`python ${args.join(" ")}`, await run(["/usr/bin/python3", script, b().bootstrap, ...args], { timeoutMs: 80_000 }));
  const out = text(r.stdout).trim();
  try {
    return JSON.parse(out) as T;
  } catch {
    throw new Error(`python ${args.join(" ")}: not JSON: ${out.slice(0, 2000)}\nstderr: ${r.stderr.slice(0, 2000)}`);
  }
}

type Ev = [kind: "assign" | "revoke", round: number, partitions: number[]];
const all = [0, 1, 2, 3, 4, 5];
const sorted = (xs: Iterable<number>): number[] => [...xs].sort((x, y) => x - y);

describe("confluent-kafka-python consumer group", () => {
  test(
    "cooperative-sticky: the second member's join revokes only the partitions that move; its leave gives them back incrementally",
    g(async () => {
      await createTopic("grp-coop", 6);
      const out = await py<{
        join_round: number;
        m1_events: Ev[];
        m2_events: Ev[];
        m1_assigned: number[];
        m2_assigned: number[];
        m1_consumed_after: number[];
        m2_consumed_after: number[];
        leave_round: number;
        m1_events_after_leave: Ev[];
      }>(["cooperative", "grp-coop", "grp-coop"]);
      const ctx = JSON.stringify(out);
      // Member 1: all six at first, then one incremental revoke of what moved, nothing else.
      expect(out.m1_events[0], ctx).toEqual(["assign", expect.any(Number), all]);
      const later = out.m1_events.slice(1);
      const revokes = later.filter((e) => e[0] === "revoke");
      expect(revokes.length, ctx).toBe(1);
      const moved = revokes[0]?.[2] ?? [];
      expect(moved.length, ctx).toBeGreaterThan(0);
      expect(moved.length, ctx).toBeLessThan(6);
      expect(later.filter((e) => e[0] === "assign" && e[2].length > 0), ctx).toEqual([]);
      // Member 2 got exactly what moved; together they cover every partition once.
      const m2Assigned = sorted(out.m2_events.filter((e) => e[0] === "assign").flatMap((e) => e[2]));
      expect(m2Assigned, ctx).toEqual(moved);
      expect(out.m2_events.filter((e) => e[0] === "revoke" && e[2].length > 0), ctx).toEqual([]);
      expect(sorted([...out.m1_assigned, ...out.m2_assigned]), ctx).toEqual(all);
      expect(out.m1_assigned, ctx).toEqual(all.filter((p) => !moved.includes(p)));
      // Both keep consuming what they own after the rebalance (member 1 never stopped).
      expect(out.m1_consumed_after, ctx).toEqual(out.m1_assigned);
      expect(out.m2_consumed_after, ctx).toEqual(out.m2_assigned);
      expect(Math.abs(out.m1_assigned.length - out.m2_assigned.length), ctx).toBeLessThanOrEqual(1);
      // Member 2 leaves: member 1 is assigned exactly the freed partitions, revoking nothing.
      expect(out.m1_events_after_leave.filter((e) => e[0] === "revoke" && e[2].length > 0), ctx).toEqual([]);
      expect(sorted(out.m1_events_after_leave.filter((e) => e[0] === "assign").flatMap((e) => e[2])), ctx).toEqual(out.m2_assigned);
    }),
  );

  test(
    "static membership: a member restarted with its group.instance.id inside the session timeout gets its partitions back, no rebalance",
    g(async () => {
      await createTopic("grp-static", 6);
      const out = await py<{
        stable_round: number;
        s1_events: Ev[];
        s1_assigned: number[];
        s1_consumed_after: number[];
        s2_before: number[];
        s2_after: number[];
        s2b_events: Ev[];
        rejoin_within_session: boolean;
      }>(["static", "grp-static", "grp-static"]);
      const ctx = JSON.stringify(out);
      expect(out.rejoin_within_session, ctx).toBe(true);
      expect(out.s2_before.length, ctx).toBe(3);
      expect(out.s2_after, ctx).toEqual(out.s2_before);
      // s1 saw nothing after the group was stable: no revoke, no assign.
      expect(out.s1_events.filter((e) => e[1] > out.stable_round), ctx).toEqual([]);
      expect(sorted([...out.s1_assigned, ...out.s2_after]), ctx).toEqual(all);
      expect(out.s1_consumed_after, ctx).toEqual(out.s1_assigned);
      expect(out.s2b_events.filter((e) => e[0] === "revoke" && e[2].length > 0), ctx).toEqual([]);
    }),
  );

  test(
    "static membership: a static member that never comes back is removed when its session expires; the other gets its partitions",
    g(async () => {
      await createTopic("grp-static-expire", 6);
      const out = await py<{ s1_before: number[]; s2_before: number[]; s1_after: number[]; s1_events_after_close: Ev[] }>(["static-expire", "grp-static-expire", "grp-static-expire"]);
      const ctx = JSON.stringify(out);
      expect(out.s1_before.length + out.s2_before.length, ctx).toBe(6);
      expect(out.s2_before.length, ctx).toBeGreaterThan(0);
      expect(out.s1_after, ctx).toEqual(all);
      // Eager (range) protocol: the expiry rebalance revokes s1's partitions and assigns all six.
      const assigns = out.s1_events_after_close.filter((e) => e[0] === "assign");
      expect(assigns.at(-1)?.[2], ctx).toEqual(all);
    }),
  );
});
