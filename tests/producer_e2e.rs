//! Proof against real parts (issue #5): the producer's documented behaviour end to end, with
//! the Tokio transport, a real broker (Tansu, `common::broker`), and every record read back by
//! an independent consumer (kafka-python, which checks CRCs: Tansu does not;
//! `tests/python/consume_e2e.py`).
//!
//! - keyless strategies (round-robin, sticky, seeded random) put records where documented, and
//!   an explicit partition wins over each;
//! - `wait` after every `send` (acks=all): every ticket's partition and offset are where the
//!   consumer finds the record;
//! - nothing is sent before `flush` with a long linger, everything after it;
//! - null keys and values, empty ones, several headers (empty, null, non-UTF-8 values),
//!   explicit timestamps out of order and wall-clock ones read back exactly;
//! - a lost Produce response (a proxy in between drops it and closes the connection): with
//!   idempotence the resent batch is answered DUPLICATE_SEQUENCE_NUMBER, counted delivered,
//!   and stored once; without, stored twice (at least once, as Kafka documents);
//! - an idle connection closed under the producer (the proxy cuts it): the next `send`
//!   reconnects instead of failing;
//! - the broker killed (SIGKILL) mid-run, between requests or with one in flight, and
//!   restarted on the same port with persistent storage (`s3://` on a local `moto_server`):
//!   nothing acknowledged is lost; kept down until the producer gives up, the records of the
//!   batches given up on fail with a typed error and the later ones are delivered.
//!
//! Each test prints what it proved. No timed asserts: waits are only for things to arrive.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::XorShift64;
use common::broker::{Broker, Options};
use embedded_kafka::partition::{
    Murmur2, Partitioner, Random, RoundRobin, Sticky, partition_for_key,
};
use embedded_kafka::producer::{
    Acks, Buffers, Config, DeliveryError, DeliveryStatus, Producer, Record, Ticket,
};
use embedded_kafka::protocol::{ErrorCode, ProduceRequest, Request};
use embedded_kafka::record::Header;
use embedded_kafka::transport::tokio::{TokioClock, TokioDelay, TokioTcp};

/// A producer over Tokio with partitioner `P`: 2 topics, 4 batch buffers, 256 outcomes.
type E2eProducer<'a, P> = Producer<'a, TokioTcp, TokioClock, TokioDelay, P, 2, 4, 256>;

/// 4 KiB receive, 512 B transmit, 4 batch buffers of 16 KiB.
type E2eBuffers = Buffers<4096, 512, 16384, 4>;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime")
}

fn producer<'a, P: Partitioner>(
    partitioner: P,
    config: Config<'a>,
    buffers: &'a mut E2eBuffers,
) -> E2eProducer<'a, P> {
    Producer::new(
        &TokioTcp,
        TokioClock::new(),
        TokioDelay,
        partitioner,
        config,
        buffers,
    )
    .expect("a valid configuration")
}

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64
}

// ---------------------------------------------------------------------------------------------
// Reading back

/// A record as kafka-python read it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Consumed {
    partition: u32,
    offset: i64,
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

fn unhex_field(s: &str) -> Option<Vec<u8>> {
    match s {
        "-" => None,
        "~" => Some(Vec::new()),
        s => Some(common::unhex(s)),
    }
}

