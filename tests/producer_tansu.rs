//! The producer end to end: Tokio transport, a private Tansu broker (`common::broker`), and
//! every record read back by an independent consumer (kafka-python, which checks CRCs:
//! Tansu does not) and compared with what was sent and what the delivery tickets said.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;

use common::XorShift64;
use common::broker::Broker;
use embedded_kafka::partition::{DefaultPartitioner, Murmur2, Sticky, partition_for_key};
use embedded_kafka::producer::{Acks, Buffers, Config, DeliveryStatus, Producer, Record, Ticket};
use embedded_kafka::record::{Compression, Header};
use embedded_kafka::transport::tokio::{TokioClock, TokioDelay, TokioDns, TokioTcp};

const PARTITIONS: u32 = 3;

type TestProducer<'a> = Producer<
    'a,
    TokioTcp,
    TokioClock,
    TokioDelay,
    DefaultPartitioner<XorShift64>,
    2,
    3,
    64,
    TokioDns,
>;

/// What was sent, as the consumer should see it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    /// Whether the partition was chosen by the caller.
    explicit: bool,
    headers: Vec<(String, Vec<u8>)>,
    timestamp: i64,
    partition: u32,
    offset: Option<i64>,
}

/// A record as the consumer read it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Consumed {
    partition: u32,
    offset: i64,
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Vec<u8>)>,
}

fn unhex_field(s: &str) -> Option<Vec<u8>> {
    match s {
        "-" => None,
        "~" => Some(Vec::new()),
        s => Some(common::unhex(s)),
    }
}

fn consume(broker: &Broker, topic: &str, expected: usize) -> Vec<Consumed> {
    let out = common::run_python(
        "consume.py",
        format!("{} {topic} {expected}\n", broker.bootstrap()).as_bytes(),
    );
    let out = String::from_utf8(out).expect("utf-8");
    let mut lines = out.lines();
    let version = lines.next().expect("a version line");
    assert!(version.starts_with("kafka-python "), "{version}");
    lines
        .map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            assert_eq!(f.len(), 6, "consumer line {line:?}");
            let headers = if f[5] == "-" {
                Vec::new()
            } else {
                f[5].split(',')
                    .map(|h| {
                        let (k, v) = h.split_once('=').expect("k=v");
                        (k.to_owned(), unhex_field(v).unwrap_or_default())
                    })
                    .collect()
            };
            Consumed {
                partition: f[0].parse().expect("partition"),
                offset: f[1].parse().expect("offset"),
                timestamp: f[2].parse().expect("timestamp"),
                key: unhex_field(f[3]),
                value: unhex_field(f[4]),
                headers,
            }
        })
        .collect()
}

/// Key, value, headers, timestamp and explicit partition of a record.
type Parts = (
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Vec<(String, Vec<u8>)>,
    Option<i64>,
    Option<u32>,
);

/// Record `i` of a run: every third keyless, the others keyed by one of 7 keys; every record
/// carries two headers (`seq` identifies it); every fifth an explicit timestamp (the others take
/// the wall clock's); every eleventh a null value; every thirteenth an explicit partition.
fn record_parts(run: &str, i: usize) -> Parts {
    let key = (!i.is_multiple_of(3)).then(|| format!("sensor-{}", i % 7).into_bytes());
    let value = (!i.is_multiple_of(11))
        .then(|| format!("{run}-reading-{i}:{}", 20.0 + i as f64 / 10.0).into_bytes());
    let headers = vec![
        ("seq".to_owned(), i.to_string().into_bytes()),
        ("run".to_owned(), run.as_bytes().to_vec()),
    ];
    let timestamp = i.is_multiple_of(5).then_some(1_700_000_000_000 + i as i64);
    let partition = i.is_multiple_of(13).then_some((i / 13) as u32 % PARTITIONS);
    (key, value, headers, timestamp, partition)
}

