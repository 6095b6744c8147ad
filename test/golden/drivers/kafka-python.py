"""Drives kafka-python (pure Python, Debian's python3-kafka) against the capture fake broker.
It picks request versions from its own tables after guessing the broker's version, so its
fixtures cover older, non-flexible versions than librdkafka's.

    /usr/bin/python3 test/golden/drivers/kafka-python.py <port> <admin|producer|consumer>

Topic "golden-kp", client id "golden-kafka-python", group "golden-kp-group"; produced
records are key "k<i>" / value "golden-<i>" for i = 1..3 (what the golden tests expect).
"""
import sys
import time

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

port = int(sys.argv[1])
scenario = sys.argv[2]
servers = f"127.0.0.1:{port}"
client_id = "golden-kafka-python"
topic = "golden-kp"

if scenario == "admin":
    admin = KafkaAdminClient(bootstrap_servers=servers, client_id=client_id)
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)], timeout_ms=5000)
    admin.close()
elif scenario == "producer":
    p = KafkaProducer(bootstrap_servers=servers, client_id=client_id, acks="all", linger_ms=100)
    futures = [p.send(topic, key=f"k{i}".encode(), value=f"golden-{i}".encode()) for i in (1, 2, 3)]
    p.flush(10)
    for f in futures:
        f.get(timeout=10)
    p.close()
elif scenario == "consumer":
    c = KafkaConsumer(
        topic,
        bootstrap_servers=servers,
        client_id=client_id,
        group_id="golden-kp-group",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        heartbeat_interval_ms=300,
        session_timeout_ms=10000,
        fetch_max_wait_ms=100,
    )
    deadline = time.time() + 15
    got = False
    while time.time() < deadline and not got:
        for records in c.poll(timeout_ms=200).values():
            got = got or len(records) > 0
    if not got:
        raise SystemExit("no message consumed")
    c.commit()
    time.sleep(1.0)
    c.close()
else:
    raise SystemExit(f"unknown scenario {scenario}")