/// Reads `topic` back from the beginning with kafka-python: until `expected` records have come
/// (or 20 s without a new one), then on until `extra` passes without a new one (to catch
/// records beyond the expected ones: duplicates). Sorted by partition and offset.
fn consume(bootstrap: SocketAddr, topic: &str, expected: usize, extra: Duration) -> Vec<Consumed> {
    let out = common::run_python(
        "consume_e2e.py",
        format!(
            "{bootstrap} {topic} {expected} 20000 {}\n",
            extra.as_millis()
        )
        .as_bytes(),
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
                        let (k, v) = h.split_once('=').expect("name=value");
                        (unhex_field(k).unwrap_or_default(), unhex_field(v))
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

/// The consumed records by value (every test gives each record a unique value), each with how
/// many times it was read.
fn by_value(consumed: &[Consumed]) -> HashMap<Vec<u8>, Vec<&Consumed>> {
    let mut map: HashMap<Vec<u8>, Vec<&Consumed>> = HashMap::new();
    for c in consumed {
        let v = c
            .value
            .clone()
            .expect("every record of these tests has a value");
        map.entry(v).or_default().push(c);
    }
    map
}

// ---------------------------------------------------------------------------------------------
// 1. Keyless strategies

const PARTITIONS: u32 = 3;

/// What one strategy run sent: each record's value, ticket partition, whether its partition
/// was explicit, and the batch reports (partition, records) in the order they came.
struct StrategyRun {
    sent: Vec<(Vec<u8>, u32, Option<u32>)>,
    reports: Vec<(u32, u32)>,
}

/// Sends `n` keyless records with `partitioner`; record `i` gets explicit partition
/// `explicit(i)` if any. Batches hold `batch_size` bytes, so they close as they fill.
fn run_strategy<P: Partitioner>(
    broker: &Broker,
    topic: &'static str,
    partitioner: P,
    n: usize,
    batch_size: usize,
    explicit: impl Fn(usize) -> Option<u32>,
) -> StrategyRun {
    let servers = [broker.addr()];
    let config = Config::new(&servers)
        .client_id("e2e-strategy")
        .acks(Acks::All)
        .linger_ms(60_000)
        .batch_size(batch_size);
    runtime().block_on(async {
        let mut buffers = E2eBuffers::new();
        let mut producer = producer(partitioner, config, &mut buffers);
        let mut sent = Vec::new();
        let mut reports = Vec::new();
        let mut tickets: Vec<Ticket<'_>> = Vec::new();
        for i in 0..n {
            let value = format!("{topic}-{i:04}").into_bytes();
            let mut record = Record::new(&value);
            if let Some(p) = explicit(i) {
                record = record.partition(p);
            }
            let ticket = producer
                .send(topic, record)
                .await
                .unwrap_or_else(|e| panic!("send {i}: {e}"));
            sent.push((value, ticket.partition, explicit(i)));
            tickets.push(ticket);
            producer.take_reports(|r| reports.push((r.partition, r.records)));
        }
        let summary = producer.flush().await.expect("flush");
        assert_eq!(summary.failed_batches, 0);
        producer.take_reports(|r| {
            assert!(r.result.is_ok(), "batch failed: {r:?}");
            reports.push((r.partition, r.records));
        });
        for (i, t) in tickets.iter().enumerate() {
            assert!(
                matches!(producer.delivery(t), DeliveryStatus::Delivered(_)),
                "record {i}: {:?}",
                producer.delivery(t)
            );
        }
        StrategyRun { sent, reports }
    })
}

/// Reads `topic` back and checks that every record is once where its ticket said, and that a
/// partition's records are in send order. Returns records per partition.
fn check_placement(broker: &Broker, topic: &str, run: &StrategyRun) -> Vec<usize> {
    let consumed = consume(broker.addr(), topic, run.sent.len(), Duration::ZERO);
    assert_eq!(
        consumed.len(),
        run.sent.len(),
        "every record read back once"
    );
    let found = by_value(&consumed);
    let mut last_offset: BTreeMap<u32, i64> = BTreeMap::new();
    for (value, partition, explicit) in &run.sent {
        let c = found
            .get(value)
            .unwrap_or_else(|| panic!("{} not read back", String::from_utf8_lossy(value)));
        assert_eq!(c.len(), 1, "read once");
        assert_eq!(c[0].partition, *partition, "on its ticket's partition");
        if let Some(p) = explicit {
            assert_eq!(c[0].partition, *p, "an explicit partition wins");
        }
        let last = last_offset.entry(*partition).or_insert(-1);
        assert!(c[0].offset > *last, "send order kept within a partition");
        *last = c[0].offset;
    }
    (0..PARTITIONS)
        .map(|p| run.sent.iter().filter(|s| s.1 == p).count())
        .collect()
}

/// Every 7th record explicitly to partition `(i / 7) % 3`.
fn every_7th(i: usize) -> Option<u32> {
    i.is_multiple_of(7).then_some((i / 7) as u32 % PARTITIONS)
}

/// Checks that the records the strategy placed took the partitions in turn, 0, 1, 2, 0, …,
/// and that the explicit ones are where they were sent (they do not advance the rotation).
fn assert_in_turn(run: &StrategyRun) {
    let mut turn = 0u32;
    for (i, (_, partition, explicit)) in run.sent.iter().enumerate() {
        if let Some(p) = explicit {
            assert_eq!(partition, p, "record {i}: explicit partition");
            continue;
        }
        assert_eq!(
            *partition,
            turn % PARTITIONS,
            "record {i}: round-robin turn {turn} (ticket partitions: {:?}; batch reports \
             (partition, records): {:?})",
            run.sent.iter().map(|s| s.1).collect::<Vec<_>>(),
            run.reports
        );
        turn += 1;
    }
}

#[test]
fn round_robin_puts_keyless_records_on_partitions_in_turn() {
    let broker = Broker::shared();
    let topic = "e2e-round-robin";
    broker.create_topic(topic, PARTITIONS);
    // Batches large enough for every record: they close at the flush only.
    let run = run_strategy(&broker, topic, RoundRobin::new(), 120, 16_384, every_7th);
    assert_in_turn(&run);
    let spread = check_placement(&broker, topic, &run);
    println!(
        "round-robin: {} keyless records ({} explicit) in {} batches, in turn over {PARTITIONS} \
         partitions, per partition {spread:?}; read back by kafka-python",
        run.sent.len(),
        run.sent.iter().filter(|s| s.2.is_some()).count(),
        run.reports.len()
    );
}

/// A record that does not fit its partition's full batch makes `send` seal that batch and send
/// it; the record then goes to the partition already chosen for it. Asking the partitioner
/// again there (as Kafka's Java client does, KAFKA-9965, fixed for its round-robin partitioner
/// only in 3.9, KAFKA-17632) makes round-robin skip a partition at every batch closing; here
/// only a partitioner that moved on when the batch closed (sticky) is asked again.
#[test]
fn round_robin_stays_in_turn_when_batches_fill() {
    let broker = Broker::shared();
    let topic = "e2e-round-robin-full";
    broker.create_topic(topic, PARTITIONS);
    // Small batches (~14 records): batches fill and close while records keep coming.
    let run = run_strategy(&broker, topic, RoundRobin::new(), 120, 400, every_7th);
    let spread = check_placement(&broker, topic, &run);
    println!(
        "round-robin with filling batches: {} records in {} batches, per partition {spread:?}",
        run.sent.len(),
        run.reports.len()
    );
    assert_in_turn(&run);
}

#[test]
fn sticky_keeps_a_batch_on_one_partition_and_moves_on_when_it_closes() {
    let broker = Broker::shared();
    let topic = "e2e-sticky";
    broker.create_topic(topic, PARTITIONS);
    // Keyless records only (an explicit record's batch closing on the sticky partition moves
    // it too, as in Java); small batches (~14 records) that fill as records come.
    let run = run_strategy(
        &broker,
        topic,
        Murmur2::new(Sticky::new(XorShift64::new(11))),
        150,
        400,
        |_| None,
    );
    // The records form runs on one partition; each run is exactly one batch (the batch
    // reports, in the order the batches closed), and the next run is on another partition.
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for (_, partition, _) in &run.sent {
        match runs.last_mut() {
            Some((p, count)) if p == partition => *count += 1,
            _ => runs.push((*partition, 1)),
        }
    }
    assert_eq!(runs, run.reports, "one run of records = one batch");
    assert!(runs.len() >= 5, "several batches closed: {runs:?}");
    for pair in runs.windows(2) {
        assert_ne!(
            pair[0].0, pair[1].0,
            "moved on to another partition: {runs:?}"
        );
    }
    // Every batch but the last was full: none holds much fewer records than the first.
    let full = runs[0].1;
    for r in &runs[..runs.len() - 1] {
        assert!(
            r.1 + 1 >= full,
            "only full batches close before the flush: {runs:?}"
        );
    }
    let used: std::collections::BTreeSet<u32> = runs.iter().map(|r| r.0).collect();
    assert_eq!(used.len(), PARTITIONS as usize, "over time every partition");
    let spread = check_placement(&broker, topic, &run);
    println!(
        "sticky: {} keyless records in {} batches, each batch's records on one partition and \
         every next batch on another (runs {runs:?}); per partition {spread:?}; read back by \
         kafka-python",
        run.sent.len(),
        runs.len(),
    );
}

#[test]
fn explicit_partition_wins_over_sticky() {
    let broker = Broker::shared();
    let topic = "e2e-sticky-explicit";
    broker.create_topic(topic, PARTITIONS);
    let run = run_strategy(
        &broker,
        topic,
        Murmur2::new(Sticky::new(XorShift64::new(12))),
        100,
        400,
        every_7th,
    );
    let spread = check_placement(&broker, topic, &run);
    println!(
        "sticky with explicit partitions: {} records, {} explicit each where sent, per \
         partition {spread:?}; read back by kafka-python",
        run.sent.len(),
        run.sent.iter().filter(|s| s.2.is_some()).count()
    );
}

#[test]
fn seeded_random_spreads_keyless_records_as_its_rng_draws() {
    let broker = Broker::shared();
    let topic = "e2e-random";
    broker.create_topic(topic, PARTITIONS);
    let n = 300;
    // Batches of ~50 records: they fill as records come.
    let run = run_strategy(
        &broker,
        topic,
        Random::new(XorShift64::new(42)),
        n,
        1_500,
        every_7th,
    );
    // The same seed drawn by the same strategy alone: the producer places each record where
    // a draw says, in order. It may draw more than once for a record (after sealing a full
    // batch it asks again), never more often than batches closed.
    let mut twin = Random::new(XorShift64::new(42));
    let partitions = core::num::NonZeroU32::new(PARTITIONS).expect("nonzero");
    let mut extra_draws = 0;
    for (i, (_, partition, explicit)) in run.sent.iter().enumerate() {
        match explicit {
            Some(p) => assert_eq!(partition, p, "record {i}: explicit partition"),
            None => {
                while twin.partition(topic, None, partitions) != *partition {
                    extra_draws += 1;
                    assert!(
                        extra_draws <= run.reports.len(),
                        "record {i}: not a seeded draw"
                    );
                }
            }
        }
    }
    let spread = check_placement(&broker, topic, &run);
    let keyless: Vec<usize> = (0..PARTITIONS)
        .map(|p| {
            run.sent
                .iter()
                .filter(|s| s.2.is_none() && s.1 == p)
                .count()
        })
        .collect();
    let total: usize = keyless.iter().sum();
    for &k in &keyless {
        assert!(
            k * PARTITIONS as usize * 2 > total,
            "spread: no partition under half its share: {keyless:?}"
        );
    }
    println!(
        "random (seed 42): {total} keyless records placed as the seeded RNG draws ({extra_draws} \
         extra draws at {} batch closings), per partition {keyless:?} (with explicit ones \
         {spread:?}); read back by kafka-python",
        run.reports.len()
    );
}

// ---------------------------------------------------------------------------------------------
// 2. wait after every send

#[test]
fn wait_after_each_send_gives_the_offsets_the_consumer_sees() {
    let broker = Broker::shared();
    let topic = "e2e-wait";
    broker.create_topic(topic, PARTITIONS);
    let n = 200;
    let servers = [broker.addr()];
    let config = Config::new(&servers)
        .client_id("e2e-wait")
        .acks(Acks::All)
        .linger_ms(60_000);
    let delivered: Vec<(Vec<u8>, Vec<u8>, u32, i64)> = runtime().block_on(async {
        let mut buffers = E2eBuffers::new();
        let mut producer = producer(
            Murmur2::new(Sticky::new(XorShift64::new(5))),
            config,
            &mut buffers,
        );
        let mut out = Vec::new();
        for i in 0..n {
            let key = format!("device-{}", i % 17).into_bytes();
            let value = format!("wait-{i:04}").into_bytes();
            let ticket = producer
                .send(topic, Record::new(&value).key(&key))
                .await
                .unwrap_or_else(|e| panic!("send {i}: {e}"));
            assert_eq!(ticket.partition, partition_for_key(&key, PARTITIONS));
            let d = producer
                .wait(&ticket)
                .await
                .unwrap_or_else(|e| panic!("wait {i}: {e}"))
                .unwrap_or_else(|e| panic!("record {i} not delivered: {e}"));
            assert_eq!((d.topic, d.partition), (topic, ticket.partition));
            let offset = d.offset.expect("acks=all: an offset");
            out.push((key, value, d.partition, offset));
        }
        out
    });
    // Per partition, offsets strictly increase in send order.
    let mut last: BTreeMap<u32, i64> = BTreeMap::new();
    for (i, (_, _, p, offset)) in delivered.iter().enumerate() {
        let prev = last.insert(*p, *offset);
        assert!(
            prev.is_none_or(|prev| *offset > prev),
            "record {i}: offset {offset} after {prev:?} on partition {p}"
        );
    }
    let consumed = consume(broker.addr(), topic, n, Duration::ZERO);
    assert_eq!(consumed.len(), n, "every record read back once");
    let found = by_value(&consumed);
    for (key, value, p, offset) in &delivered {
        let c = &found[value];
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].partition, c[0].offset, c[0].key.as_deref()),
            (*p, *offset, Some(&key[..])),
            "{}",
            String::from_utf8_lossy(value)
        );
    }
    println!(
        "wait mode: {n} keyed records, acks=all, each waited for before the next; every ticket's \
         partition and offset is where kafka-python read it; offsets strictly increasing per \
         partition {last:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. flush

#[test]
fn nothing_is_sent_before_flush_with_a_long_linger_and_everything_after() {
    let broker = Broker::shared();
    let topic = "e2e-flush";
    broker.create_topic(topic, PARTITIONS);
    let n = 90;
    let servers = [broker.addr()];
    let config = Config::new(&servers)
        .client_id("e2e-flush")
        .acks(Acks::All)
        .linger_ms(600_000)
        .delivery_timeout_ms(700_000);
    let rt = runtime();
    let mut buffers = E2eBuffers::new();
    let mut lingering = producer(RoundRobin::new(), config, &mut buffers);
    let values: Vec<Vec<u8>> = (0..n)
        .map(|i| format!("flush-{i:03}").into_bytes())
        .collect();
    let tickets: Vec<Ticket<'_>> = rt.block_on(async {
        let mut tickets = Vec::new();
        for (i, v) in values.iter().enumerate() {
            let ticket = lingering
                .send(topic, Record::new(v))
                .await
                .unwrap_or_else(|e| panic!("send {i}: {e}"));
            tickets.push(ticket);
        }
        // Idle calls send nothing either: the linger has not passed.
        lingering.poll().await.expect("poll");
        tickets
    });
    for t in &tickets {
        assert_eq!(lingering.delivery(t), DeliveryStatus::Pending);
    }
    assert_eq!(
        lingering.produce_requests(),
        0,
        "no Produce request before flush"
    );

    // Not a "nothing arrived within a while" check: another producer writes a marker to each
    // partition and waits for its offset. Had the lingering producer sent anything, it would
    // be stored before the markers; the consumer reads each partition from the start, so the
    // first records it finds are the markers, at offset 0.
    let markers: Vec<(u32, i64)> = rt.block_on(async {
        let mut buffers = E2eBuffers::new();
        let config = Config::new(&servers).client_id("e2e-marker");
        let mut marker = producer(RoundRobin::new(), config, &mut buffers);
        let mut out = Vec::new();
        for p in 0..PARTITIONS {
            let value = format!("marker-{p}").into_bytes();
            let t = marker
                .send(topic, Record::new(&value).partition(p))
                .await
                .expect("marker");
            let d = marker
                .wait(&t)
                .await
                .expect("wait")
                .expect("marker delivered");
            out.push((p, d.offset.expect("offset")));
        }
        out
    });
    let before = consume(broker.addr(), topic, PARTITIONS as usize, Duration::ZERO);
    let seen: Vec<(u32, i64, String)> = before
        .iter()
        .map(|c| {
            let v = c
                .value
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            (c.partition, c.offset, v.into_owned())
        })
        .collect();
    let want: Vec<(u32, i64, String)> = (0..PARTITIONS)
        .map(|p| (p, 0, format!("marker-{p}")))
        .collect();
    assert_eq!(
        seen, want,
        "before flush only the markers are stored: {markers:?}"
    );

    let summary = rt.block_on(lingering.flush()).expect("flush");
    assert_eq!(summary.records as usize, n);
    assert_eq!(summary.failed_batches, 0);
    for t in &tickets {
        assert!(matches!(
            lingering.delivery(t),
            DeliveryStatus::Delivered(_)
        ));
    }
    let after = consume(
        broker.addr(),
        topic,
        n + PARTITIONS as usize,
        Duration::ZERO,
    );
    assert_eq!(after.len(), n + PARTITIONS as usize);
    let found = by_value(&after);
    for (v, t) in values.iter().zip(&tickets) {
        let c = &found[v];
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].partition, t.partition);
        assert!(c[0].offset >= 1, "after the marker");
    }
    println!(
        "flush: {n} records held by a 600 s linger through {n} sends and a poll (0 Produce \
         requests; markers written meanwhile by another producer are the first records at \
         offset 0 of every partition); after flush() all {n} read back, in {} request(s)",
        summary.requests
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Record contents

/// One record of the contents test.
struct Contents {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(&'static str, Option<Vec<u8>>)>,
    timestamp: Option<i64>,
}

fn contents() -> Vec<Contents> {
    let binary: Vec<u8> = vec![0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x0a, 0x20, 0x2c, 0x3d];
    let mut out = vec![
        // Null key and null value together.
        Contents {
            key: None,
            value: None,
            headers: vec![("id", Some(b"0".to_vec()))],
            timestamp: Some(1_600_000_000_000),
        },
        // Empty key, empty value.
        Contents {
            key: Some(Vec::new()),
            value: Some(Vec::new()),
            headers: vec![("id", Some(b"1".to_vec()))],
            timestamp: None,
        },
        // Several headers: an empty value, a null value, non-UTF-8 bytes (with the consumer
        // output's separators in them), a repeated name, a non-ASCII name.
        Contents {
            key: Some(binary.clone()),
            value: Some(binary.clone()),
            headers: vec![
                ("id", Some(b"2".to_vec())),
                ("empty", Some(Vec::new())),
                ("null", None),
                ("binary", Some(binary.clone())),
                ("binary", Some(vec![0x00])),
                ("température", Some("21,5 °C".as_bytes().to_vec())),
            ],
            timestamp: None,
        },
        // Timestamps out of order within a batch: a negative delta from the batch's first.
        Contents {
            key: Some(b"late".to_vec()),
            value: Some(b"earlier than the first".to_vec()),
            headers: vec![("id", Some(b"3".to_vec()))],
            timestamp: Some(1_500_000_000_000),
        },
        Contents {
            key: None,
            value: Some(b"epoch".to_vec()),
            headers: vec![("id", Some(b"4".to_vec()))],
            timestamp: Some(0),
        },
        Contents {
            key: None,
            value: Some(b"far future".to_vec()),
            headers: vec![("id", Some(b"5".to_vec()))],
            timestamp: Some(4_102_444_800_000),
        },
        // No headers at all.
        Contents {
            key: Some(b"k".to_vec()),
            value: Some(b"no headers".to_vec()),
            headers: Vec::new(),
            timestamp: None,
        },
    ];
    // Many headers on one record.
    out.push(Contents {
        key: None,
        value: Some(b"many headers".to_vec()),
        headers: (0..20)
            .map(|i| {
                let name: &'static str = Box::leak(format!("h{i}").into_boxed_str());
                (name, (i % 3 != 0).then(|| vec![i as u8; i]))
            })
            .collect(),
        timestamp: None,
    });
    out
}

#[test]
fn null_and_empty_fields_headers_and_timestamps_read_back_exactly() {
    let broker = Broker::shared();
    let topic = "e2e-contents";
    // One partition: every record in one batch, in send order.
    broker.create_topic(topic, 1);
    let records = contents();
    let servers = [broker.addr()];
    let config = Config::new(&servers)
        .client_id("e2e-contents")
        .linger_ms(60_000);
    let (start, end) = (wall_ms(), std::cell::Cell::new(0));
    let sent: Vec<(i64, i64)> = runtime().block_on(async {
        let mut buffers = E2eBuffers::new();
        let mut producer = producer(
            Murmur2::new(Sticky::new(XorShift64::new(1))),
            config,
            &mut buffers,
        );
        let mut tickets = Vec::new();
        for r in &records {
            let headers: Vec<Header<'_>> = r
                .headers
                .iter()
                .map(|(k, v)| Header {
                    key: k,
                    value: v.as_deref(),
                })
                .collect();
            let mut record = Record::default().headers(&headers);
            record.key = r.key.as_deref();
            record.value = r.value.as_deref();
            if let Some(t) = r.timestamp {
                record = record.timestamp(t);
            }
            tickets.push(producer.send(topic, record).await.expect("send"));
        }
        let summary = producer.flush().await.expect("flush");
        assert_eq!((summary.batches, summary.failed_batches), (1, 0));
        end.set(wall_ms());
        tickets
            .iter()
            .map(|t| {
                let d = match producer.delivery(t) {
                    DeliveryStatus::Delivered(d) => d,
                    other => panic!("{other:?}"),
                };
                (d.offset.expect("offset"), t.timestamp)
            })
            .collect()
    });
    let consumed = consume(broker.addr(), topic, records.len(), Duration::ZERO);
    assert_eq!(consumed.len(), records.len());
    let mut wall = 0;
    for ((r, (offset, ticket_ts)), c) in records.iter().zip(&sent).zip(&consumed) {
        assert_eq!(c.offset, *offset, "offset as reported");
        assert_eq!(c.key, r.key, "key of {offset}");
        assert_eq!(c.value, r.value, "value of {offset}");
        let headers: Vec<(Vec<u8>, Option<Vec<u8>>)> = r
            .headers
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
            .collect();
        assert_eq!(c.headers, headers, "headers of {offset}");
        match r.timestamp {
            Some(t) => assert_eq!(c.timestamp, t, "explicit timestamp of {offset}"),
            None => {
                // The wall clock's time when it was sent: between before and after the run.
                assert_eq!(c.timestamp, *ticket_ts);
                assert!(
                    (start..=end.get()).contains(&c.timestamp),
                    "wall-clock timestamp {} within the run [{start}, {}]",
                    c.timestamp,
                    end.get()
                );
                wall += 1;
            }
        }
    }
    println!(
        "contents: {} records in one batch read back exactly: null key+value, empty key and \
         value, non-UTF-8 key/value/header bytes, 6 headers (empty, null, repeated name, \
         non-ASCII name), 20 headers, none; {} explicit timestamps (epoch 0, out of order, \
         2100) and {wall} wall-clock ones",
        records.len(),
        records.len() - wall
    );
}

// ---------------------------------------------------------------------------------------------
// 5. A lost Produce response: resend, idempotent and not

/// The record batches of one Produce request: (partition, batch bytes).
type RequestBatches = Vec<(i32, Vec<u8>)>;

/// A loopback TCP proxy in front of a broker that forwards everything, except that it drops
/// the responses to the first `drop` Produce requests it sees and then closes that connection
/// (the request itself reaches the broker: the records are stored, the producer never hears).
///
/// It reads the Produce responses it forwards with this crate's codec and keeps their
/// partitions' error codes, to show what the broker answered.
struct Proxy {
    addr: SocketAddr,
    produce_requests: Arc<AtomicU32>,
    dropped: Arc<AtomicU32>,
    produce_codes: Arc<Mutex<Vec<i16>>>,
    /// The record batches of every Produce request, in order: (partition, batch bytes).
    produce_batches: Arc<Mutex<Vec<RequestBatches>>>,
    /// Both ends of every connection so far, for [`cut`](Self::cut).
    open: Arc<Mutex<Vec<(TcpStream, TcpStream)>>>,
}

impl Proxy {
    fn start(listener: TcpListener, upstream: SocketAddr, drop: u32) -> Self {
        let addr = listener.local_addr().expect("proxy address");
        let produce_requests = Arc::new(AtomicU32::new(0));
        let dropped = Arc::new(AtomicU32::new(0));
        let budget = Arc::new(AtomicU32::new(drop));
        let produce_codes = Arc::new(Mutex::new(Vec::new()));
        let open: Arc<Mutex<Vec<(TcpStream, TcpStream)>>> = Arc::default();
        let open2 = open.clone();
        let (requests, drops, codes) = (
            produce_requests.clone(),
            dropped.clone(),
            produce_codes.clone(),
        );
        let produce_batches: Arc<Mutex<Vec<RequestBatches>>> = Arc::default();
        let batches = produce_batches.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                if let (Ok(c), Ok(s)) = (client.try_clone(), server.try_clone()) {
                    open2.lock().expect("lock").push((c, s));
                }
                // The correlation id whose response is to be dropped on this connection.
                let doomed: Arc<Mutex<Option<i32>>> = Arc::new(Mutex::new(None));
                // Produce requests in flight on this connection: correlation id -> version.
                let produces: Arc<Mutex<HashMap<i32, i16>>> = Arc::default();
                let produces2 = produces.clone();
                let (c2, s2) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                let (doomed2, budget2, requests2) =
                    (doomed.clone(), budget.clone(), requests.clone());
                let batches2 = batches.clone();
                // Requests: client -> broker.
                std::thread::spawn(move || {
                    let (mut from, mut to) = (c2, s2);
                    while let Some(frame) = read_frame(&mut from) {
                        let api_key = i16::from_be_bytes([frame[4], frame[5]]);
                        let correlation =
                            i32::from_be_bytes([frame[8], frame[9], frame[10], frame[11]]);
                        if api_key == 0 {
                            let version = i16::from_be_bytes([frame[6], frame[7]]);
                            produces2.lock().expect("lock").insert(correlation, version);
                            requests2.fetch_add(1, Ordering::SeqCst);
                            let (_, request) = ProduceRequest::decode_request(&frame[4..])
                                .expect("a Produce request the codec reads");
                            let sent = request
                                .topic_data
                                .iter()
                                .flat_map(|t| t.partition_data.iter())
                                .map(|p| (p.index, p.records.unwrap_or_default().to_vec()))
                                .collect();
                            batches2.lock().expect("lock").push(sent);
                            let take = budget2
                                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| {
                                    b.checked_sub(1)
                                })
                                .is_ok();
                            if take {
                                *doomed2.lock().expect("lock") = Some(correlation);
                            }
                        }
                        if to.write_all(&frame).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Write);
                });
                let drops = drops.clone();
                let codes = codes.clone();
                // Responses: broker -> client.
                std::thread::spawn(move || {
                    let (mut from, mut to) = (server, client);
                    while let Some(frame) = read_frame(&mut from) {
                        let correlation =
                            i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
                        let version = produces.lock().expect("lock").remove(&correlation);
                        if let Some(version) = version {
                            let (_, response) =
                                ProduceRequest::decode_response(&frame[4..], version)
                                    .expect("a Produce response the codec reads");
                            let mut codes = codes.lock().expect("lock");
                            for t in response.responses.iter() {
                                codes.extend(t.partition_responses.iter().map(|p| p.error_code));
                            }
                        }
                        if *doomed.lock().expect("lock") == Some(correlation) {
                            drops.fetch_add(1, Ordering::SeqCst);
                            let _ = to.shutdown(Shutdown::Both);
                            let _ = from.shutdown(Shutdown::Both);
                            return;
                        }
                        if to.write_all(&frame).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Both);
                });
            }
        });
        Self {
            addr,
            produce_requests,
            dropped,
            produce_codes,
            produce_batches,
            open,
        }
    }

    /// Closes every connection so far, both ways (as a broker closing idle connections does).
    fn cut(&self) -> usize {
        let mut open = self.open.lock().expect("lock");
        for (client, server) in open.iter() {
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
        }
        let n = open.len();
        open.clear();
        n
    }
}