struct Run {
    expected: Vec<Expected>,
    requests: u32,
    strays: u32,
}

#[allow(clippy::too_many_arguments)]
async fn produce(
    addr: SocketAddr,
    topic: &str,
    acks: Acks,
    idempotent: bool,
    in_flight: u8,
    n: usize,
    run: &str,
    compression: Compression,
) -> Run {
    let servers = [addr];
    let config = Config::new(&servers)
        .client_id("producer-e2e")
        .acks(acks)
        .linger_ms(1_000)
        .batch_size(1024)
        .request_timeout_ms(10_000)
        .max_in_flight(in_flight)
        .enable_idempotence(idempotent)
        .compression(compression);
    let mut buffers = Buffers::<4096, 512, 1024, 3>::new();
    // One batch buffer's worth, for the whole producer (unused without compression).
    let mut scratch = [0u8; 1024];
    let connector = TokioTcp;
    let partitioner: DefaultPartitioner<_> = Murmur2::new(Sticky::new(XorShift64::new(7)));
    let mut producer: TestProducer<'_> = Producer::new(
        &connector,
        TokioClock::new(),
        TokioDelay,
        partitioner,
        config,
        &mut buffers,
    )
    .expect("valid configuration")
    .with_dns(TokioDns)
    .with_compression_scratch(&mut scratch);

    let mut sent: Vec<(Ticket<'_>, Expected)> = Vec::new();
    for i in 0..n {
        let (key, value, headers, timestamp, partition) = record_parts(run, i);
        let hs: Vec<Header<'_>> = headers.iter().map(|(k, v)| Header::new(k, v)).collect();
        let mut record = Record::default().headers(&hs);
        record.value = value.as_deref();
        if let Some(p) = partition {
            record = record.partition(p);
        }
        if let Some(k) = &key {
            record = record.key(k);
        }
        if let Some(t) = timestamp {
            record = record.timestamp(t);
        }
        let ticket = producer
            .send(topic, record)
            .await
            .unwrap_or_else(|e| panic!("send {i}: {e}"));
        match (&key, partition) {
            (_, Some(p)) => assert_eq!(ticket.partition, p, "record {i}"),
            (Some(k), None) => {
                assert_eq!(
                    ticket.partition,
                    partition_for_key(k, PARTITIONS),
                    "record {i}"
                )
            }
            (None, None) => {}
        }
        if let Some(t) = timestamp {
            assert_eq!(ticket.timestamp, t);
        } else {
            assert!(ticket.timestamp > 1_700_000_000_000, "wall clock timestamp");
        }
        sent.push((
            ticket,
            Expected {
                key,
                value,
                explicit: partition.is_some(),
                headers,
                timestamp: ticket.timestamp,
                partition: ticket.partition,
                offset: None,
            },
        ));
        // Now and then a flush in the middle, so batches of every size are sent.
        if i % 37 == 36 {
            producer.flush().await.expect("flush");
        }
    }
    let summary = producer.flush().await.expect("final flush");
    assert_eq!(summary.failed_batches, 0);
    assert_eq!(
        producer.producer_id().is_some(),
        idempotent,
        "InitProducerId"
    );
    let requests = producer.produce_requests();

    // The report style agrees: every record in exactly one delivered batch.
    let mut reported = 0;
    producer.take_reports(|r| {
        assert_eq!(r.topic, topic);
        match r.result {
            Ok(base) => assert_eq!(base.is_none(), acks == Acks::None),
            Err(e) => panic!("batch failed: {e}"),
        }
        reported += r.records as usize;
    });
    assert_eq!((reported, producer.reports_dropped()), (n, 0));

    let mut expected = Vec::new();
    for (ticket, mut e) in sent {
        match producer.delivery(&ticket) {
            DeliveryStatus::Delivered(d) => {
                assert_eq!((d.topic, d.partition), (topic, e.partition));
                assert_eq!(d.timestamp, e.timestamp);
                if acks == Acks::None {
                    assert_eq!(d.offset, None, "acks=0 reports no offset");
                } else {
                    e.offset = Some(d.offset.expect("acks≠0 reports an offset"));
                }
            }
            other => panic!("record {:?}: {other:?}", e.headers),
        }
        expected.push(e);
    }
    // Tansu answers acks=0 Produce requests: the answers are drained, never paired.
    let mut strays = producer.stray_responses();
    if acks == Acks::None {
        for _ in 0..100 {
            if strays >= requests {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            producer.poll().await.expect("poll drains stray responses");
            strays = producer.stray_responses();
        }
    }
    Run {
        expected,
        requests,
        strays,
    }
}

fn check(broker: &Broker, topic: &str, acks: Acks, idempotent: bool, in_flight: u8, n: usize) {
    check_compressed(
        broker,
        topic,
        acks,
        idempotent,
        in_flight,
        n,
        Compression::None,
    );
}

/// [`check`] with batches compressed by `compression` (`compression.type`); kafka-python
/// decompresses them (and checks their CRCs, which cover the compressed bytes).
fn check_compressed(
    broker: &Broker,
    topic: &str,
    acks: Acks,
    idempotent: bool,
    in_flight: u8,
    n: usize,
    compression: Compression,
) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let run = rt.block_on(produce(
        broker.addr(),
        topic,
        acks,
        idempotent,
        in_flight,
        n,
        topic,
        compression,
    ));
    let consumed = consume(broker, topic, n);
    assert_eq!(
        consumed.len(),
        n,
        "every record read back once (acks {acks:?})"
    );
    if compression != Compression::None {
        check_codecs(broker, topic, n, compression);
    }

    // Records are identified by their `seq` header (values may be null).
    let seq = |headers: &[(String, Vec<u8>)]| headers.first().map(|(_, v)| v.clone());
    let mut by_seq: HashMap<Option<Vec<u8>>, Consumed> = HashMap::new();
    for c in consumed {
        let dup = by_seq.insert(seq(&c.headers), c);
        assert!(dup.is_none(), "a record read twice: {dup:?}");
    }
    let mut keyed = 0;
    for e in &run.expected {
        let c = by_seq
            .get(&seq(&e.headers))
            .unwrap_or_else(|| panic!("record {:?} not read back", e.headers));
        assert_eq!(c.value, e.value);
        assert_eq!(c.key, e.key);
        assert_eq!(c.headers, e.headers);
        assert_eq!(c.timestamp, e.timestamp);
        assert_eq!(c.partition, e.partition, "partition of {:?}", e.headers);
        if let Some(k) = e.key.as_ref().filter(|_| !e.explicit) {
            assert_eq!(c.partition, partition_for_key(k, PARTITIONS));
            keyed += 1;
        }
        if let Some(offset) = e.offset {
            assert_eq!(c.offset, offset, "offset of {:?}", e.headers);
        }
    }
    // Each partition holds its records in the order they were sent.
    for p in 0..PARTITIONS {
        let offsets: Vec<i64> = run
            .expected
            .iter()
            .filter(|e| e.partition == p)
            .map(|e| by_seq[&seq(&e.headers)].offset)
            .collect();
        assert!(
            offsets.windows(2).all(|w| w[0] < w[1]),
            "partition {p} out of send order: {offsets:?}"
        );
    }
    let spread: Vec<usize> = (0..PARTITIONS)
        .map(|p| run.expected.iter().filter(|e| e.partition == p).count())
        .collect();
    println!(
        "acks {acks:?}{}, {compression:?}, {in_flight} in flight: {n} records ({keyed} keyed) in {} Produce \
         requests, per partition {spread:?}, all read back by kafka-python with CRCs checked; \
         stray acks=0 responses drained: {}",
        if idempotent { ", idempotent" } else { "" },
        run.requests,
        run.strays
    );
    if acks == Acks::None {
        assert_eq!(
            run.strays, run.requests,
            "Tansu answers every acks=0 Produce request; each answer is drained and counted"
        );
    } else {
        assert_eq!(run.strays, 0);
    }
}

