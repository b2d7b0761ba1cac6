"""The record batches of a topic as stored by the broker: kafka-python's KafkaConsumer reads the
topic (CRCs checked) while every v2 batch it parses is noted, to tell what codec the producer
wrote each batch with (the records' own contents are checked by consume.py).

Used by tests/producer_tansu.rs through tests/common/mod.rs (run_python).

stdin:  one line `BOOTSTRAP TOPIC EXPECTED`: read until EXPECTED records have arrived (or 20 s
        without a new one), from the beginning of every partition.
stdout: one line a batch, in the order parsed: `CODEC RECORDS` (codec 0 none, 1 gzip,
        2 snappy, 3 lz4, 4 zstd).
"""
import sys

from kafka import KafkaConsumer, TopicPartition
from kafka.record import default_records

seen = {}
original_init = default_records.DefaultRecordBatch.__init__


def noting_init(self, buffer):
    original_init(self, buffer)
    # A batch may be parsed more than once (fetched again): keyed by offset and CRC.
    seen[(self.base_offset, self.crc)] = (self.compression_type, self.records_count)


default_records.DefaultRecordBatch.__init__ = noting_init


def main():
    bootstrap, topic, expected = sys.stdin.read().split()
    expected = int(expected)
    consumer = KafkaConsumer(
        bootstrap_servers=[bootstrap],
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        check_crcs=True,
        consumer_timeout_ms=20000,
    )
    partitions = consumer.partitions_for_topic(topic) or set()
    consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
    consumer.seek_to_beginning()
    n = 0
    for _ in consumer:
        n += 1
        if n >= expected:
            break
    consumer.close()
    for codec, count in seen.values():
        print(codec, count)


main()
