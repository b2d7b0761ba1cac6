"""The peers' side of scripts/bench: the seed's producer loop with kafka-python (the seed's own
client) or confluent-kafka (librdkafka), taking the same flags as this crate's CLI
(examples/producer.rs) and printing the same JSON summary as its last line of stdout.

    bench_producer.py --client kafka-python|confluent --bootstrap HOST:PORT --topic T
        --messages N [--acks 0|1|all] [--value-size B] [--create-keys] [--wait]
        [--max-in-flight N] [--linger-ms MS] [--batch-size BYTES] [--partitions P]

Values are the seed's `{"number": i}` JSON padded with spaces to --value-size bytes; keys (with
--create-keys) the message index in decimal. Timing runs from the first send to the last
delivery (flush), as the seed measured it; process start and imports are not in it (the
client's CPU time, measured by scripts/bench from outside, does include them).
"""

import argparse
import json
import sys
import time


def value(i, size):
    v = json.dumps({"number": i}).encode()
    return v + b" " * max(0, size - len(v))


def acks_of(s):
    return {"0": 0, "1": 1, "all": "all", "-1": "all"}[s]


def run_kafka_python(a):
    from kafka import KafkaProducer

    acks = acks_of(a.acks)
    producer = KafkaProducer(
        bootstrap_servers=a.bootstrap.split(","),
        acks=acks,
        linger_ms=a.linger_ms,
        batch_size=a.batch_size,
        max_in_flight_requests_per_connection=a.max_in_flight,
        retries=3,
    )
    delivered = failed = 0
    start = time.perf_counter()
    futures = []
    for i in range(a.messages):
        key = str(i).encode() if a.create_keys else None
        f = producer.send(a.topic, value=value(i, a.value_size), key=key)
        if a.wait:
            try:
                f.get(timeout=30)
                delivered += 1
            except Exception as e:  # noqa: BLE001 - counted and reported
                failed += 1
                print(f"delivery failed: {e}", file=sys.stderr)
        else:
            futures.append(f)
    producer.flush()
    for f in futures:
        if f.succeeded():
            delivered += 1
        else:
            failed += 1
    elapsed = time.perf_counter() - start
    producer.close()
    return delivered, failed, elapsed


def run_confluent(a):
    from confluent_kafka import Producer

    producer = Producer(
        {
            "bootstrap.servers": a.bootstrap,
            "acks": str(acks_of(a.acks)),
            "linger.ms": a.linger_ms,
            "batch.size": a.batch_size,
            "max.in.flight.requests.per.connection": a.max_in_flight,
            "queue.buffering.max.messages": 2_000_000,
        }
    )
    counts = {"delivered": 0, "failed": 0}

    def on_delivery(err, _msg):
        counts["failed" if err else "delivered"] += 1

    start = time.perf_counter()
    for i in range(a.messages):
        key = str(i).encode() if a.create_keys else None
        while True:
            try:
                producer.produce(a.topic, value=value(i, a.value_size), key=key, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.001)
        if a.wait:
            producer.flush(30)
        else:
            producer.poll(0)
    producer.flush(60)
    elapsed = time.perf_counter() - start
    return counts["delivered"], counts["failed"], elapsed


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--client", required=True, choices=["kafka-python", "confluent"])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", default="test")
    p.add_argument("--messages", type=int, default=10_000)
    p.add_argument("--acks", default="1", choices=["0", "1", "all", "-1"])
    p.add_argument("--value-size", type=int, default=100)
    p.add_argument("--create-keys", action="store_true")
    p.add_argument("--wait", action="store_true")
    p.add_argument("--max-in-flight", type=int, default=5)
    p.add_argument("--linger-ms", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=16384)
    a = p.parse_args()
    run = run_kafka_python if a.client == "kafka-python" else run_confluent
    delivered, failed, elapsed = run(a)
    mb = a.messages * a.value_size / 1e6
    print(
        json.dumps(
            {
                "messages": a.messages,
                "delivered": delivered,
                "failed": failed,
                "elapsed_s": elapsed,
                "msgs_per_s": a.messages / elapsed,
                "mb_per_s": mb / elapsed,
            }
        )
    )
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