/// One Kafka frame (the 4-byte size included), or `None` at end of stream.
fn read_frame(from: &mut TcpStream) -> Option<Vec<u8>> {
    let mut size = [0u8; 4];
    from.read_exact(&mut size).ok()?;
    let len = usize::try_from(i32::from_be_bytes(size)).ok()?;
    let mut frame = vec![0u8; 4 + len];
    frame[..4].copy_from_slice(&size);
    from.read_exact(&mut frame[4..]).ok()?;
    Some(frame)
}

fn lost_response(idempotent: bool) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the proxy");
    let proxy_addr = listener.local_addr().expect("proxy address");
    // The broker advertises the proxy: every connection the producer opens goes through it.
    let broker = Broker::start_with(&Options {
        advertised: Some(proxy_addr),
        ..Options::default()
    });
    let topic = if idempotent {
        "e2e-resend-idempotent"
    } else {
        "e2e-resend-plain"
    };
    broker.create_topic(topic, PARTITIONS);
    let proxy = Proxy::start(listener, broker.addr(), 1);
    let n = 60;
    let servers = [proxy.addr];
    let config = Config::new(&servers)
        .client_id("e2e-resend")
        .acks(Acks::All)
        .linger_ms(60_000)
        .retries(5)
        .retry_backoff_ms(50, 200)
        .request_timeout_ms(10_000)
        .enable_idempotence(idempotent);
    let values: Vec<Vec<u8>> = (0..n)
        .map(|i| format!("{topic}-{i:03}").into_bytes())
        .collect();
    let (first, retries, offsets) = runtime().block_on(async {
        let mut buffers = E2eBuffers::new();
        let mut producer = producer(
            Murmur2::new(Sticky::new(XorShift64::new(9))),
            config,
            &mut buffers,
        );
        // The first Produce request carries one record: its response is the one dropped.
        let key = b"first".to_vec();
        let t0 = producer
            .send(topic, Record::new(&values[0]).key(&key))
            .await
            .expect("send");
        let summary = producer
            .flush()
            .await
            .expect("the lost response is retried");
        assert_eq!(summary.failed_batches, 0, "{summary:?}");
        let first = match producer.delivery(&t0) {
            DeliveryStatus::Delivered(d) => d,
            other => panic!("the resent record must count as delivered: {other:?}"),
        };
        let mut tickets = vec![t0];
        for (i, v) in values.iter().enumerate().skip(1) {
            let key = format!("k{}", i % 5).into_bytes();
            tickets.push(
                producer
                    .send(topic, Record::new(v).key(&key))
                    .await
                    .expect("send"),
            );
            if i % 10 == 0 {
                producer.flush().await.expect("flush");
            }
        }
        let last = producer.flush().await.expect("flush");
        assert_eq!(last.failed_batches, 0);
        let offsets: Vec<Option<i64>> = tickets
            .iter()
            .map(|t| match producer.delivery(t) {
                DeliveryStatus::Delivered(d) => d.offset,
                other => panic!("{other:?}"),
            })
            .collect();
        (first.offset, summary.retries, offsets)
    });
    assert_eq!(
        proxy.dropped.load(Ordering::SeqCst),
        1,
        "one response dropped"
    );
    // The resend is the same bytes: the first two Produce requests carry the same batch
    // (with idempotence the same producer id, epoch and base sequence, which are in it).
    {
        let batches = proxy.produce_batches.lock().expect("lock");
        assert!(batches.len() >= 2);
        assert_eq!(batches[0].len(), 1, "the first request carries one batch");
        assert_eq!(batches[1], batches[0], "the batch was resent byte for byte");
    }
    // What the broker answered, partition by partition, to every Produce request.
    let codes = proxy.produce_codes.lock().expect("lock").clone();
    let duplicate = ErrorCode::DuplicateSequenceNumber.code();
    let answered_duplicate = codes.iter().filter(|&&c| c == duplicate).count();
    assert!(
        codes.iter().all(|&c| c == 0 || c == duplicate),
        "Produce answers: {codes:?}"
    );
    if idempotent {
        assert_eq!(
            answered_duplicate, 1,
            "the resend answered DUPLICATE_SEQUENCE_NUMBER: {codes:?}"
        );
    } else {
        assert_eq!(answered_duplicate, 0, "{codes:?}");
    }
    assert!(retries >= 1, "the batch was sent again");
    let expected = if idempotent { n } else { n + 1 };
    let consumed = consume(broker.addr(), topic, expected, Duration::from_secs(3));
    let found = by_value(&consumed);
    let mut duplicated = 0;
    for (i, v) in values.iter().enumerate() {
        let copies = found.get(v).map_or(0, Vec::len);
        assert!(copies >= 1, "record {i} lost");
        if copies > 1 {
            duplicated += copies - 1;
        }
        if let (Some(o), Some(c)) = (offsets[i], found.get(v)) {
            assert!(
                c.iter().any(|c| c.offset == o),
                "record {i}: reported offset {o}, read at {:?}",
                c.iter().map(|c| c.offset).collect::<Vec<_>>()
            );
        }
    }
    println!(
        "lost response{}: {n} records, {} Produce requests through the proxy, 1 response \
         dropped, {retries} retry (the same batch bytes resent); the resent batch counted delivered (offset reported: {:?}); \
         partition answers {codes:?}; read back {} records, {duplicated} duplicated{}",
        if idempotent {
            ", idempotent"
        } else {
            ", not idempotent"
        },
        proxy.produce_requests.load(Ordering::SeqCst),
        first,
        consumed.len(),
        if idempotent {
            " (the broker answered the resend with DUPLICATE_SEQUENCE_NUMBER)"
        } else {
            " (at least once, as Kafka documents without idempotence)"
        }
    );
    if idempotent {
        assert_eq!(duplicated, 0, "idempotence: every record stored once");
        assert_eq!(consumed.len(), n);
    } else {
        assert_eq!(duplicated, 1, "the resent record is stored twice");
        let copies = &found[&values[0]];
        assert_eq!(copies.len(), 2);
        assert_eq!(copies[0].partition, copies[1].partition);
    }
}