/// The batches stored in `topic` were written with `codec`: every batch of several records
/// (a batch of one or two short records may not get smaller, and then goes as it was built).
fn check_codecs(broker: &Broker, topic: &str, n: usize, codec: Compression) {
    let out = common::run_python(
        "batch_codecs.py",
        format!("{} {topic} {n}\n", broker.bootstrap()).as_bytes(),
    );
    let out = String::from_utf8(out).expect("utf-8");
    let batches: Vec<(u8, usize)> = out
        .lines()
        .map(|line| {
            let (c, r) = line.split_once(' ').expect("CODEC RECORDS");
            (c.parse().expect("codec"), r.parse().expect("records"))
        })
        .collect();
    assert!(!batches.is_empty(), "no batch seen in {topic}");
    let stored: usize = batches.iter().map(|&(_, r)| r).sum();
    assert_eq!(stored, n, "records in the batches of {topic}");
    for &(c, records) in &batches {
        if records >= 3 {
            assert_eq!(c, codec.code(), "a batch of {records} records in {topic}");
        }
    }
    let compressed = batches.iter().filter(|&&(c, _)| c == codec.code()).count();
    println!(
        "{topic}: {compressed} of {} batches stored {codec:?}-compressed",
        batches.len()
    );
    assert!(compressed * 2 > batches.len(), "{batches:?}");
}

