//! A hostile broker (issue #6), through the library's API: a scripted broker on real loopback
//! TCP (`common::hostile`) answers the producer's requests properly except that it answers
//! one API with a frame size of 0, -1 or 2 GiB, a wrong correlation id, random bytes, an HTTP
//! reply, half a response and a close, a response one byte per second, or nothing at all; or
//! a well-framed Produce response with a corrupt body; or Metadata without a usable leader.
//! Also the KIP-360 epoch bump, granted and refused (as Tansu 0.6.0 refuses it).
//!
//! Each must give a typed error (the producer call fails with the right [`Error`] variant, or
//! the records fail with a [`DeliveryError`]) when the broker always does it, and a reconnect
//! and delivery when it does it once; never a panic, a hang (each run is bounded, as an upper
//! limit only), or an unbounded buffer (the 2 GiB frame is refused from its size field: the
//! producer's receive buffer is 4 KiB and it reads no further).

mod common;

use std::time::Duration;

use common::hostile::{HostileBroker, Misbehaviour};
use embedded_kafka::partition::RoundRobin;
use embedded_kafka::producer::{
    Buffers, Config, DeliveryError, DeliveryStatus, Error, Producer, Record,
};
use embedded_kafka::protocol::{ApiKey, FrameError};
use embedded_kafka::transport::tokio::{TokioClock, TokioDelay, TokioTcp};

type HostileProducer<'a> = Producer<'a, TokioTcp, TokioClock, TokioDelay, RoundRobin, 1, 4, 64>;
type HostileBuffers = Buffers<4096, 512, 4096, 4>;

const REQUEST_TIMEOUT_MS: u32 = 2_000;

/// A hang, not a slow run, fails a run.
const BOUND: Duration = Duration::from_secs(120);

/// What one run against the hostile broker gave.
#[derive(Debug)]
struct Run {
    /// The first producer call that failed: its Debug and Display.
    error: Option<(String, String)>,
    /// Whether that error is the expected variant.
    typed: Option<bool>,
    /// Each record's outcome: delivered, or the delivery error.
    records: Vec<Result<(), DeliveryError>>,
    connections: u32,
}

