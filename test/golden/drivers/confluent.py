"""Drives confluent-kafka-python (librdkafka) against the capture fake broker.

Run by test/golden/drivers/capture-all.sh with Debian's /usr/bin/python3:

    /usr/bin/python3 test/golden/drivers/confluent.py <port> <admin|producer|consumer>

Topic "golden-py", client id "golden-confluent", group "golden-py-group"; produced records
are key "k<i>" / value "golden-<i>" for i = 1..3 (what the golden tests expect).
"""
import sys
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

port = int(sys.argv[1])
scenario = sys.argv[2]
base = {"bootstrap.servers": f"127.0.0.1:{port}", "client.id": "golden-confluent"}
topic = "golden-py"

if scenario == "admin":
    admin = AdminClient(base)
    futures = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)], operation_timeout=5)
    for f in futures.values():
        f.result(timeout=10)
    for f in admin.describe_configs([ConfigResource("topic", topic)]).values():
        f.result(timeout=10)
    admin.list_groups(timeout=10)
elif scenario == "producer":
    p = Producer({**base, "acks": "all", "linger.ms": 100})
    for i in (1, 2, 3):
        p.produce(topic, key=f"k{i}", value=f"golden-{i}")
    left = p.flush(10)
    if left != 0:
        raise SystemExit(f"{left} messages not delivered")
elif scenario == "consumer":
    c = Consumer({
        **base,
        "group.id": "golden-py-group",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "heartbeat.interval.ms": 300,
        "session.timeout.ms": 10000,
        "fetch.wait.max.ms": 100,
    })
    c.subscribe([topic])
    deadline = time.time() + 15
    msg = None
    while time.time() < deadline:
        msg = c.poll(0.2)
        if msg is not None and msg.error() is None:
            break
    if msg is None or msg.error() is not None:
        raise SystemExit("no message consumed")
    c.commit(message=msg, asynchronous=False)
    time.sleep(1.0)
    c.close()
else:
    raise SystemExit(f"unknown scenario {scenario}")