const N: usize = 300;

#[test]
fn acks_1_every_record_read_back_where_and_as_reported() {
    let broker = Broker::shared();
    broker.create_topic("e2e-acks-1", PARTITIONS);
    check(&broker, "e2e-acks-1", Acks::Leader, false, 1, N);
}

#[test]
fn acks_all_every_record_read_back_where_and_as_reported() {
    let broker = Broker::shared();
    broker.create_topic("e2e-acks-all", PARTITIONS);
    check(&broker, "e2e-acks-all", Acks::All, false, 1, N);
}

#[test]
fn acks_0_every_record_read_back_and_stray_answers_drained() {
    let broker = Broker::shared();
    broker.create_topic("e2e-acks-0", PARTITIONS);
    check(&broker, "e2e-acks-0", Acks::None, false, 1, N);
}

#[test]
fn idempotent_every_record_read_back_where_and_as_reported() {
    let broker = Broker::shared();
    broker.create_topic("e2e-idempotent", PARTITIONS);
    check(&broker, "e2e-idempotent", Acks::All, true, 1, N);
}

#[test]
fn pipelined_5_in_flight_every_record_read_back_where_and_as_reported() {
    let broker = Broker::shared();
    broker.create_topic("e2e-pipelined", PARTITIONS);
    check(&broker, "e2e-pipelined", Acks::Leader, false, 5, N);
}

#[test]
fn idempotent_pipelined_5_in_flight_every_record_read_back_in_order() {
    let broker = Broker::shared();
    broker.create_topic("e2e-idempotent-pipelined", PARTITIONS);
    check(&broker, "e2e-idempotent-pipelined", Acks::All, true, 5, N);
}

/// `compression.type`: every codec built in, acks=all, keyed records with headers (the run's
/// records), each read back by kafka-python; LZ4 also with idempotence (the epoch and
/// sequences live in the header, which stays uncompressed).
#[cfg(feature = "lz4")]
#[test]
fn lz4_every_record_read_back_where_and_as_reported() {
    let broker = Broker::shared();
    broker.create_topic("e2e-lz4", PARTITIONS);
    check_compressed(&broker, "e2e-lz4", Acks::All, false, 1, N, Compression::Lz4);
}

