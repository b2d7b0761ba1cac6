"""Independent consumer for the producer's end-to-end tests: kafka-python's KafkaConsumer,
which checks every batch's CRC-32C (check_crcs=True, its default), reads a topic back.

Used by tests/producer_tansu.rs through tests/common/mod.rs (run_python).

stdin:  one line `BOOTSTRAP TOPIC EXPECTED [CAFILE CERTFILE KEYFILE]`: read until EXPECTED records have arrived (or 20 s
        without a new one), from the beginning of every partition.
stdout: the first line is `kafka-python VERSION`; then one line a record, sorted by partition
        and offset: `PARTITION OFFSET TIMESTAMP KEY VALUE H1=V1,H2=V2`, with KEY, VALUE and header
        values in hex (`-` for null; an empty header list is `-`).
        With the three PEM files (tests/tls.rs), it connects with security_protocol=SSL,
        checking the broker's certificate and host name and presenting the client certificate.
"""
import sys

import kafka
from kafka import KafkaConsumer, TopicPartition


def hx(b):
    return "-" if b is None else (b.hex() or "~")


def main():
    bootstrap, topic, expected, *tls = sys.stdin.read().split()
    expected = int(expected)
    ssl = {}
    if tls:
        cafile, certfile, keyfile = tls
        ssl = dict(security_protocol="SSL", ssl_cafile=cafile, ssl_certfile=certfile,
                   ssl_keyfile=keyfile, ssl_check_hostname=True)
    consumer = KafkaConsumer(
        bootstrap_servers=[bootstrap],
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        check_crcs=True,
        consumer_timeout_ms=20000,
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
        **ssl,
    )
    partitions = consumer.partitions_for_topic(topic) or set()
    consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
    consumer.seek_to_beginning()
    records = []
    for msg in consumer:
        records.append(msg)
        if len(records) >= expected:
            break
    consumer.close()
    print("kafka-python", kafka.__version__)
    for m in sorted(records, key=lambda m: (m.partition, m.offset)):
        headers = ",".join(f"{k}={hx(v)}" for k, v in m.headers) or "-"
        print(m.partition, m.offset, m.timestamp, hx(m.key),
              hx(m.value), headers)


main()
