"""confluent-kafka-python (Debian's, librdkafka 2.0.2) consumer-group driver for
test/interop/groups-confluent.test.ts. Run with /usr/bin/python3:

    python3 groups_confluent.py <bootstrap> <command> <topic> <group>

Both members live in this one process and are polled in turn; a Producer writes one record
to every partition each round so both always have something to consume. Every rebalance
callback is logged with the round it happened in; the test decides what is right.

Commands (each prints one JSON document on stdout):
    cooperative   partition.assignment.strategy=cooperative-sticky. Member 1 joins alone and
                  consumes; member 2 joins. Reports both members' assign/revoke events and the
                  partitions each consumed from after member 2's first assignment. Then member
                  2 closes (LeaveGroup) and member 1's events until it owns and reads all.
    static        group.instance.id members "s1" (joins first: the leader) and "s2". When both
                  consume, s2 is closed (static: librdkafka sends no LeaveGroup) and a new
                  consumer with instance id s2 rejoins at once. Reports s1's events after the
                  group was stable, and s2's assignment before and after the restart.
    static-expire static members e1, e2 (session.timeout.ms=6000); e2 is closed and never comes
                  back: reports e1's assignment before and after e2's session expired.
"""
import json
import sys
import time

from confluent_kafka import Consumer, Producer

DEADLINE_S = 40
SESSION_MS = 10000


class Member:
    def __init__(self, name, bootstrap, group, extra):
        self.name = name
        self.events = []  # [kind, round, [partitions]]
        self.assigned = set()
        self.consumed = {}  # partition -> count
        self.consumed_since = {}  # partition -> count since the last reset_marks()
        conf = {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,
            "auto.commit.interval.ms": 200,
            "session.timeout.ms": SESSION_MS,
            "heartbeat.interval.ms": 500,
            "max.poll.interval.ms": 30000,
            "fetch.wait.max.ms": 50,
        }
        conf.update(extra)
        self.consumer = Consumer(conf)
        self.round = 0

    def subscribe(self, topic):
        def on_assign(_c, parts):
            ps = sorted(p.partition for p in parts)
            self.events.append(["assign", self.round, ps])
            self.assigned |= set(ps)

        def on_revoke(_c, parts):
            ps = sorted(p.partition for p in parts)
            self.events.append(["revoke", self.round, ps])
            self.assigned -= set(ps)

        self.consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)

    def poll(self, rnd):
        self.round = rnd
        m = self.consumer.poll(0.02)
        while m is not None:
            if m.error() is None:
                p = m.partition()
                self.consumed[p] = self.consumed.get(p, 0) + 1
                self.consumed_since[p] = self.consumed_since.get(p, 0) + 1
            m = self.consumer.poll(0)

    def reset_marks(self):
        self.consumed_since = {}


def wait(what, members, producer, topic, nparts, rnd, cond):
    deadline = time.time() + DEADLINE_S
    while not cond():
        if time.time() > deadline:
            raise SystemExit(f"timed out waiting for {what}: " + json.dumps({m.name: m.events for m in members}))
        rnd += 1
        for p in range(nparts):
            producer.produce(topic, value=b"x", partition=p)
        producer.poll(0)
        for m in members:
            m.poll(rnd)
    return rnd


def cooperative(bootstrap, topic, group):
    nparts = 6
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    strat = {"partition.assignment.strategy": "cooperative-sticky"}
    m1 = Member("m1", bootstrap, group, strat)
    m1.subscribe(topic)
    rnd = wait("m1 owns all and consumes", [m1], producer, topic, nparts, 0, lambda: len(m1.assigned) == nparts and len(m1.consumed) == nparts)
    m2 = Member("m2", bootstrap, group, strat)
    m2.subscribe(topic)
    join_round = rnd
    rnd = wait("m2 assigned", [m1, m2], producer, topic, nparts, rnd, lambda: len(m2.assigned) > 0)
    m1.reset_marks()
    m2.reset_marks()
    rnd = wait(
        "both consume all they own",
        [m1, m2],
        producer,
        topic,
        nparts,
        rnd,
        lambda: set(m1.consumed_since) >= m1.assigned and set(m2.consumed_since) >= m2.assigned and len(m1.assigned | m2.assigned) == nparts,
    )
    # Keep going a little: no further rebalance should happen in a stable group.
    end = time.time() + 1.5
    rnd = wait("tick", [m1, m2], producer, topic, nparts, rnd, lambda: time.time() >= end)
    before_leave = {
        "join_round": join_round,
        "m1_events": list(m1.events),
        "m2_events": list(m2.events),
        "m1_assigned": sorted(m1.assigned),
        "m2_assigned": sorted(m2.assigned),
        "m1_consumed_after": sorted(m1.consumed_since),
        "m2_consumed_after": sorted(m2.consumed_since),
    }
    # Member 2 leaves (dynamic member: LeaveGroup): member 1 is assigned the freed partitions
    # incrementally and revokes nothing.
    leave_round = rnd
    m2.consumer.close()
    m1.reset_marks()
    rnd = wait(
        "m1 owns all again and consumes them",
        [m1],
        producer,
        topic,
        nparts,
        rnd,
        lambda: len(m1.assigned) == nparts and set(m1.consumed_since) >= set(range(nparts)),
    )
    before_leave["leave_round"] = leave_round
    before_leave["m1_events_after_leave"] = [e for e in m1.events if e[1] > leave_round]
    out = json.dumps(before_leave)  # serialised now: close() fires on_revoke
    m1.consumer.close()
    producer.flush(5)
    print(out)


