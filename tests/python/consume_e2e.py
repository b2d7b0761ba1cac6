"""Independent consumer for tests/producer_e2e.rs: kafka-python's KafkaConsumer, which checks
every batch's CRC-32C (check_crcs=True, its default), reads a topic back from the beginning of
every partition.

stdin:  one line `BOOTSTRAP TOPIC EXPECTED IDLE_MS EXTRA_MS`: read until EXPECTED records have
        arrived or IDLE_MS pass without a new one; then keep reading until EXTRA_MS pass without
        a new one (0: stop at EXPECTED), to catch records beyond the expected ones (duplicates).
stdout: the first line is `kafka-python VERSION`; then one line a record, sorted by partition
        and offset: `PARTITION OFFSET TIMESTAMP KEY VALUE HEADERS`, KEY and VALUE in hex (`-`
        for null, `~` for empty), HEADERS `-` when there are none, else `NAME=VALUE` pairs
        joined by `,` with the name and value in hex (value `-` null, `~` empty).
"""
import sys
import time

import kafka
from kafka import KafkaConsumer, TopicPartition


def hx(b):
    if b is None:
        return "-"
    if isinstance(b, str):
        b = b.encode()
    return b.hex() or "~"


def main():
    bootstrap, topic, expected, idle_ms, extra_ms = sys.stdin.read().split()
    expected, idle_ms, extra_ms = int(expected), int(idle_ms), int(extra_ms)
    consumer = KafkaConsumer(
        bootstrap_servers=[bootstrap],
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        check_crcs=True,
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    partitions = consumer.partitions_for_topic(topic) or set()
    deadline = time.monotonic() + 20
    while not partitions and time.monotonic() < deadline:
        time.sleep(0.1)
        partitions = consumer.partitions_for_topic(topic) or set()
    if not partitions:
        sys.exit(f"topic {topic} has no partitions on {bootstrap}")
    consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
    consumer.seek_to_beginning()
    records = []

    def read(until_count, quiet_ms):
        last = time.monotonic()
        while until_count is None or len(records) < until_count:
            batch = consumer.poll(timeout_ms=100)
            got = [m for msgs in batch.values() for m in msgs]
            if got:
                records.extend(got)
                last = time.monotonic()
            elif (time.monotonic() - last) * 1000 >= quiet_ms:
                return

    read(expected, idle_ms)
    if extra_ms > 0:
        read(None, extra_ms)
    consumer.close()
    print("kafka-python", kafka.__version__)
    for m in sorted(records, key=lambda m: (m.partition, m.offset)):
        headers = ",".join(f"{hx(k)}={hx(v)}" for k, v in m.headers) or "-"
        print(m.partition, m.offset, m.timestamp, hx(m.key), hx(m.value), headers)


main()