#[test]
fn a_lost_response_resent_with_idempotence_is_stored_once() {
    lost_response(true);
}

#[test]
fn a_lost_response_resent_without_idempotence_is_stored_twice() {
    lost_response(false);
}

/// A broker closes idle connections (Kafka after `connections.max.idle.ms`, 9 minutes by
/// default). Nothing is in flight on such a connection, so nothing is lost: the next `send`
/// must open a new connection, not fail.
#[test]
fn an_idle_connection_closed_by_the_broker_does_not_fail_the_next_send() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the proxy");
    let broker = Broker::start_with(&Options {
        advertised: Some(listener.local_addr().expect("proxy address")),
        ..Options::default()
    });
    let topic = "e2e-idle-close";
    broker.create_topic(topic, PARTITIONS);
    let proxy = Proxy::start(listener, broker.addr(), 0);
    let servers = [proxy.addr];
    let config = Config::new(&servers)
        .client_id("e2e-idle")
        .linger_ms(60_000);
    let rounds = 5;
    let values: Vec<Vec<u8>> = (0..rounds)
        .map(|i| format!("idle-{i}").into_bytes())
        .collect();
    let mut cut = 0;
    let offsets: Vec<(u32, i64)> = runtime().block_on(async {
        let mut buffers = E2eBuffers::new();
        let mut producer = producer(RoundRobin::new(), config, &mut buffers);
        let mut out = Vec::new();
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                // The broker closes the idle connection; the FIN is on its way before the
                // next call (a pause, not a timed assert: it only lets the close arrive).
                cut += proxy.cut();
                tokio::time::sleep(Duration::from_millis(100)).await;
                if i % 2 == 0 {
                    producer
                        .poll()
                        .await
                        .unwrap_or_else(|e| panic!("poll {i}: {e}"));
                }
            }
            let t = producer
                .send(topic, Record::new(v))
                .await
                .unwrap_or_else(|e| panic!("send {i} after the idle connection closed: {e}"));
            let d = producer
                .wait(&t)
                .await
                .unwrap_or_else(|e| panic!("wait {i}: {e}"))
                .unwrap_or_else(|e| panic!("record {i}: {e}"));
            out.push((d.partition, d.offset.expect("offset")));
        }
        out
    });
    let consumed = consume(broker.addr(), topic, rounds, Duration::ZERO);
    assert_eq!(consumed.len(), rounds);
    let found = by_value(&consumed);
    for (v, (p, o)) in values.iter().zip(&offsets) {
        assert_eq!((found[v][0].partition, found[v][0].offset), (*p, *o));
    }
    println!(
        "idle close: {rounds} records, {cut} idle connections closed under the producer between \
         them (every other time followed by poll()); every send reconnected and delivered, all \
         read back"
    );
}

