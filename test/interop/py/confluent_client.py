"""confluent-kafka-python (Debian's, librdkafka 2.0.2) driver for test/interop/confluent.test.ts.

Run with /usr/bin/python3 (the apt module imports only there):

    python3 confluent_client.py <bootstrap> <command> [args...]

Commands (each prints one JSON document on stdout; exit 0 unless the client itself failed):
    admin <topic>                  create_topics (3 partitions, retention.ms override),
                                   create again (expect TOPIC_ALREADY_EXISTS), list_topics,
                                   describe_configs of the topic
    produce <topic> <n> <codec>    Producer acks=all; every delivery report (partition, offset,
                                   error) by message index
    consume-assign <topic> <n>     Consumer with assign() at OFFSET_BEGINNING on every partition,
                                   no group use; reads until n records or a deadline
    consume-group <topic> <n>      Consumer with subscribe() in a group, auto.offset.reset=earliest

A record is reported as [partition, offset, key, value, [[header, value], ...], timestamp].
"""
import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

DEADLINE_S = 20


def text(b):
    return None if b is None else b.decode("utf-8", "replace")


def admin(bootstrap, topic):
    a = AdminClient({"bootstrap.servers": bootstrap})
    out = {}
    fs = a.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1, config={"retention.ms": "7200000"})], operation_timeout=10)
    try:
        fs[topic].result()
        out["create"] = "ok"
    except Exception as e:  # noqa: BLE001 - reported to the test
        out["create"] = str(e)
    fs = a.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)], operation_timeout=10)
    try:
        fs[topic].result()
        out["create_again"] = "ok"
    except Exception as e:  # noqa: BLE001
        err = e.args[0] if e.args else None
        out["create_again"] = err.name() if isinstance(err, KafkaError) else str(e)
    md = a.list_topics(timeout=10)
    out["brokers"] = sorted([[b.id, b.host, b.port] for b in md.brokers.values()])
    out["controller_id"] = md.controller_id
    out["topics"] = {
        name: {
            "error": None if t.error is None else t.error.name(),
            "partitions": sorted([[p.id, p.leader, list(p.replicas), list(p.isrs)] for p in t.partitions.values()]),
        }
        for name, t in md.topics.items()
    }
    res = ConfigResource("topic", topic)
    fs = a.describe_configs([res], request_timeout=10)
    configs = fs[res].result()
    out["configs"] = {
        name: {"value": e.value, "is_default": e.is_default, "read_only": e.is_read_only, "source": e.source}
        for name, e in configs.items()
        if name in ("retention.ms", "cleanup.policy", "segment.bytes", "min.insync.replicas")
    }
    print(json.dumps(out))


def produce(bootstrap, topic, n, codec):
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "compression.codec": codec, "linger.ms": 5, "enable.idempotence": False})
    reports = {}

    def on_delivery(err, msg, i):
        reports[i] = [msg.partition(), msg.offset(), None if err is None else err.name()]

    for i in range(n):
        headers = [("i", str(i).encode()), ("codec", codec.encode())]
        p.produce(topic, key=("key-%d" % i).encode(), value=("%s-value-%d-%s" % (codec, i, "p" * (i % 23))).encode(), headers=headers, partition=i % 3,
                  on_delivery=lambda err, msg, i=i: on_delivery(err, msg, i))
        p.poll(0)
    left = p.flush(DEADLINE_S)
    print(json.dumps({"undelivered": left, "reports": [reports.get(i) for i in range(n)]}))


def record(m):
    hs = m.headers() or []
    return [m.partition(), m.offset(), text(m.key()), text(m.value()), [[k, text(v)] for k, v in hs], m.timestamp()[1]]


def drain(c, n):
    got = []
    errors = []
    deadline = time.time() + DEADLINE_S
    while len(got) < n and time.time() < deadline:
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            if m.error().code() != KafkaError._PARTITION_EOF:
                errors.append(m.error().name())
            continue
        got.append(record(m))
    return got, errors


def consume_assign(bootstrap, topic, n):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused-assign-only", "enable.auto.commit": False, "enable.partition.eof": False})
    md = c.list_topics(topic, timeout=10)
    parts = sorted(md.topics[topic].partitions.keys())
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    got, errors = drain(c, n)
    c.close()
    print(json.dumps({"records": got, "errors": errors}))


def consume_group(bootstrap, topic, n):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "interop-confluent-group", "auto.offset.reset": "earliest", "session.timeout.ms": 10000, "enable.partition.eof": False})
    c.subscribe([topic])
    got, errors = drain(c, n)
    c.close()
    print(json.dumps({"records": got, "errors": errors}))


def main():
    bootstrap, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if cmd == "admin":
        admin(bootstrap, args[0])
    elif cmd == "produce":
        produce(bootstrap, args[0], int(args[1]), args[2])
    elif cmd == "consume-assign":
        consume_assign(bootstrap, args[0], int(args[1]))
    elif cmd == "consume-group":
        consume_group(bootstrap, args[0], int(args[1]))
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main()
