"""An idempotent acks=all producer (confluent-kafka-python, librdkafka 2.0.2) for the
replication test and bench: produces `value-<n>` records to partition 0 of a topic at a
steady rate until stdin closes or a line arrives on it, then flushes.

    /usr/bin/python3 replication_producer.py <bootstrap> <topic> <records-per-second> [<partition>]

(partition 0 unless given).

Prints one JSON line per delivery report, in delivery order:
    {"v": "value-17", "o": 17, "t": <monotonic ms>, "e": null | "<error>"}
and a last line {"done": true, "sent": n, "undelivered": k} after the final flush.
"""
import json
import select
import sys
import time

from confluent_kafka import Producer


def main():
    bootstrap, topic, rate = sys.argv[1], sys.argv[2], float(sys.argv[3])
    partition = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    p = Producer({
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "message.timeout.ms": 120000,
        "request.timeout.ms": 5000,
        "retry.backoff.ms": 100,
        "reconnect.backoff.ms": 50,
        "reconnect.backoff.max.ms": 500,
        "topic.metadata.refresh.interval.ms": 1000,
    })
    out = sys.stdout

    def report(err, msg):
        out.write(json.dumps({
            "v": msg.value().decode(),
            "o": msg.offset() if err is None else -1,
            "t": time.monotonic() * 1000.0,
            "e": None if err is None else str(err),
        }) + "\n")
        out.flush()

    sent = 0
    interval = 1.0 / rate
    next_at = time.monotonic()
    while True:
        readable, _, _ = select.select([sys.stdin], [], [], 0)
        if readable:
            break
        now = time.monotonic()
        if now >= next_at:
            p.produce(topic, value=("value-%d" % sent).encode(), partition=partition, on_delivery=report)
            sent += 1
            next_at += interval
        p.poll(min(max(next_at - time.monotonic(), 0), 0.05))
    undelivered = p.flush(120)
    out.write(json.dumps({"done": True, "sent": sent, "undelivered": undelivered}) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