/// Sends 3 records and flushes (idempotent when `idempotent`). `expected` says whether an
/// error from a call is the one the misbehaviour must give.
fn run(
    broker: &HostileBroker,
    idempotent: bool,
    expected: impl Fn(&Error<'_, std::io::Error>) -> bool,
) -> Run {
    run_within(broker, idempotent, 60_000, expected)
}

/// [`run`] with `delivery.timeout.ms` `delivery_timeout_ms`.
fn run_within(
    broker: &HostileBroker,
    idempotent: bool,
    delivery_timeout_ms: u32,
    expected: impl Fn(&Error<'_, std::io::Error>) -> bool,
) -> Run {
    let servers = [broker.addr()];
    let config = Config::new(&servers)
        .client_id("hostile")
        .enable_idempotence(idempotent)
        .request_timeout_ms(REQUEST_TIMEOUT_MS)
        .retries(2)
        .retry_backoff_ms(20, 100)
        .delivery_timeout_ms(delivery_timeout_ms)
        .batch_size(1024)
        .linger_ms(1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let mut out = Run {
        error: None,
        typed: None,
        records: Vec::new(),
        connections: 0,
    };
    let work = async {
        let mut buffers = HostileBuffers::new();
        let mut producer: HostileProducer<'_> = Producer::new(
            &TokioTcp,
            TokioClock::new(),
            TokioDelay,
            RoundRobin::new(),
            config,
            &mut buffers,
        )
        .expect("a valid configuration");
        let mut tickets = Vec::new();
        let note = |e: &Error<'_, std::io::Error>, out: &mut Run| {
            if out.error.is_none() {
                out.error = Some((format!("{e:?}"), e.to_string()));
                out.typed = Some(expected(e));
            }
        };
        for i in 0..3u8 {
            match producer.send("hostile", Record::new(&[i; 10])).await {
                Ok(t) => tickets.push(t),
                Err(e) => note(&e, &mut out),
            }
        }
        if let Err(e) = producer.flush().await {
            note(&e, &mut out);
        }
        for t in &tickets {
            out.records.push(match producer.delivery(t) {
                DeliveryStatus::Delivered(_) => Ok(()),
                DeliveryStatus::Failed(e) => Err(e),
                other => panic!("{other:?} after flush"),
            });
        }
    };
    rt.block_on(async {
        tokio::time::timeout(BOUND, work)
            .await
            .expect("the producer ended (no hang)")
    });
    out.connections = broker.connections();
    out
}

fn frame(e: &Error<'_, std::io::Error>, want: fn(&FrameError) -> bool) -> bool {
    matches!(e, Error::Frame { error, .. } if want(error))
}

/// The error each misbehaviour must give when it answers `api`.
fn expected(how: Misbehaviour, api: ApiKey) -> impl Fn(&Error<'_, std::io::Error>) -> bool {
    move |e| match how {
        Misbehaviour::ZeroLength => frame(e, |f| matches!(f, FrameError::TooShort { size: 0, .. })),
        Misbehaviour::NegativeLength => {
            frame(e, |f| matches!(f, FrameError::NegativeSize { size: -1 }))
        }
        Misbehaviour::HugeLength => frame(e, |f| {
            matches!(
                f,
                FrameError::BufferTooSmall {
                    needed: 0x7fff_ffff,
                    ..
                } | FrameError::TooLarge {
                    size: 0x7fff_ffff,
                    ..
                }
            )
        }),
        Misbehaviour::WrongCorrelation => {
            frame(e, |f| matches!(f, FrameError::CorrelationMismatch { .. }))
        }
        // Random bytes: whatever their first four say as a size, or a body that does not
        // decode; the connection goes either way.
        Misbehaviour::Garbage => matches!(e, Error::Frame { .. } | Error::Decode { .. }),
        // "HTTP" read as a size is 1,213,486,160 bytes.
        Misbehaviour::Http => frame(e, |f| {
            matches!(
                f,
                FrameError::BufferTooSmall {
                    needed: 0x4854_5450,
                    ..
                } | FrameError::TooLarge {
                    size: 0x4854_5450,
                    ..
                }
            )
        }),
        Misbehaviour::CutMidFrame => matches!(
            e,
            Error::Closed {
                mid_frame: true,
                ..
            }
        ),
        Misbehaviour::GarbageBody | Misbehaviour::HugeArray => {
            matches!(e, Error::Decode { api: a, .. } if *a == api)
        }
        // Whatever it is, it must be typed: printed below.
        Misbehaviour::NoLeader | Misbehaviour::LeaderNotListed => true,
        Misbehaviour::Slowloris | Misbehaviour::Silence => matches!(
            e,
            Error::Timeout { api: a, ms: REQUEST_TIMEOUT_MS, .. } if *a == api
        ),
    }
}

/// The broker always misbehaves on Produce: every record fails, typed, and the run ends.
#[test]
fn a_broker_that_always_answers_produce_badly_gives_typed_errors() {
    let mut table = Vec::new();
    for how in Misbehaviour::ALL {
        let broker = HostileBroker::start(ApiKey::Produce, how, u32::MAX);
        let r = run(&broker, false, expected(how, ApiKey::Produce));
        table.push(format!(
            "{how:?}: {} connections; call error: {}; records: {:?}",
            r.connections,
            r.error.as_ref().map_or("none", |e| e.1.as_str()),
            r.records
        ));
        assert_eq!(r.records.len(), 3, "{how:?}: every send took its record");
        for rec in &r.records {
            assert!(
                matches!(rec, Err(DeliveryError::NoResponse { .. })),
                "{how:?}: each record failed with no response: {r:?}"
            );
        }
        let (debug, _) = r
            .error
            .as_ref()
            .unwrap_or_else(|| panic!("{how:?}: the flush reported no error: {r:?}"));
        assert_eq!(r.typed, Some(true), "{how:?}: wrong error {debug}");
        // Retried (2 retries): the first attempt and two more, each on a new connection.
        assert!(r.connections >= 3, "{how:?}: {r:?}");
        if how == Misbehaviour::HugeLength {
            // The 2 GiB frame was refused from its size: the producer read at most what the
            // socket buffers took (a few MiB at most), never the 2 GiB.
            assert!(broker.huge_bytes() < 64 << 20, "{}", broker.huge_bytes());
            table.push(format!(
                "  (of the 64 MiB body offered, {} bytes left the broker's socket, over {} \
                 connections)",
                broker.huge_bytes(),
                r.connections
            ));
        }
    }
    println!(
        "a broker always misbehaving on Produce:\n  {}",
        table.join("\n  ")
    );
}

/// The broker misbehaves once on Produce: the producer drops that connection, opens another
/// and delivers every record (idempotent: the resent batch keeps its sequence).
#[test]
fn a_broker_that_answers_produce_badly_once_is_reconnected_to() {
    let mut table = Vec::new();
    for how in Misbehaviour::ALL {
        for idempotent in [false, true] {
            let broker = HostileBroker::start(ApiKey::Produce, how, 1);
            let r = run(&broker, idempotent, expected(how, ApiKey::Produce));
            table.push(format!(
                "{how:?}{}: {} connections, records {:?}",
                if idempotent { " (idempotent)" } else { "" },
                r.connections,
                r.records
            ));
            assert_eq!(broker.remaining(), 0, "{how:?}: it misbehaved");
            assert!(r.error.is_none(), "{how:?}: {r:?}");
            assert_eq!(r.records, vec![Ok(()); 3], "{how:?}: {r:?}");
            assert!(r.connections >= 2, "{how:?}: a new connection: {r:?}");
        }
    }
    println!(
        "a broker misbehaving once on Produce:\n  {}",
        table.join("\n  ")
    );
}

/// The broker misbehaves on ApiVersions or Metadata (before any record can be placed): the
/// send fails with the typed error; nothing is taken.
#[test]
fn a_broker_that_answers_bootstrap_requests_badly_fails_the_send_typed() {
    let mut table = Vec::new();
    for api in [ApiKey::ApiVersions, ApiKey::Metadata] {
        for how in Misbehaviour::ALL {
            let broker = HostileBroker::start(api, how, u32::MAX);
            let r = run(&broker, false, expected(how, api));
            let (debug, display) = r
                .error
                .clone()
                .unwrap_or_else(|| panic!("{api:?} {how:?}: no error: {r:?}"));
            table.push(format!("{api:?} {how:?}: {display}"));
            assert!(r.records.is_empty(), "{api:?} {how:?}: {r:?}");
            assert_eq!(r.typed, Some(true), "{api:?} {how:?}: {debug}");
        }
    }
    println!(
        "a broker misbehaving on bootstrap requests:\n  {}",
        table.join("\n  ")
    );
}

/// An idempotent batch fails for good (the broker cuts its answer twice; 1 retry), then more
/// records are sent: the producer bumps its epoch (KIP-360) before sending again. Returns the
/// first batch's outcome, and the later records' outcomes or the error that kept failing.
fn after_a_failed_idempotent_batch(refuse_bump: bool) -> (Run, Vec<String>) {
    let broker =
        HostileBroker::start_with(ApiKey::Produce, Misbehaviour::CutMidFrame, 2, refuse_bump);
    let servers = [broker.addr()];
    let config = Config::new(&servers)
        .client_id("hostile-bump")
        .enable_idempotence(true)
        .request_timeout_ms(REQUEST_TIMEOUT_MS)
        .retries(1)
        .retry_backoff_ms(20, 100)
        .batch_size(1024)
        .linger_ms(1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let mut first = Run {
        error: None,
        typed: None,
        records: Vec::new(),
        connections: 0,
    };
    let mut later = Vec::new();
    let work = async {
        let mut buffers = HostileBuffers::new();
        let mut producer: HostileProducer<'_> = Producer::new(
            &TokioTcp,
            TokioClock::new(),
            TokioDelay,
            RoundRobin::new(),
            config,
            &mut buffers,
        )
        .expect("a valid configuration");
        let t = producer
            .send("bump", Record::new(b"first").partition(0))
            .await
            .expect("the first send");
        if let Err(e) = producer.flush().await {
            first.error = Some((format!("{e:?}"), e.to_string()));
        }
        first.records.push(match producer.delivery(&t) {
            DeliveryStatus::Delivered(_) => Ok(()),
            DeliveryStatus::Failed(e) => Err(e),
            other => panic!("{other:?} after flush"),
        });
        // Five more records, each sent and waited for; a failed call is tried with the next.
        for i in 0..5u8 {
            let sent = producer
                .send("bump", Record::new(&[i; 4]).partition(0))
                .await;
            let outcome = match sent {
                Err(e) => format!("send: {e}"),
                Ok(t) => match producer.wait(&t).await {
                    Ok(Ok(_)) => "delivered".to_owned(),
                    Ok(Err(e)) => format!("failed: {e}"),
                    Err(e) => format!("wait: {e}"),
                },
            };
            later.push(outcome);
        }
    };
    rt.block_on(async {
        tokio::time::timeout(BOUND, work)
            .await
            .expect("the producer ended (no hang)")
    });
    (first, later)
}

/// On a broker that bumps the epoch, the records after a failed idempotent batch go through.
#[test]
fn after_an_idempotent_batch_fails_the_epoch_is_bumped_and_later_records_delivered() {
    let (first, later) = after_a_failed_idempotent_batch(false);
    assert!(
        matches!(first.records[..], [Err(DeliveryError::NoResponse { .. })]),
        "{first:?}"
    );
    assert_eq!(later, vec!["delivered"; 5], "{first:?}");
    println!("epoch bump: first batch {first:?}; later records {later:?}");
}

/// Tansu 0.6.0 answers every InitProducerId that carries a producer id (v3-v5: the KIP-360
/// bump) with UNKNOWN_SERVER_ERROR (-1); only producer id -1 gets an id (checked against the
/// binary: `(-1,-1)` -> id 1 epoch 0; `(1,0)`, `(1,7)`, `(12345,0)` -> -1, at v3, v4 and v5).
/// The producer takes a new producer id instead (InitProducerId with -1, as it does at
/// start), which the broker gives, and numbers the broken partition from 0.
#[test]
fn after_an_idempotent_batch_fails_a_refused_bump_falls_back_to_a_new_producer_id() {
    let (first, later) = after_a_failed_idempotent_batch(true);
    println!("refused bump: first batch {first:?}; later records {later:?}");
    assert!(
        matches!(first.records[..], [Err(DeliveryError::NoResponse { .. })]),
        "{first:?}"
    );
    assert_eq!(later, vec!["delivered"; 5], "{first:?}");
}

/// A well-framed Produce response whose body is garbage, or whose topic array claims 2^31 - 2
/// entries (none there): `Error::Decode`, no panic, nothing allocated or walked for the claimed
/// entries; the batch fails (`NoResponse`).
#[test]
fn a_produce_response_with_a_corrupt_body_gives_a_typed_error() {
    let mut table = Vec::new();
    for how in Misbehaviour::BODY {
        let broker = HostileBroker::start(ApiKey::Produce, how, u32::MAX);
        let r = run(&broker, false, expected(how, ApiKey::Produce));
        table.push(format!(
            "{how:?}: {} connections; call error: {}; records: {:?}",
            r.connections,
            r.error.as_ref().map_or("none", |e| e.1.as_str()),
            r.records
        ));
        let (debug, _) = r
            .error
            .as_ref()
            .unwrap_or_else(|| panic!("{how:?}: no error: {r:?}"));
        assert_eq!(r.typed, Some(true), "{how:?}: {debug}");
        assert_eq!(r.records.len(), 3, "{how:?}: {r:?}");
        for rec in &r.records {
            assert!(
                matches!(rec, Err(DeliveryError::NoResponse { .. })),
                "{how:?}: {r:?}"
            );
        }
    }
    println!("a corrupt Produce response body:\n  {}", table.join("\n  "));
}

/// The same, once: a bad size or a wrong correlation id once is retried on a new connection
/// (`Error::Frame` is retriable), and so is an undecodable body: both are a broker sending a
/// broken response, and the Java client closes the connection and retries either way. The
/// records are delivered on the next connection.
#[test]
fn a_produce_response_with_a_corrupt_body_once_is_retried_on_a_new_connection() {
    for how in Misbehaviour::BODY {
        let broker = HostileBroker::start(ApiKey::Produce, how, 1);
        let r = run(&broker, false, expected(how, ApiKey::Produce));
        println!("{how:?} once: {r:?}");
        assert!(r.error.is_none(), "{how:?}: {r:?}");
        assert_eq!(r.records, vec![Ok(()); 3], "{how:?}: {r:?}");
    }
}

/// Metadata that names no leader (LEADER_NOT_AVAILABLE; Produce then answered
/// NOT_LEADER_OR_FOLLOWER), or a leader missing from its broker list, always: the run ends (no
/// hang) and every record has an outcome. Without a leader the batches wait for one (metadata
/// refreshed after each back-off, no retry spent) until `delivery.timeout.ms`, 3 s here
/// (the least it may be with `request.timeout.ms` 2 s).
#[test]
fn metadata_without_a_usable_leader_ends_the_run() {
    let mut table = Vec::new();
    for how in Misbehaviour::METADATA {
        let broker = HostileBroker::start(ApiKey::Metadata, how, u32::MAX);
        let r = run_within(&broker, false, 3_000, expected(how, ApiKey::Metadata));
        table.push(format!(
            "{how:?}: {} connections; call error: {}; records: {:?}",
            r.connections,
            r.error.as_ref().map_or("none", |e| e.1.as_str()),
            r.records
        ));
        assert_eq!(r.records.len(), 3, "{how:?}: {r:?}");
    }
    println!(
        "metadata without a usable leader:\n  {}",
        table.join("\n  ")
    );
}

/// A leader election: for its first 12 Metadata answers the broker names no leader
/// (LEADER_NOT_AVAILABLE) and answers Produce NOT_LEADER_OR_FOLLOWER, then it leads. With the
/// default `retries` (5) and back-off (100 ms doubling to 1 s) the batches wait for a leader
/// without spending retries (as the Java client's accumulator does not drain a partition
/// without a leader), bounded by `delivery.timeout.ms` (120 s), and are delivered.
#[test]
fn a_leader_election_longer_than_the_retries_is_waited_out() {
    let broker = HostileBroker::start(ApiKey::Metadata, Misbehaviour::NoLeader, 12);
    let servers = [broker.addr()];
    let config = Config::new(&servers).client_id("election").batch_size(1024);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let records = rt.block_on(async {
        let work = async {
            let mut buffers = HostileBuffers::new();
            let mut producer: HostileProducer<'_> = Producer::new(
                &TokioTcp,
                TokioClock::new(),
                TokioDelay,
                RoundRobin::new(),
                config,
                &mut buffers,
            )
            .expect("a valid configuration");
            let mut out = Vec::new();
            for i in 0..3u8 {
                let t = producer
                    .send("election", Record::new(&[i; 4]))
                    .await
                    .expect("send");
                out.push(t);
            }
            let flushed = producer.flush().await.map_err(|e| e.to_string());
            let outcomes: Vec<_> = out
                .iter()
                .map(|t| format!("{:?}", producer.delivery(t)))
                .collect();
            (flushed.map(|s| s.retries), outcomes)
        };
        tokio::time::timeout(BOUND, work).await.expect("no hang")
    });
    println!(
        "leader election over 12 metadata answers: flush {:?}; metadata misbehaviours left {}; \
         records {:?}",
        records.0,
        broker.remaining(),
        records.1
    );
    for r in &records.1 {
        assert!(r.starts_with("Delivered"), "{records:?}");
    }
}