#[cfg(feature = "lz4")]
#[test]
fn lz4_idempotent_pipelined_every_record_read_back_in_order() {
    let broker = Broker::shared();
    broker.create_topic("e2e-lz4-idempotent", PARTITIONS);
    check_compressed(
        &broker,
        "e2e-lz4-idempotent",
        Acks::All,
        true,
        5,
        N,
        Compression::Lz4,
    );
}

#[cfg(feature = "gzip")]
#[test]
fn gzip_every_record_read_back_where_and_as_reported() {
    let broker = Broker::shared();
    broker.create_topic("e2e-gzip", PARTITIONS);
    check_compressed(
        &broker,
        "e2e-gzip",
        Acks::All,
        false,
        1,
        N,
        Compression::Gzip,
    );
}

#[cfg(feature = "snappy")]
#[test]
fn snappy_every_record_read_back_where_and_as_reported() {
    let broker = Broker::shared();
    broker.create_topic("e2e-snappy", PARTITIONS);
    check_compressed(
        &broker,
        "e2e-snappy",
        Acks::All,
        false,
        1,
        N,
        Compression::Snappy,
    );
}

#[cfg(feature = "zstd")]
#[test]
fn zstd_every_record_read_back_where_and_as_reported() {
    let broker = Broker::shared();
    broker.create_topic("e2e-zstd", PARTITIONS);
    check_compressed(
        &broker,
        "e2e-zstd",
        Acks::All,
        false,
        1,
        N,
        Compression::Zstd,
    );
}

#[test]
fn a_1_mib_value_is_delivered_and_read_back() {
    const VALUE: usize = 1 << 20;
    let broker = Broker::shared();
    broker.create_topic("e2e-big", PARTITIONS);
    let addr = broker.addr();
    // 2 MiB of batch buffer: a thread with a stack to hold the buffers.
    let (offset, value) = std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(move || {
            let value: Vec<u8> = (0..VALUE).map(|i| (i * 7 % 251) as u8).collect();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let offset = rt.block_on(async {
                let servers = [addr];
                let config = Config::new(&servers).batch_size(VALUE + 4096);
                let mut buffers = Box::new(Buffers::<4096, 512, { VALUE + 4096 }, 1>::new());
                let mut producer: Producer<'_, _, _, _, _, 1, 1, 4> = Producer::new(
                    &TokioTcp,
                    TokioClock::new(),
                    TokioDelay,
                    Murmur2::new(Sticky::new(XorShift64::new(3))),
                    config,
                    &mut buffers,
                )
                .expect("valid");
                let record = Record::new(&value).key(b"big").partition(2);
                let ticket = producer.send("e2e-big", record).await.expect("send");
                let delivery = producer
                    .wait(&ticket)
                    .await
                    .expect("flush")
                    .expect("delivered");
                delivery.offset.expect("acks=all: an offset")
            });
            (offset, value)
        })
        .expect("thread")
        .join()
        .expect("producer thread");
    let consumed = consume(&broker, "e2e-big", 1);
    assert_eq!(consumed.len(), 1);
    assert_eq!((consumed[0].partition, consumed[0].offset), (2, offset));
    assert_eq!(consumed[0].value.as_deref(), Some(&value[..]));
}

