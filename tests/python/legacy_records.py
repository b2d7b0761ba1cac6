"""kafka-python's own legacy message set code (kafka.record.legacy_records, magic 0 and 1), as
a peer for src/record/legacy.rs.

Reads commands from stdin, one per line, and answers one line each on stdout:

  read <hex>    walk a message set built elsewhere (kafka.record.MemoryRecords, which tells
                formats apart by the magic byte at offset 16, as RecordSets does), check each
                message's CRC-32, and describe every message
  build <json>  build a message set with LegacyRecordBatchBuilder from a JSON spec
                {"magic": 0|1, "compression": 0|1|2|3, "records": [{"offset", "timestamp",
                "key", "value"}]} and print its hex

The description is the canonical text both sides produce (see describe()): per message, its
offset, magic, whether the CRC matched, attributes, timestamp (v1), key and value in hex.
"""
import json
import sys

from kafka.record.legacy_records import LegacyRecordBatch, LegacyRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords


def opt_hex(b):
    return "null" if b is None else bytes(b).hex()


def describe(data):
    records = MemoryRecords(data)
    out = []
    while True:
        batch = records.next_batch()
        if batch is None:
            break
        assert isinstance(batch, LegacyRecordBatch), type(batch)
        crc_ok = batch.validate_crc()
        (record,) = list(batch)  # an uncompressed message is one record
        ts = "none" if batch.magic == 0 else "%d" % record.timestamp
        out.append(
            "message offset=%d magic=%d crc_ok=%s attributes=%d timestamp=%s key=%s value=%s"
            % (record.offset, batch.magic, crc_ok, batch._attributes, ts, opt_hex(record.key),
               opt_hex(record.value))
        )
    return " | ".join(out)


def build(spec):
    b = LegacyRecordBatchBuilder(magic=spec["magic"], compression_type=spec["compression"],
                                 batch_size=1 << 30)
    for r in spec["records"]:
        key = None if r["key"] is None else bytes.fromhex(r["key"])
        value = None if r["value"] is None else bytes.fromhex(r["value"])
        if b.append(r["offset"], timestamp=r["timestamp"], key=key, value=value) is None:
            raise SystemExit("kafka-python refused record at offset %d" % r["offset"])
    return bytes(b.build())


def main():
    out = sys.stdout
    for line in sys.stdin:
        cmd, _, arg = line.rstrip("\n").partition(" ")
        if cmd == "read":
            out.write(describe(bytes.fromhex(arg)) + "\n")
        elif cmd == "build":
            out.write(build(json.loads(arg)).hex() + "\n")
        else:
            raise SystemExit("unknown command %r" % cmd)


if __name__ == "__main__":
    main()
