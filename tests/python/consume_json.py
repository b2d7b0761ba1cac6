"""Reads a topic back the way the seed's consumer would: kafka-python's KafkaConsumer with
`value_deserializer=lambda v: json.loads(v)` (CRCs checked), for tests/serialize.rs.

stdin:  `BOOTSTRAP TOPIC EXPECTED` (read until EXPECTED records, or 20 s without a new one).
stdout: one line a record, by partition and offset: `PARTITION KEY JSON`, the key as text and
        the value as parsed then dumped again with sorted keys (so the Rust side compares
        meaning, not bytes).
"""
import json
import sys

from kafka import KafkaConsumer, TopicPartition


def main():
    bootstrap, topic, expected = sys.stdin.read().split()
    consumer = KafkaConsumer(
        bootstrap_servers=[bootstrap],
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        check_crcs=True,
        consumer_timeout_ms=20000,
        value_deserializer=lambda v: json.loads(v),
        key_deserializer=lambda k: k.decode(),
    )
    consumer.assign([TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])])
    consumer.seek_to_beginning()
    records = []
    for msg in consumer:
        records.append(msg)
        if len(records) >= int(expected):
            break
    consumer.close()
    for m in sorted(records, key=lambda m: (m.partition, m.offset)):
        print(m.partition, m.key, json.dumps(m.value, sort_keys=True))


main()