#[test]
fn ram_of_a_small_configuration() {
    // The documented small configuration: 1 topic, 1 broker connection, 2 partitions with a
    // 1 KiB batch each, 8 batch outcomes remembered, 1 KiB receive and 256 B transmit buffers.
    type Small<'a> =
        Producer<'a, TokioTcp, TokioClock, TokioDelay, DefaultPartitioner<XorShift64>, 1, 2, 8>;
    type SmallBuffers = Buffers<1024, 256, 1024, 2>;
    // The same with a connection to each of 3 brokers.
    type ThreeLeaders<'a> = Producer<
        'a,
        TokioTcp,
        TokioClock,
        TokioDelay,
        DefaultPartitioner<XorShift64>,
        1,
        2,
        8,
        embedded_kafka::producer::NoDns,
        3,
    >;
    let producer = core::mem::size_of::<Small<'static>>();
    let buffers = core::mem::size_of::<SmallBuffers>();
    let three = core::mem::size_of::<ThreeLeaders<'static>>();
    println!(
        "RAM, 1 topic, 1 connection, 2 partition batches of 1 KiB, 1 KiB receive, 256 B transmit: \
         producer {producer} B + buffers {buffers} B = {} B; with 3 connections the producer \
         takes {three} B",
        producer + buffers
    );
    assert_eq!(buffers, 1024 + 256 + 2 * 1024);
    // The producer's own state stays under 2 KiB beyond the caller's buffers; a change that
    // makes it grow must raise this bound on purpose.
    assert!(producer <= 2048, "producer state {producer} B");
    assert!(
        three <= producer + 2 * 512,
        "a connection costs {} B",
        (three - producer) / 2
    );
}

/// `acks=0` against Tansu, which answers anyway: 20,000 records, then `close`, then the
/// producer and its runtime are gone (as when a program exits). `close` reads every stray
/// answer before closing, so the connection ends cleanly (FIN, not a reset that would make
/// Tansu drop the requests it had not read yet), and every record is read back.
#[test]
fn acks_0_close_reads_the_answers_first_so_every_record_is_stored() {
    const N: usize = 20_000;
    let broker = Broker::shared();
    let topic = "e2e-acks0-close";
    broker.create_topic(topic, PARTITIONS);
    let addr = broker.addr();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (requests, strays) = rt.block_on(async {
        let servers = [addr];
        let config = Config::new(&servers)
            .client_id("acks0-close")
            .acks(Acks::None)
            .linger_ms(5)
            .batch_size(16_384)
            .request_timeout_ms(10_000);
        let mut buffers = Box::new(Buffers::<4096, 512, 16_384, 3>::new());
        let mut producer: Producer<'_, _, _, _, _, 1, 3, 64> = Producer::new(
            &TokioTcp,
            TokioClock::new(),
            TokioDelay,
            Murmur2::new(Sticky::new(XorShift64::new(5))),
            config,
            &mut buffers,
        )
        .expect("valid");
        let mut delivered = 0usize;
        for i in 0..N {
            let value = format!("close-{i:05}-{}", "x".repeat(80));
            producer
                .send(topic, Record::new(value.as_bytes()))
                .await
                .unwrap_or_else(|e| panic!("send {i}: {e}"));
            producer.take_reports(|r| {
                assert!(r.result.is_ok(), "{r:?}");
                delivered += r.records as usize;
            });
        }
        let summary = producer.close().await.expect("close");
        assert_eq!(summary.failed_batches, 0);
        producer.take_reports(|r| {
            assert!(r.result.is_ok(), "{r:?}");
            delivered += r.records as usize;
        });
        assert_eq!(delivered, N, "acks=0: every record written");
        assert_eq!(producer.connections(), 0, "closed");
        (producer.produce_requests(), producer.stray_responses())
    });
    drop(rt);
    // Tansu answers every acks=0 request: close read them all.
    assert_eq!(strays, requests, "every stray answer read before closing");
    let consumed = consume(&broker, topic, N);
    let mut seen: Vec<usize> = consumed
        .iter()
        .map(|c| {
            let v = String::from_utf8(c.value.clone().expect("a value")).expect("utf-8");
            v[6..11].parse().expect("a record number")
        })
        .collect();
    seen.sort_unstable();
    seen.dedup();
    println!(
        "acks=0: {N} records in {requests} requests, {strays} stray answers read by close, \
         {} read back ({} distinct)",
        consumed.len(),
        seen.len()
    );
    assert_eq!(seen.len(), N, "every record stored");
    assert_eq!(consumed.len(), N, "none twice");
}

