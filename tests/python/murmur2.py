"""Differential-test peer: kafka-python's murmur2 and its DefaultPartitioner.

Used by tests/partition_kafka_python.rs through tests/common/mod.rs (run_python).

stdin:  the first line is `partitions N1 N2 ...`; then one key a line, in hex (an empty line is
        the empty key).
stdout: the first line is `kafka-python VERSION`; then one line a key, in input order:
        `H P1 P2 ...`, where H is kafka.partitioner.default.murmur2(key) exactly as kafka-python
        returns it (an unsigned 32-bit number, 0..2**32-1; Java's Utils.murmur2 returns the same
        bits as a signed int) and Pi is the partition DefaultPartitioner().partition(...) picks
        for the key in a topic of Ni partitions.
"""
import sys

import kafka
from kafka.partitioner.default import DefaultPartitioner, murmur2

TOPIC = "t"


class Cluster:
    """The part of kafka.cluster.ClusterMetadata that DefaultPartitioner reads."""

    def __init__(self, partitions):
        self._partitions = set(range(partitions))

    def topics(self):
        return {TOPIC}

    def partitions_for_topic(self, topic):
        return self._partitions

    def available_partitions_for_topic(self, topic):
        return self._partitions


def main():
    lines = sys.stdin.buffer.read().split(b"\n")
    header = lines[0].split()
    if not header or header[0] != b"partitions":
        sys.exit("first line must be `partitions N1 N2 ...`, got %r" % lines[0])
    clusters = [Cluster(int(n)) for n in header[1:]]
    keys = lines[1:]
    if keys and keys[-1] == b"":
        keys.pop()  # the newline that ends the last key

    partitioner = DefaultPartitioner()
    out = ["kafka-python %s" % kafka.__version__]
    for line in keys:
        key = bytes.fromhex(line.decode("ascii"))
        h = murmur2(key)
        if not 0 <= h < 2**32:
            sys.exit("murmur2(%r) = %d is not an unsigned 32-bit value" % (key, h))
        parts = [partitioner.partition(TOPIC, key, key, None, None, c) for c in clusters]
        out.append(" ".join(str(v) for v in [h] + parts))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