// ---------------------------------------------------------------------------------------------
// 6. The broker killed and restarted

/// A local S3 stand-in (moto's `moto_server`, installed by `scripts/setup-python`) on a free
/// loopback port, killed on drop, or when the test process ends in any way (it runs under the
/// broker's watchdog shell).
struct S3 {
    port: u16,
    watchdog: Child,
    /// Closing this tells the watchdog to kill moto.
    lifeline: Option<ChildStdin>,
}

impl S3 {
    fn start() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = common::python();
        let moto = python.with_file_name("moto_server");
        assert!(
            moto.exists(),
            "no {}: run `{}/scripts/setup-python` (it installs moto[server] into .venv)",
            moto.display(),
            root.display()
        );
        for _ in 0..5 {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let log = Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("moto-{}-{port}.log", std::process::id()));
            let mut child = Command::new("/bin/sh")
                .args(["-c", common::broker::WATCHDOG, "moto-watchdog"])
                .arg(&moto)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("BROKER_LOG", &log)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {} under /bin/sh: {e}", moto.display()));
            let lifeline = child.stdin.take();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
                    return Self {
                        port,
                        watchdog: child,
                        lifeline,
                    };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            drop(lifeline);
            let _ = child.wait();
        }
        panic!(
            "moto_server did not start (its logs are in {})",
            env!("CARGO_TARGET_TMPDIR")
        );
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket (an unsigned path-style PUT, which moto takes).
    fn create_bucket(&self, bucket: &str) {
        let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).expect("moto");
        write!(
            s,
            "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n",
            self.port
        )
        .expect("PUT");
        let mut answer = String::new();
        s.read_to_string(&mut answer).expect("answer");
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "creating bucket {bucket}: {answer}"
        );
    }

    /// The broker's options for storage in `bucket`.
    fn broker_options(&self, bucket: &str, port: Option<u16>) -> Options {
        let env = [
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ENDPOINT", &self.endpoint()),
            ("AWS_ALLOW_HTTP", "true"),
        ];
        Options {
            storage: Some(format!("s3://{bucket}/")),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            port,
            ..Options::default()
        }
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        // End of file on the watchdog's stdin: it kills moto, and exits when moto has.
        drop(self.lifeline.take());
        let _ = self.watchdog.wait();
    }
}

