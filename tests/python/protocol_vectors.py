"""Writes tests/vectors/protocol_kafka_python.txt: whole request and response frames (size,
header, body) encoded by kafka-python's own protocol code, which is generated at run time from
its bundled copy of Kafka's JSON message definitions: a peer that shares the specs with us but
not a line of code.

Run with the .venv interpreter (scripts/setup-python):

    .venv/bin/python tests/python/protocol_vectors.py > tests/vectors/protocol_kafka_python.txt

Each line: <message> <version> <hex of the frame>. tests/protocol_golden.rs decodes every
frame, checks the values it must hold, and re-encodes it byte for byte.
"""
import kafka
from kafka.protocol.consumer import FetchRequest, FetchResponse
from kafka.protocol.metadata import (
    ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse,
)
from kafka.protocol.producer import ProduceRequest, ProduceResponse
from kafka.protocol.producer.transaction import InitProducerIdRequest, InitProducerIdResponse
from kafka.protocol.sasl import (
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
)
from kafka.record.default_records import DefaultRecordBatchBuilder

TOPIC_ID = bytes(range(1, 17))


def frame(msg, version, correlation_id=7, client_id="kafka-python"):
    msg.API_VERSION = version
    if msg.is_request():
        msg.with_header(correlation_id=correlation_id, client_id=client_id)
    else:
        msg.with_header(correlation_id=correlation_id)
    return msg.encode(header=True, framed=True)


def batch():
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                  producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                  batch_size=1 << 16)
    b.append(0, timestamp=1_700_000_000_000, key=b"sensor-7", value=b"21.5", headers=[])
    b.append(1, timestamp=1_700_000_000_500, key=None, value=b"21.7",
             headers=[("unit", b"C")])
    return bytes(b.build())