/// SASL against Tansu (`BROKER.md`): without `--authentication` it has no SASL mechanism and
/// answers SaslHandshake UNSUPPORTED_SASL_MECHANISM (33): a clear error naming what it offers.
/// With `--authentication` it offers SCRAM-SHA-256/512; a login cannot succeed with memory
/// storage (no users are saved), and it answers the client-first message `e=unknown-user`: the
/// handshake and mechanism negotiation worked, and the failure is a typed, final error naming
/// the broker.
#[test]
fn sasl_handshake_and_scram_against_tansu_fail_clearly() {
    use embedded_kafka::producer::{Error, SecurityProtocol};
    use embedded_kafka::sasl::{Mechanism, SaslError, ServerError};

    let plain_broker = Broker::shared();
    let auth_broker = Broker::start_with(&common::broker::Options {
        args: vec!["--authentication".to_owned()],
        ..Default::default()
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let attempt = |addr: SocketAddr, mechanism: Mechanism| {
        rt.block_on(async {
            let servers = [addr];
            let config = Config::new(&servers)
                .security_protocol(SecurityProtocol::SaslPlaintext)
                .sasl(mechanism, "alice", "alice-secret")
                .batch_size(1024)
                .request_timeout_ms(10_000);
            let mut rng = XorShift64::new(99);
            let mut buffers = Buffers::<4096, 512, 1024, 1>::new();
            let mut producer: Producer<'_, _, _, _, _, 1, 1, 4> = Producer::new(
                &TokioTcp,
                TokioClock::new(),
                TokioDelay,
                Murmur2::new(Sticky::new(XorShift64::new(3))),
                config,
                &mut buffers,
            )
            .expect("valid")
            .with_sasl_rng(&mut rng);
            let e = producer
                .send("sasl", Record::new(b"v"))
                .await
                .expect_err("no login");
            (
                e.to_string(),
                format!("{e:?}"),
                e.is_retriable(),
                matches!(
                    e,
                    Error::Sasl {
                        error: SaslError::Server(ServerError::UnknownUser),
                        ..
                    }
                ),
                match e {
                    Error::SaslMechanism {
                        broker, offered, ..
                    } => Some((broker, offered.to_string())),
                    _ => None,
                },
            )
        })
    };
    // No SASL on this broker: the mechanism is refused, the list of offered ones given.
    let (text, debug, retriable, _, refused) = attempt(plain_broker.addr(), Mechanism::ScramSha256);
    println!("without --authentication: {text}");
    let (broker, offered) =
        refused.unwrap_or_else(|| panic!("UNSUPPORTED_SASL_MECHANISM: {debug}"));
    assert_eq!(broker, plain_broker.addr());
    assert!(
        text.contains("UNSUPPORTED_SASL_MECHANISM") && text.contains("SCRAM-SHA-256"),
        "{text}"
    );
    assert!(!retriable);
    assert!(!offered.is_empty(), "the broker's list: {text}");
    // PLAIN: Tansu closes the connection (BROKER.md); an error all the same.
    let (text, ..) = attempt(auth_broker.addr(), Mechanism::Plain);
    println!("--authentication, PLAIN: {text}");
    // With --authentication: SCRAM negotiated, the unknown user refused by the server.
    for mechanism in [Mechanism::ScramSha256, Mechanism::ScramSha512] {
        let (text, debug, retriable, unknown_user, _) = attempt(auth_broker.addr(), mechanism);
        println!("--authentication, {}: {text}", mechanism.name());
        assert!(unknown_user, "{debug}");
        assert!(!retriable, "a refused login is final");
        assert!(
            text.contains(&auth_broker.addr().to_string()) && text.contains(mechanism.name()),
            "{text}"
        );
    }
}

/// A producer over Tokio is `Send`: it can live in a task of a multi-threaded runtime (the
/// SCRAM random source it borrows must be `Send` for that).
#[test]
fn a_tokio_producer_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<TestProducer<'static>>();
}