/// How a record of the restart run ended.
#[derive(Debug, Default)]
struct Tally {
    sent: usize,
    /// `send` calls that failed (the record was not taken).
    send_failed: Vec<String>,
    delivered: usize,
    /// Records reported failed ([`DeliveryStatus::Failed`]), one line each.
    failed: Vec<String>,
    /// Records failed, by kind of [`DeliveryError`].
    failed_kinds: BTreeMap<String, usize>,
    /// `flush` calls that failed for good (their batches' records are in `failed`).
    flush_errors: Vec<String>,
    read_back: usize,
    duplicated: usize,
    /// Batches sent again (`FlushSummary::retries`).
    retries: u32,
}

/// When the broker dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Death {
    /// Between requests, with records waiting in open batches.
    Idle,
    /// With a Produce request in flight: the broker is stopped (SIGSTOP) first, so the next
    /// request is written but never answered, then killed 300 ms later.
    InFlight,
    /// Killed between requests, and started again only once the producer has given up on a
    /// batch (`retries` spent): those records fail, typed; the later ones must go through.
    GiveUp,
}

fn restart_run(idempotent: bool, death: Death) {
    let s3 = S3::start();
    let bucket = if idempotent {
        "tansu-idempotent"
    } else {
        "tansu-plain"
    };
    s3.create_bucket(bucket);
    let broker = Broker::start_with(&s3.broker_options(bucket, None));
    let port = broker.port();
    let topic = "e2e-restart";
    broker.create_topic(topic, PARTITIONS);
    let n = 300;
    let kill_at = n / 2;
    let servers = [broker.addr()];
    let config = Config::new(&servers)
        .client_id("e2e-restart")
        .acks(Acks::All)
        .linger_ms(60_000)
        // Enough retries to outlast a slow restart (~25 s), except where giving up is the point.
        .retries(if death == Death::GiveUp { 2 } else { 30 })
        .retry_backoff_ms(100, 1_000)
        .request_timeout_ms(10_000)
        .enable_idempotence(idempotent);
    // The producer tells the restarting thread when it has given up on a batch.
    let (gave_up, give_up) = std::sync::mpsc::channel::<()>();
    let (mut gave_up, mut give_up) = (Some(gave_up), Some(give_up));
    // And the thread tells the producer when the broker is back (only waited for then).
    let (is_back, back) = std::sync::mpsc::channel::<()>();
    let mut is_back = Some(is_back);
    let values: Vec<Vec<u8>> = (0..n)
        .map(|i| format!("restart-{i:04}").into_bytes())
        .collect();
    let mut tally = Tally::default();
    let mut delivered: Vec<(usize, u32, Option<i64>)> = Vec::new();
    let mut restarted = None;
    let mut broker = Some(broker);
    let rt = runtime();
    rt.block_on(async {
        let mut buffers = E2eBuffers::new();
        let mut producer = producer(
            Murmur2::new(Sticky::new(XorShift64::new(3))),
            config,
            &mut buffers,
        );
        let mut tickets: Vec<(usize, Ticket<'_>)> = Vec::new();
        for (i, v) in values.iter().enumerate() {
            if i == kill_at
                && let Some(mut dying) = broker.take()
            {
                // Records are waiting in open batches: the broker dies under them, and comes
                // back on the same port a moment later (in another thread, while the producer
                // carries on).
                if death == Death::InFlight {
                    let stopped = Command::new("kill")
                        .args(["-STOP", &dying.pid().to_string()])
                        .status()
                        .expect("kill -STOP");
                    assert!(stopped.success());
                } else {
                    dying.kill();
                }
                let options = s3.broker_options(bucket, Some(port));
                let give_up = give_up.take().expect("one restart");
                let is_back = is_back.take().expect("one restart");
                restarted = Some(std::thread::spawn(move || {
                    if death == Death::InFlight {
                        std::thread::sleep(Duration::from_millis(300));
                        dying.kill();
                    }
                    drop(dying);
                    if death == Death::GiveUp {
                        give_up
                            .recv_timeout(Duration::from_secs(120))
                            .expect("the producer gave up on a batch while the broker was down");
                    } else {
                        std::thread::sleep(Duration::from_millis(500));
                    }
                    let broker = Broker::start_with(&options);
                    let _ = is_back.send(());
                    broker
                }));
            }
            let key = format!("k{}", i % 11).into_bytes();
            tally.sent += 1;
            match producer.send(topic, Record::new(v).key(&key)).await {
                Ok(t) => tickets.push((i, t)),
                Err(e) => tally.send_failed.push(format!("record {i}: send: {e}")),
            }
            // A flush that fails for good: its batches are reported failed below.
            if i % 10 == 9 {
                match producer.flush().await {
                    Ok(summary) => tally.retries += summary.retries,
                    Err(e) => {
                        tally
                            .flush_errors
                            .push(format!("flush after record {i}: {e}"));
                        // The broker may come back now; carry on once it is (the producer
                        // must reconnect by itself).
                        if let Some(tx) = gave_up.take()
                            && death == Death::GiveUp
                        {
                            let _ = tx.send(());
                            back.recv_timeout(Duration::from_secs(60))
                                .expect("the broker restarted");
                        }
                    }
                }
            }
        }
        match producer.flush().await {
            Ok(summary) => tally.retries += summary.retries,
            Err(e) => tally.flush_errors.push(format!("final flush: {e}")),
        }
        for (i, t) in &tickets {
            match producer.delivery(t) {
                DeliveryStatus::Delivered(d) => {
                    tally.delivered += 1;
                    delivered.push((*i, d.partition, d.offset));
                }
                DeliveryStatus::Failed(e) => {
                    // Typed: the broker's code, no response (the record may be stored), or never
                    // sent (the broker could not be reached; not stored).
                    assert!(
                        matches!(
                            e,
                            DeliveryError::Broker { .. }
                                | DeliveryError::NoResponse { .. }
                                | DeliveryError::NotSent { .. }
                        ),
                        "record {i}: {e:?}"
                    );
                    tally.failed.push(format!("record {i}: {e}"));
                    let kind = match e {
                        DeliveryError::Broker { code, .. } => format!("{code:?}"),
                        other => format!("{other:?}")
                            .split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_owned(),
                    };
                    *tally.failed_kinds.entry(kind).or_default() += 1;
                }
                other => panic!("record {i}: {other:?} after the final flush"),
            }
        }
    });
    let broker = restarted
        .expect("the broker was restarted")
        .join()
        .expect("restart thread");
    assert_eq!(broker.port(), port);

    // Everything reported delivered is read back (records that failed may be there too).
    let consumed = consume(
        broker.addr(),
        topic,
        tally.delivered,
        Duration::from_secs(3),
    );
    let found = by_value(&consumed);
    tally.read_back = consumed.len();
    let mut lost = Vec::new();
    for (i, partition, offset) in &delivered {
        match found.get(&values[*i]) {
            None => lost.push(*i),
            Some(copies) => {
                assert!(copies.iter().all(|c| c.partition == *partition));
                if let Some(o) = offset {
                    assert!(
                        copies.iter().any(|c| c.offset == *o),
                        "record {i}: reported at offset {o}, read at {:?}",
                        copies.iter().map(|c| c.offset).collect::<Vec<_>>()
                    );
                }
            }
        }
    }
    tally.duplicated = found.values().map(|c| c.len() - 1).sum();
    println!(
        "broker SIGKILLed {} at record {kill_at} and restarted on port {port} (s3 storage \
         on moto){}: sent {}, send failed {}, delivered {}, failed {} {:?}, read back {} \
         ({} distinct), duplicated {}, acknowledged but lost {}; batches sent again {}, \
         flushes failed {}",
        match death {
            Death::Idle => "between requests",
            Death::InFlight => "with a request in flight",
            Death::GiveUp => "until the producer gave up on a batch",
        },
        if idempotent { ", idempotent" } else { "" },
        tally.sent,
        tally.send_failed.len(),
        tally.delivered,
        tally.failed.len(),
        tally.failed_kinds,
        tally.read_back,
        found.len(),
        tally.duplicated,
        lost.len(),
        tally.retries,
        tally.flush_errors.len()
    );
    let lines: Vec<&String> = tally
        .send_failed
        .iter()
        .chain(&tally.flush_errors)
        .chain(&tally.failed)
        .collect();
    for f in lines.iter().take(12) {
        println!("  {f}");
    }
    if lines.len() > 12 {
        println!("  … and {} more", lines.len() - 12);
    }
    assert!(lost.is_empty(), "acknowledged records lost: {lost:?}");
    assert_eq!(
        tally.sent,
        tally.delivered + tally.send_failed.len() + tally.failed.len(),
        "every record accounted for"
    );
    if death == Death::GiveUp {
        assert!(
            !tally.failed.is_empty(),
            "records of the batches given up on are reported failed"
        );
    }
    assert!(
        tally.delivered > kill_at,
        "the producer reconnected and delivered after the restart"
    );
    if idempotent {
        assert_eq!(tally.duplicated, 0, "idempotence: no duplicates");
    }
}

#[test]
fn broker_killed_and_restarted_loses_nothing_acknowledged() {
    restart_run(false, Death::Idle);
}

#[test]
fn broker_killed_and_restarted_idempotent_loses_and_duplicates_nothing() {
    restart_run(true, Death::Idle);
}

#[test]
fn broker_killed_with_a_request_in_flight_loses_nothing_acknowledged() {
    restart_run(false, Death::InFlight);
}

#[test]
fn broker_killed_with_a_request_in_flight_idempotent_loses_and_duplicates_nothing() {
    restart_run(true, Death::InFlight);
}

#[test]
fn broker_down_until_batches_fail_they_are_typed_and_later_records_delivered() {
    restart_run(false, Death::GiveUp);
}

/// With idempotence, a batch that failed for good leaves a gap in its partition's sequence
/// numbers: as Kafka's Java client (KIP-360), the producer bumps its epoch and numbers that
/// partition from 0 again, so the later records are delivered. The restarted Tansu has lost
/// its producer states and refuses the bump (UNKNOWN_SERVER_ERROR): the producer then takes a
/// new producer id. While the broker is down the bump cannot be made: the batches waiting for
/// it back off and fail within `retries`, and no flush returns with a record still pending.
#[test]
fn broker_down_until_batches_fail_idempotent_later_records_delivered() {
    restart_run(true, Death::GiveUp);
}