def main():
    import uuid
    tid = uuid.UUID(bytes=TOPIC_ID)
    out = []

    def emit(name, version, msg):
        out.append("%s %d %s" % (name, version, frame(msg, version).hex()))

    for v in (0, 3, 4):
        kw = {}
        if v >= 3:
            kw = dict(client_software_name="kafka-python", client_software_version="3.0.12")
        emit("ApiVersionsRequest", v, ApiVersionsRequest(**kw))
    for v in (0, 1, 3, 4):
        R = ApiVersionsResponse
        kw = dict(error_code=0, api_keys=[
            R.ApiVersion(api_key=0, min_version=3, max_version=11),
            R.ApiVersion(api_key=18, min_version=0, max_version=4),
        ])
        if v >= 1:
            kw["throttle_time_ms"] = 12
        if v >= 3:
            kw.update(
                supported_features=[R.SupportedFeatureKey(name="metadata.version", min_version=1,
                                                          max_version=21)],
                finalized_features_epoch=42,
                finalized_features=[R.FinalizedFeatureKey(name="metadata.version",
                                                          max_version_level=21,
                                                          min_version_level=21)],
                zk_migration_ready=True,
            )
        emit("ApiVersionsResponse", v, R(**kw))

    T = MetadataRequest.MetadataRequestTopic
    emit("MetadataRequest", 1, MetadataRequest(topics=None))
    emit("MetadataRequest", 4, MetadataRequest(topics=[T(name="sensors")],
                                               allow_auto_topic_creation=False))
    emit("MetadataRequest", 9, MetadataRequest(topics=[T(name="sensors"), T(name="alerts")],
                                               include_topic_authorized_operations=True))
    emit("MetadataRequest", 12, MetadataRequest(topics=[T(topic_id=tid, name=None)]))

    R = MetadataResponse
    for v in (1, 7, 9, 12):
        parts = [R.MetadataResponseTopic.MetadataResponsePartition(
            error_code=0, partition_index=i, leader_id=i + 1,
            leader_epoch=5 if v >= 7 else -1, replica_nodes=[1, 2, 3], isr_nodes=[1, 2],
            offline_replicas=[3] if v >= 5 else []) for i in range(2)]
        topic = dict(error_code=0, name="sensors", is_internal=False, partitions=parts)
        if v >= 10:
            topic["topic_id"] = tid
        kw = dict(brokers=[R.MetadataResponseBroker(node_id=1, host="broker-1", port=9092,
                                                    rack="rack-a"),
                           R.MetadataResponseBroker(node_id=2, host="broker-2", port=9093,
                                                    rack=None)],
                  controller_id=1, topics=[R.MetadataResponseTopic(**topic)])
        if v >= 2:
            kw["cluster_id"] = "cluster-0"
        if v >= 3:
            kw["throttle_time_ms"] = 0
        emit("MetadataResponse", v, R(**kw))

    records = batch()
    PD = ProduceRequest.TopicProduceData.PartitionProduceData
    for v in (3, 8, 9, 11):
        emit("ProduceRequest", v, ProduceRequest(
            transactional_id=None, acks=-1, timeout_ms=30000,
            topic_data=[ProduceRequest.TopicProduceData(
                name="sensors", partition_data=[PD(index=0, records=records),
                                                PD(index=1, records=None)])]))
    PR = ProduceResponse.TopicProduceResponse.PartitionProduceResponse
    for v in (3, 8, 9, 10):
        p = dict(index=0, error_code=0, base_offset=1234, log_append_time_ms=-1)
        if v >= 5:
            p["log_start_offset"] = 0
        if v >= 8:
            p["record_errors"] = [PR.BatchIndexAndErrorMessage(batch_index=1,
                                                               batch_index_error_message="bad")]
            p["error_message"] = "one record was bad"
        if v >= 10:
            p["current_leader"] = PR.LeaderIdAndEpoch(leader_id=2, leader_epoch=9)
        kw = dict(responses=[ProduceResponse.TopicProduceResponse(
            name="sensors", partition_responses=[PR(**p)])], throttle_time_ms=0)
        if v >= 10:
            kw["node_endpoints"] = [ProduceResponse.NodeEndpoint(node_id=2, host="broker-2",
                                                                 port=9093, rack=None)]
        emit("ProduceResponse", v, ProduceResponse(**kw))

    FT = FetchRequest.FetchTopic
    for v in (4, 7, 11, 12, 13, 15, 17):
        part = dict(partition=0, current_leader_epoch=5, fetch_offset=100, last_fetched_epoch=4,
                    log_start_offset=-1, partition_max_bytes=1 << 20)
        if v >= 17:
            part["replica_directory_id"] = tid
        topic = dict(topic_id=tid) if v >= 13 else dict(topic="sensors")
        kw = dict(replica_id=-1, max_wait_ms=500, min_bytes=1, max_bytes=50 << 20,
                  isolation_level=1, session_id=0, session_epoch=-1,
                  topics=[FT(partitions=[FT.FetchPartition(**part)], **topic)],
                  forgotten_topics_data=[], rack_id="")
        if v >= 7:
            gone = dict(topic_id=tid) if v >= 13 else dict(topic="old")
            kw.update(session_id=42, session_epoch=3,
                      forgotten_topics_data=[FetchRequest.ForgottenTopic(partitions=[1, 2], **gone)])
        if v >= 11:
            kw["rack_id"] = "rack-a"
        if v >= 12:
            kw["cluster_id"] = "cluster-0"
        if v >= 15:
            # Not at its default: kafka-python writes this tagged field even then (Kafka
            # leaves a default tagged field out, and so do both crates).
            kw["replica_state"] = FetchRequest.ReplicaState(replica_id=1, replica_epoch=5)
        emit("FetchRequest", v, FetchRequest(**kw))
    # The records: a whole batch, then the start of another cut short, as a broker sends at its
    # byte limit.
    fetched = records + records[:30]
    FR = FetchResponse.FetchableTopicResponse
    PDR = FR.PartitionData
    for v in (4, 11, 12, 13, 16):
        p = dict(partition_index=0, error_code=0, high_watermark=2, last_stable_offset=2,
                 log_start_offset=0, preferred_read_replica=-1, records=fetched,
                 aborted_transactions=[PDR.AbortedTransaction(producer_id=77, first_offset=1)])
        if v >= 11:
            p["preferred_read_replica"] = 3
        if v >= 12:
            p["diverging_epoch"] = PDR.EpochEndOffset(epoch=3, end_offset=90)
            p["current_leader"] = PDR.LeaderIdAndEpoch(leader_id=2, leader_epoch=9)
            p["snapshot_id"] = PDR.SnapshotId(end_offset=80, epoch=2)
        empty = dict(partition_index=1, error_code=1, high_watermark=-1, last_stable_offset=-1,
                     log_start_offset=-1, preferred_read_replica=-1, records=None,
                     aborted_transactions=None)
        topic = dict(topic_id=tid) if v >= 13 else dict(topic="sensors")
        kw = dict(throttle_time_ms=0, error_code=0, session_id=42 if v >= 7 else 0,
                  responses=[FR(partitions=[PDR(**p), PDR(**empty)], **topic)])
        if v >= 16:
            kw["node_endpoints"] = [FetchResponse.NodeEndpoint(node_id=2, host="broker-2",
                                                               port=9093, rack="rack-b")]
        emit("FetchResponse", v, FetchResponse(**kw))

    for v in (0, 2, 5):
        kw = dict(transactional_id=None, transaction_timeout_ms=60000)
        if v >= 3:
            kw.update(producer_id=77, producer_epoch=3)
        emit("InitProducerIdRequest", v, InitProducerIdRequest(**kw))
        emit("InitProducerIdResponse", v, InitProducerIdResponse(
            throttle_time_ms=0, error_code=0, producer_id=4000, producer_epoch=1))

    for v in (0, 1):
        emit("SaslHandshakeRequest", v, SaslHandshakeRequest(mechanism="PLAIN"))
        emit("SaslHandshakeResponse", v, SaslHandshakeResponse(
            error_code=0, mechanisms=["PLAIN", "SCRAM-SHA-256"]))
    for v in (0, 1, 2):
        emit("SaslAuthenticateRequest", v, SaslAuthenticateRequest(
            auth_bytes=b"\x00user\x00secret"))
        kw = dict(error_code=0, error_message=None, auth_bytes=b"")
        if v >= 1:
            kw["session_lifetime_ms"] = 3_600_000
        emit("SaslAuthenticateResponse", v, SaslAuthenticateResponse(**kw))

    print("# Frames encoded by kafka-python %s (tests/python/protocol_vectors.py)." % kafka.__version__)
    print("# <message> <version> <frame hex: size, header, body>")
    for line in out:
        print(line)


if __name__ == "__main__":
    main()