def static(bootstrap, topic, group):
    nparts = 6
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    s1 = Member("s1", bootstrap, group, {"group.instance.id": "s1"})
    s1.subscribe(topic)
    rnd = wait("s1 joined", [s1], producer, topic, nparts, 0, lambda: len(s1.assigned) == nparts)
    s2 = Member("s2", bootstrap, group, {"group.instance.id": "s2"})
    s2.subscribe(topic)
    rnd = wait(
        "s1 and s2 share the partitions and consume",
        [s1, s2],
        producer,
        topic,
        nparts,
        rnd,
        lambda: len(s2.assigned) > 0 and len(s1.assigned) + len(s2.assigned) == nparts and set(s2.consumed) >= s2.assigned,
    )
    stable_round = rnd
    s1.reset_marks()
    s2_before = sorted(s2.assigned)
    s2.consumer.close()  # static member: no LeaveGroup
    closed_at = time.time()
    s2b = Member("s2b", bootstrap, group, {"group.instance.id": "s2"})
    s2b.subscribe(topic)
    rnd = wait(
        "restarted s2 assigned and consuming",
        [s1, s2b],
        producer,
        topic,
        nparts,
        rnd,
        lambda: len(s2b.assigned) > 0 and set(s2b.consumed) >= s2b.assigned,
    )
    rejoin_s = time.time() - closed_at
    # s1 keeps consuming its partitions; watch it a little longer for a late rebalance.
    end = time.time() + 2.0
    rnd = wait("tick", [s1, s2b], producer, topic, nparts, rnd, lambda: time.time() >= end)
    out = json.dumps({
        "stable_round": stable_round,
        "s1_events": s1.events,
        "s1_assigned": sorted(s1.assigned),
        "s1_consumed_after": sorted(s1.consumed_since),
        "s2_before": s2_before,
        "s2_after": sorted(s2b.assigned),
        "s2b_events": s2b.events,
        "rejoin_within_session": rejoin_s * 1000 < SESSION_MS,
    })  # serialised now: close() fires on_revoke
    s2b.consumer.close()
    s1.consumer.close()
    producer.flush(5)
    print(out)


def static_expire(bootstrap, topic, group):
    nparts = 6
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    short = {"session.timeout.ms": 6000}
    s1 = Member("s1", bootstrap, group, dict(short, **{"group.instance.id": "e1"}))
    s1.subscribe(topic)
    rnd = wait("s1 joined", [s1], producer, topic, nparts, 0, lambda: len(s1.assigned) == nparts)
    s2 = Member("s2", bootstrap, group, dict(short, **{"group.instance.id": "e2"}))
    s2.subscribe(topic)
    rnd = wait("s1 and s2 share", [s1, s2], producer, topic, nparts, rnd, lambda: len(s2.assigned) > 0 and len(s1.assigned) + len(s2.assigned) == nparts)
    s1_before = sorted(s1.assigned)
    s2_before = sorted(s2.assigned)
    closed_round = rnd
    s2.consumer.close()  # static: no LeaveGroup; only the session timeout removes it
    s1.reset_marks()
    rnd = wait("s1 owns all after s2's session expired", [s1], producer, topic, nparts, rnd, lambda: len(s1.assigned) == nparts and set(s1.consumed_since) >= set(range(nparts)))
    out = json.dumps({"s1_before": s1_before, "s2_before": s2_before, "s1_after": sorted(s1.assigned), "s1_events_after_close": [e for e in s1.events if e[1] > closed_round]})
    s1.consumer.close()
    producer.flush(5)
    print(out)


def main():
    bootstrap, command, topic, group = sys.argv[1:5]
    if command == "cooperative":
        cooperative(bootstrap, topic, group)
    elif command == "static":
        static(bootstrap, topic, group)
    elif command == "static-expire":
        static_expire(bootstrap, topic, group)
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
