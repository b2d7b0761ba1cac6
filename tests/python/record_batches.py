"""kafka-python's own record batch code (kafka.record.default_records), as a peer.

Reads commands from stdin, one per line, and answers one line each on stdout:

  read <hex>    parse a v2 batch built elsewhere, check its CRC, and describe it
  build <json>  build a batch with DefaultRecordBatchBuilder from a JSON spec and print its hex
                (`"compression"`: the codec number, 0 when absent; kafka-python compresses
                with kafka.codec: gzip, xerial snappy, LZ4 frame, zstd)

  lz4linked <json>  build an uncompressed batch as `build` does, then compress its records with
                python-lz4's frame codec in the options Kafka never writes but a reader may meet:
                dependent (linked) blocks of at most 64 KiB, block and content checksums, no
                content size; fix the attributes, length and CRC-32C; print its hex

  zstdstream <json>  the same with zstd as Kafka's Java client streams it (`ZstdOutputStream`):
                a frame without its content size (python-zstandard, `write_content_size=False`)

Reading a compressed batch decompresses it with kafka-python's own codec code.

The description is the canonical text both sides produce (see describe()).
"""
import json
import sys

import struct

import lz4.frame
import zstandard
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from kafka.record.util import calc_crc32c


def opt_hex(b):
    return "null" if b is None else b.hex()


def describe(batch, crc_ok):
    parts = [
        "batch",
        "base_offset=%d" % batch.base_offset,
        "leader_epoch=%d" % batch.leader_epoch,
        "magic=%d" % batch.magic,
        "crc_ok=%s" % crc_ok,
        "attributes=%d" % batch.attributes,
        "compression=%d" % batch.compression_type,
        "timestamp_type=%d" % batch.timestamp_type,
        "transactional=%s" % batch.is_transactional,
        "control=%s" % batch.is_control_batch,
        "last_offset_delta=%d" % batch.last_offset_delta,
        "first_timestamp=%d" % batch.first_timestamp,
        "max_timestamp=%d" % batch.max_timestamp,
        "producer_id=%d" % batch.producer_id,
        "producer_epoch=%d" % batch.producer_epoch,
        "base_sequence=%d" % batch.base_sequence,
        "last_sequence=%d" % batch.last_sequence,
        "count=%d" % batch.records_count,
    ]
    lines = [" ".join(parts)]
    for r in batch:
        headers = ",".join("%s:%s" % (k.encode("utf-8").hex(), opt_hex(v)) for k, v in r.headers)
        lines.append(
            "record offset=%d timestamp=%d key=%s value=%s headers=[%s]"
            % (r.offset, r.timestamp, opt_hex(r.key), opt_hex(r.value), headers)
        )
    return " | ".join(lines)


def build(spec):
    b = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=spec.get("compression", 0),
        is_transactional=spec["transactional"],
        producer_id=spec["producer_id"],
        producer_epoch=spec["producer_epoch"],
        base_sequence=spec["base_sequence"],
        batch_size=1 << 30,
    )
    for i, r in enumerate(spec["records"]):
        key = None if r["key"] is None else bytes.fromhex(r["key"])
        value = None if r["value"] is None else bytes.fromhex(r["value"])
        headers = [
            (bytes.fromhex(k).decode("utf-8"), None if v is None else bytes.fromhex(v))
            for k, v in r["headers"]
        ]
        if b.append(i, timestamp=r["timestamp"], key=key, value=value, headers=headers) is None:
            raise SystemExit("kafka-python refused record %d" % i)
    return bytes(b.build())


def main():
    out = sys.stdout
    for line in sys.stdin:
        cmd, _, arg = line.rstrip("\n").partition(" ")
        if cmd == "read":
            batch = DefaultRecordBatch(bytes.fromhex(arg))
            crc_ok = batch.validate_crc()  # must come before iteration
            out.write(describe(batch, crc_ok) + "\n")
        elif cmd in ("lz4linked", "zstdstream"):
            plain = build(json.loads(arg))
            if cmd == "lz4linked":
                codec = 3
                records = lz4.frame.compress(
                    plain[61:],
                    block_size=lz4.frame.BLOCKSIZE_MAX64KB,
                    block_linked=True,
                    content_checksum=True,
                    block_checksum=True,
                    store_size=False,
                )
            else:
                codec = 4
                records = zstandard.ZstdCompressor(write_content_size=False).compress(plain[61:])
            batch = bytearray(plain[:61] + records)
            struct.pack_into(">i", batch, 8, len(batch) - 12)
            attributes = struct.unpack_from(">h", batch, 21)[0]
            struct.pack_into(">h", batch, 21, (attributes & ~7) | codec)
            struct.pack_into(">I", batch, 17, calc_crc32c(bytes(batch[21:])))
            out.write(bytes(batch).hex() + "\n")
        elif cmd == "build":
            out.write(build(json.loads(arg)).hex() + "\n")
        else:
            raise SystemExit("unknown command %r" % cmd)


if __name__ == "__main__":
    main()
