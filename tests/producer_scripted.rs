//! The producer against a scripted in-memory broker, for what Tansu cannot be made to do or
//! show: every Produce version the producer may negotiate (the streamed frame must be byte for
//! byte what encoding the equivalent `ProduceRequest` gives), responses delivered a few bytes
//! per read, `acks=0` answers arriving right before the response to another request, and
//! partition errors reported with Kafka's name.

mod common;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use embedded_kafka::partition::{Murmur2, RoundRobin, partition_for_key};
use embedded_kafka::producer::{
    Acks, Buffers, Clock, Config, Delay, DeliveryError, DeliveryStatus, Error, Producer, Record,
    SecurityProtocol, ValueError,
};
use embedded_kafka::protocol::{
    ApiKey, ApiVersion, ApiVersionsResponse, Array, ErrorCode, InitProducerIdResponse,
    MetadataRequest, MetadataResponse, MetadataResponseBroker, MetadataResponsePartition,
    MetadataResponseTopic, PartitionProduceResponse, ProduceRequest, ProduceResponse, Request,
    Response, ResponseHeader, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeRequest, SaslHandshakeResponse, TopicProduceResponse, decode_request_header,
};
use embedded_kafka::record::{Header, RecordBatch};
use embedded_kafka::sasl::Mechanism;
use embedded_kafka::wire::Status;
use embedded_nal_async::TcpConnect;

/// Runs a future whose every wake-up is immediate (the scripted broker answers as soon as a
/// request is written); a future still pending after many polls is a producer waiting for an
/// answer that will never come.
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..100_000 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("the producer waits for something the scripted broker will never send");
}

/// Time stands still but for the back-offs the producer waits (see [`NeverDelay`]).
struct NoClock;
impl Clock for NoClock {
    fn now_ms(&self) -> u64 {
        BACKOFFS.with(|b| b.borrow().iter().map(|&ms| u64::from(ms)).sum())
    }
}

thread_local! {
    /// The back-offs the producer waited for, on this test's thread.
    static BACKOFFS: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

/// Back-offs (under a minute) pass at once and are recorded; a request timeout never fires:
/// the scripted broker answers every request at once.
struct NeverDelay;
impl Delay for NeverDelay {
    async fn delay_ms(&mut self, ms: u32) {
        if ms < 60_000 {
            BACKOFFS.with(|b| b.borrow_mut().push(ms));
            return;
        }
        std::future::pending::<()>().await;
    }
}

/// The back-offs waited so far were `terms`, each times a factor in [0.8, 1.2) and at most
/// the maximum (1000 ms by default): KIP-580's jitter.
fn assert_jittered(terms: &[u32]) {
    let waited = BACKOFFS.with(|b| b.borrow().clone());
    assert!(waited.len() >= terms.len(), "{waited:?}");
    for (&w, &t) in waited.iter().zip(terms) {
        assert!(
            w >= t * 8 / 10 && w < (t * 12 / 10).max(t + 1) && w <= 1_000,
            "back-off {w} for {t}: {waited:?}"
        );
    }
}

/// A Produce request seen: version, acks, and (partition, records) for each batch.
type Produced = (i16, i16, Vec<(i32, i32)>);

#[derive(Default)]
struct State {
    /// Bytes the producer wrote and the broker has not parsed yet.
    inbound: Vec<u8>,
    /// Bytes for the producer to read.
    outbound: VecDeque<u8>,
    /// Answers to acks=0 Produce requests, held back until the next other response.
    held: Vec<u8>,
    /// acks=0: answer at once (as Tansu), or never at all (as Kafka), instead of holding the
    /// answers back.
    acks0: Option<Acks0>,
    produce_max: i16,
    partitions: i32,
    /// Error code for every partition of every Produce response...
    produce_error: i16,
    /// ...of the first this many Produce responses (then 0), if not 0.
    fail_first: u32,
    /// Every batch received, as bytes.
    batches: Vec<Vec<u8>>,
    metadata_requests: u32,
    /// Connections opened so far; the newest is the live one.
    connections: u32,
    /// Close the connection instead of answering the next this many Produce requests (the
    /// request is lost).
    close_on_produce: u32,
    /// The connection closed by the broker.
    closed: Option<u32>,
    /// Answer the next this many Produce requests with a wrong correlation id.
    wrong_id: u32,
    /// (producer id, partition, base sequence) of every batch stored, to answer a batch sent
    /// again DUPLICATE_SEQUENCE_NUMBER as Tansu does.
    stored: Vec<(i64, i32, i32)>,
    /// (producer id, epoch, base sequence, records) of every batch received.
    idempotence: Vec<(i64, i16, i32, i32)>,
    /// What Metadata responses advertise for the one broker (node 0).
    advertised: Option<(&'static str, i32)>,
    /// The address of every connection opened.
    remotes: Vec<SocketAddr>,
    /// Bytes per read.
    read_chunk: usize,
    next_offset: Vec<i64>,
    /// Produce requests seen: (version, acks, records per partition).
    produced: Vec<Produced>,
    /// SASL, when the broker requires it.
    sasl: Option<SaslServer>,
    /// The highest SaslAuthenticate version offered (0 to 2).
    sasl_authenticate_max: i16,
}

/// `tests/python/scram_server.py` running one exchange; reaped when dropped.
struct ScramProcess {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Drop for ScramProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How the broker answers acks=0 Produce requests (by default it holds the answers back).
#[derive(Clone, Copy)]
enum Acks0 {
    AtOnce,
    Never,
}

/// The broker's side of SASL, as Kafka's: mechanisms offered, PLAIN checked here, SCRAM by
/// `tests/python/scram_server.py` (Python's hashlib and hmac: crypto no one here wrote).
#[derive(Default)]
struct SaslServer {
    /// What SaslHandshake offers.
    offered: Vec<&'static str>,
    /// The one user and password.
    user: &'static str,
    password: &'static str,
    /// The mechanism the current connection's handshake chose.
    chosen: Option<String>,
    /// The SCRAM server of the current exchange.
    scram: Option<ScramProcess>,
    /// Whether the current connection has authenticated.
    authenticated: bool,
    /// Connections that authenticated.
    logins: u32,
    /// Requests other than ApiVersions and SASL that came before authentication.
    unauthenticated: Vec<ApiKey>,
    /// The steps seen, in order: `handshake MECH`, `authenticate`, then the next API.
    steps: Vec<String>,
}

struct ScriptedBroker {
    state: RefCell<State>,
}

impl ScriptedBroker {
    fn new(produce_max: i16, partitions: i32) -> Self {
        Self {
            state: RefCell::new(State {
                produce_max,
                partitions,
                read_chunk: 3,
                next_offset: vec![0; partitions as usize],
                ..State::default()
            }),
        }
    }
}

struct Conn<'a>(&'a ScriptedBroker, u32);

impl ErrorType for Conn<'_> {
    type Error = ErrorKind;
}

impl Read for Conn<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        std::future::poll_fn(|_| {
            let mut s = self.0.state.borrow_mut();
            if s.closed == Some(self.1) {
                return Poll::Ready(Ok(0));
            }
            if s.outbound.is_empty() {
                return Poll::Pending;
            }
            let n = buf.len().min(s.outbound.len()).min(s.read_chunk);
            for b in buf.iter_mut().take(n) {
                *b = s.outbound.pop_front().expect("checked");
            }
            Poll::Ready(Ok(n))
        })
        .await
    }
}

impl Write for Conn<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        let mut s = self.0.state.borrow_mut();
        if s.closed == Some(self.1) {
            return Err(ErrorKind::BrokenPipe);
        }
        s.inbound.extend_from_slice(buf);
        while s.inbound.len() >= 4 {
            let size = i32::from_be_bytes(s.inbound[..4].try_into().expect("4")) as usize;
            if s.inbound.len() < 4 + size {
                break;
            }
            let frame: Vec<u8> = s.inbound.drain(..4 + size).collect();
            answer(&mut s, &frame);
        }
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

impl TcpConnect for ScriptedBroker {
    type Error = ErrorKind;
    type Connection<'a> = Conn<'a>;

    async fn connect<'a>(&'a self, remote: SocketAddr) -> Result<Conn<'a>, ErrorKind> {
        let mut s = self.state.borrow_mut();
        s.connections += 1;
        s.remotes.push(remote);
        s.inbound.clear();
        s.outbound.clear();
        s.held.clear();
        if let Some(sasl) = s.sasl.as_mut() {
            sasl.authenticated = false;
            sasl.chosen = None;
            sasl.scram = None;
        }
        Ok(Conn(self, s.connections))
    }
}

fn respond(
    s: &mut State,
    encode: impl FnOnce(&mut [u8]) -> Result<usize, embedded_kafka::wire::EncodeError>,
    held: bool,
) {
    let mut out = vec![0u8; 4096];
    let n = encode(&mut out).expect("response fits");
    if held {
        s.held.extend_from_slice(&out[..n]);
    } else {
        let held = std::mem::take(&mut s.held);
        s.outbound.extend(held);
        s.outbound.extend(&out[..n]);
    }
}

/// Answers one request frame (size prefix included).
fn answer(s: &mut State, frame: &[u8]) {
    let (_, header) = decode_request_header(&frame[4..]).expect("a request header");
    let (id, version) = (header.correlation_id, header.request_api_version);
    let api = ApiKey::from_key(header.request_api_key);
    if let Some(sasl) = s.sasl.as_mut()
        && !matches!(
            api,
            ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate
        )
    {
        if !sasl.authenticated {
            sasl.unauthenticated.push(api);
        }
        if sasl.steps.last().is_some_and(|l| l == "authenticated") {
            sasl.steps.push(format!("{api:?}"));
        }
    }
    match api {
        ApiKey::SaslHandshake => answer_sasl_handshake(s, frame, id, version),
        ApiKey::SaslAuthenticate => answer_sasl_authenticate(s, frame, id, version),
        ApiKey::ApiVersions => {
            let mut keys = vec![
                ApiVersion {
                    api_key: 0,
                    min_version: 0,
                    max_version: s.produce_max,
                    ..Default::default()
                },
                ApiVersion {
                    api_key: 3,
                    min_version: 0,
                    max_version: 12,
                    ..Default::default()
                },
                ApiVersion {
                    api_key: 22,
                    min_version: 0,
                    max_version: 5,
                    ..Default::default()
                },
                ApiVersion {
                    api_key: 18,
                    min_version: 0,
                    max_version: 4,
                    ..Default::default()
                },
            ];
            if s.sasl.is_some() {
                for (api_key, max_version) in [(17, 1), (36, s.sasl_authenticate_max)] {
                    keys.push(ApiVersion {
                        api_key,
                        min_version: 0,
                        max_version,
                        ..Default::default()
                    });
                }
            }
            let r = ApiVersionsResponse {
                api_keys: Array::from(&keys[..]),
                ..Default::default()
            };
            respond(
                s,
                |out| r.encode_response(&ResponseHeader::new(id), out, version),
                false,
            );
        }
        ApiKey::Metadata => {
            s.metadata_requests += 1;
            let (_, request) = MetadataRequest::decode_request(&frame[4..]).expect("metadata");
            let name = request.topics.expect("topics").get(0).expect("one").name;
            let (host, port) = s.advertised.unwrap_or(("127.0.0.1", 9092));
            let brokers = [MetadataResponseBroker {
                node_id: 0,
                host,
                port,
                ..Default::default()
            }];
            let parts: Vec<_> = (0..s.partitions)
                .map(|p| MetadataResponsePartition {
                    partition_index: p,
                    leader_id: 0,
                    ..Default::default()
                })
                .collect();
            let topics = [MetadataResponseTopic {
                name,
                partitions: Array::from(&parts[..]),
                ..Default::default()
            }];
            let r = MetadataResponse {
                brokers: Array::from(&brokers),
                topics: Array::from(&topics),
                ..Default::default()
            };
            respond(
                s,
                |out| r.encode_response(&ResponseHeader::new(id), out, version),
                false,
            );
        }
        ApiKey::Produce if s.close_on_produce > 0 => {
            s.close_on_produce -= 1;
            s.closed = Some(s.connections);
        }
        ApiKey::Produce => {
            let (h, request) = ProduceRequest::decode_request(&frame[4..]).expect("produce");
            // The streamed frame is exactly what encoding the decoded request gives.
            let mut again = vec![0u8; frame.len() + 64];
            let n = request
                .encode_request(&h, &mut again, version)
                .expect("re-encode");
            assert_eq!(
                &again[..n],
                frame,
                "Produce v{version} streamed byte for byte"
            );
            let mut seen = Vec::new();
            let mut topic_responses = Vec::new();
            let error = if s.fail_first > 0 {
                s.fail_first -= 1;
                s.produce_error
            } else {
                0
            };
            for t in request.topic_data.iter() {
                let mut parts = Vec::new();
                for p in t.partition_data.iter() {
                    let bytes = p.records.expect("records");
                    let Status::Complete { value: batch, .. } =
                        RecordBatch::parse(bytes).expect("a valid batch (CRC checked)")
                    else {
                        panic!("incomplete batch");
                    };
                    let count = batch.record_count();
                    seen.push((p.index, count));
                    s.batches.push(bytes.to_vec());
                    let pid = batch.producer_id();
                    let key = (pid, p.index, batch.base_sequence());
                    s.idempotence
                        .push((pid, batch.producer_epoch(), batch.base_sequence(), count));
                    if pid >= 0 && s.stored.contains(&key) {
                        parts.push(PartitionProduceResponse {
                            index: p.index,
                            error_code: ErrorCode::DuplicateSequenceNumber.code(),
                            base_offset: -1,
                            log_append_time_ms: -1,
                            ..Default::default()
                        });
                        continue;
                    }
                    if pid >= 0 && error == 0 {
                        s.stored.push(key);
                    }
                    let offset = &mut s.next_offset[p.index as usize];
                    parts.push(PartitionProduceResponse {
                        index: p.index,
                        error_code: error,
                        base_offset: *offset,
                        log_append_time_ms: -1,
                        ..Default::default()
                    });
                    if error == 0 {
                        *offset += i64::from(count);
                    }
                }
                topic_responses.push((t.name, parts));
            }
            s.produced.push((version, request.acks, seen));
            let topics: Vec<_> = topic_responses
                .iter()
                .map(|(name, parts)| TopicProduceResponse {
                    name,
                    partition_responses: Array::from(&parts[..]),
                    ..Default::default()
                })
                .collect();
            let r = ProduceResponse {
                responses: Array::from(&topics[..]),
                ..Default::default()
            };
            let id = if s.wrong_id > 0 {
                s.wrong_id -= 1;
                id + 100
            } else {
                id
            };
            // Like Tansu: an answer even to acks=0, held back to arrive just before the next
            // response to something else.
            match (request.acks, s.acks0) {
                (0, Some(Acks0::Never)) => {}
                (0, Some(Acks0::AtOnce)) => respond(
                    s,
                    |out| r.encode_response(&ResponseHeader::new(id), out, version),
                    false,
                ),
                (acks, _) => respond(
                    s,
                    |out| r.encode_response(&ResponseHeader::new(id), out, version),
                    acks == 0,
                ),
            }
        }
        ApiKey::InitProducerId => {
            let r = InitProducerIdResponse {
                producer_id: 4242,
                producer_epoch: 0,
                ..Default::default()
            };
            respond(
                s,
                |out| r.encode_response(&ResponseHeader::new(id), out, version),
                false,
            );
        }
        other => panic!("unexpected request {other:?}"),
    }
}

/// The scripted producer, remembering `R` batch outcomes.
type ScriptedWith<'a, const R: usize> =
    Producer<'a, ScriptedBroker, NoClock, NeverDelay, Murmur2<RoundRobin>, 2, 4, R>;
type Scripted<'a> = ScriptedWith<'a, 32>;

fn producer<'a>(
    broker: &'a ScriptedBroker,
    servers: &'a [SocketAddr],
    acks: Acks,
    buffers: &'a mut Buffers<2048, 512, 512, 4>,
) -> Scripted<'a> {
    let config = Config::new(servers).acks(acks).batch_size(512);
    Producer::new(
        broker,
        NoClock,
        NeverDelay,
        Murmur2::new(RoundRobin::new()),
        config,
        buffers,
    )
    .expect("valid configuration")
}

const SERVERS: [SocketAddr; 1] = [SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
    9092,
)];

#[test]
fn every_produce_version_is_streamed_byte_for_byte_and_offsets_follow() {
    for version in 3..=11 {
        let broker = ScriptedBroker::new(version, 3);
        let mut buffers = Buffers::new();
        let mut p = producer(&broker, &SERVERS, Acks::All, &mut buffers);
        let headers = [Header::new("unit", b"C")];
        let tickets: Vec<_> = (0..40)
            .map(|i| {
                let key = format!("k{}", i % 5);
                let value = format!("reading {i}");
                let record = Record::new(value.as_bytes())
                    .key(key.as_bytes())
                    .headers(&headers);
                let ticket = block_on(p.send("readings", record)).expect("send");
                assert_eq!(ticket.partition, partition_for_key(key.as_bytes(), 3));
                ticket
            })
            .collect();
        block_on(p.flush()).expect("flush");
        let mut next = [0i64; 3];
        for t in &tickets {
            let DeliveryStatus::Delivered(d) = p.delivery(t) else {
                panic!("v{version}: {:?}", p.delivery(t));
            };
            assert_eq!(d.offset, Some(next[t.partition as usize]), "v{version}");
            next[t.partition as usize] += 1;
        }
        let mut reports = Vec::new();
        p.take_reports(|r| reports.push(*r));
        let mut first = [None; 3];
        for r in &reports {
            first[r.partition as usize].get_or_insert(r.result);
        }
        assert_eq!(first, [Some(Ok(Some(0))); 3], "v{version}: {reports:?}");
        assert_eq!(reports.iter().map(|r| r.records).sum::<u32>(), 40);
        p.take_reports(|r| panic!("reported twice: {r:?}"));
        let s = broker.state.borrow();
        assert!(
            s.produced
                .iter()
                .all(|(v, acks, _)| *v == version && *acks == -1)
        );
        let records: i32 = s
            .produced
            .iter()
            .flat_map(|(_, _, p)| p)
            .map(|(_, n)| n)
            .sum();
        assert_eq!(records, 40);
    }
}

#[test]
fn stray_acks_0_answers_before_other_responses_are_drained_never_paired() {
    let broker = ScriptedBroker::new(11, 2);
    let mut buffers = Buffers::new();
    let mut p = producer(&broker, &SERVERS, Acks::None, &mut buffers);
    let a = block_on(p.send("first", Record::new(b"one"))).expect("send");
    block_on(p.flush()).expect("flush");
    let b = block_on(p.send("first", Record::new(b"two"))).expect("send");
    block_on(p.flush()).expect("flush");
    // The two answers are held back by the broker; they arrive, a few bytes per read, just
    // before the Metadata response for a new topic: both are drained, and the Metadata
    // response is still paired with the Metadata request.
    assert_eq!(p.stray_responses(), 0);
    let c = block_on(p.send("second", Record::new(b"three"))).expect("metadata for a new topic");
    assert_eq!(p.stray_responses(), 2);
    assert_eq!(
        p.metadata().topic("second").map(|(_, t)| t.partitions),
        Some(2)
    );
    block_on(p.flush()).expect("flush");
    for t in [a, b, c] {
        match p.delivery(&t) {
            DeliveryStatus::Delivered(d) => assert_eq!(d.offset, None, "acks=0: sent, no offset"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(p.produce_requests(), 3);
}

#[test]
fn retriable_errors_resend_the_same_bytes_after_backoff_and_a_metadata_refresh() {
    let broker = ScriptedBroker::new(11, 2);
    {
        let mut s = broker.state.borrow_mut();
        s.produce_error = ErrorCode::NotLeaderOrFollower.code();
        s.fail_first = 3;
    }
    let mut buffers = Buffers::new();
    let mut p = producer(&broker, &SERVERS, Acks::All, &mut buffers);
    let tickets: Vec<_> = (0..6)
        .map(|i| block_on(p.send("readings", Record::new(b"v").partition(i % 2))).expect("send"))
        .collect();
    let summary = block_on(p.flush()).expect("flush");
    assert_eq!(
        (summary.retries, summary.failed_batches),
        (6, 0),
        "{summary:?}"
    );
    for (i, t) in tickets.iter().enumerate() {
        let DeliveryStatus::Delivered(d) = p.delivery(t) else {
            panic!("{:?}", p.delivery(t));
        };
        assert_eq!(d.offset, Some(i as i64 / 2));
    }
    let s = broker.state.borrow();
    // 4 requests of the same 2 batches, byte for byte; metadata fetched once, then refreshed
    // before each of the 3 retries; back-off 100, 200, 400 ms, each ±20 % (KIP-580).
    assert_eq!(s.produced.len(), 4);
    assert_eq!(s.batches.len(), 8);
    for attempt in s.batches.chunks(2) {
        assert_eq!(attempt, &s.batches[..2]);
    }
    assert_eq!(s.metadata_requests, 4);
    assert_jittered(&[100, 200, 400]);
}

#[test]
fn a_connection_lost_mid_request_is_reopened_and_the_batch_sent_again() {
    let broker = ScriptedBroker::new(11, 3);
    broker.state.borrow_mut().close_on_produce = 1;
    let mut buffers = Buffers::new();
    let mut p = producer(&broker, &SERVERS, Acks::Leader, &mut buffers);
    let record = Record::new(b"21.5").key(b"sensor-7");
    let ticket = block_on(p.send("readings", record)).expect("send");
    assert_eq!(ticket.partition, 1);
    let delivery = block_on(p.wait(&ticket))
        .expect("flush")
        .expect("delivered");
    assert_eq!((delivery.partition, delivery.offset), (1, Some(0)));
    let s = broker.state.borrow();
    assert_eq!(s.connections, 2, "reconnected once");
    assert_eq!(s.produced.len(), 1, "the lost request was sent again, once");
    assert_jittered(&[100]);
}

#[test]
fn a_response_with_a_wrong_correlation_id_is_never_paired_the_batch_goes_again() {
    let broker = ScriptedBroker::new(11, 1);
    broker.state.borrow_mut().wrong_id = 1;
    let mut buffers = Buffers::new();
    let mut p = producer(&broker, &SERVERS, Acks::All, &mut buffers);
    let t = block_on(p.send("readings", Record::new(b"v"))).expect("send");
    let summary = block_on(p.flush()).expect("flush");
    assert_eq!((summary.retries, summary.failed_batches), (1, 0));
    // The broker stored the first attempt too (it answered it): at least once, as Kafka
    // without idempotence. The offset reported is the one of the answer that was paired.
    let d = block_on(p.wait(&t))
        .expect("no flush needed")
        .expect("delivered");
    assert_eq!(d.offset, Some(1));
    let s = broker.state.borrow();
    assert_eq!((s.connections, s.produced.len()), (2, 2));
}

#[test]
fn idempotent_batches_carry_producer_id_and_sequences_and_a_resend_is_stored_once() {
    let broker = ScriptedBroker::new(11, 2);
    let mut buffers = Buffers::<2048, 512, 512, 4>::new();
    let config = Config::new(&SERVERS)
        .batch_size(512)
        .enable_idempotence(true);
    let mut p = Scripted::new(
        &broker,
        NoClock,
        NeverDelay,
        Murmur2::new(RoundRobin::new()),
        config,
        &mut buffers,
    )
    .expect("valid");
    for i in 0..6u32 {
        block_on(p.send("readings", Record::new(b"v").partition(i % 2))).expect("send");
    }
    block_on(p.flush()).expect("flush");
    assert_eq!(p.producer_id(), Some((4242, 0)));
    // The answer to the next request is lost (a wrong correlation id): the batch is sent again
    // with the same sequence and the broker says DUPLICATE_SEQUENCE_NUMBER: delivered, once.
    broker.state.borrow_mut().wrong_id = 1;
    let t = block_on(p.send("readings", Record::new(b"w").partition(1))).expect("send");
    let summary = block_on(p.flush()).expect("flush");
    assert_eq!((summary.retries, summary.failed_batches), (1, 0));
    let DeliveryStatus::Delivered(d) = p.delivery(&t) else {
        panic!("{:?}", p.delivery(&t));
    };
    assert_eq!(d.offset, None, "Tansu's duplicate answer has no offset");
    let s = broker.state.borrow();
    let mut seen = s.idempotence.clone();
    seen.sort();
    assert_eq!(
        seen,
        [
            (4242, 0, 0, 3),
            (4242, 0, 0, 3),
            (4242, 0, 3, 1),
            (4242, 0, 3, 1)
        ]
    );
    assert_eq!(
        s.stored.len(),
        3,
        "two batches, then the one sent twice stored once"
    );
    assert!(
        Config::new(&SERVERS)
            .acks(Acks::Leader)
            .enable_idempotence(true)
            .validate()
            .is_err()
    );
}

#[test]
fn partition_errors_are_reported_with_kafkas_name() {
    let broker = ScriptedBroker::new(9, 1);
    broker.state.borrow_mut().produce_error = ErrorCode::NotLeaderOrFollower.code();
    broker.state.borrow_mut().fail_first = u32::MAX;
    let mut buffers = Buffers::<2048, 512, 512, 4>::new();
    let config = Config::new(&SERVERS)
        .acks(Acks::Leader)
        .batch_size(512)
        .retries(2);
    let mut p = Scripted::new(
        &broker,
        NoClock,
        NeverDelay,
        Murmur2::new(RoundRobin::new()),
        config,
        &mut buffers,
    )
    .expect("valid");
    let t = block_on(p.send("readings", Record::new(b"x"))).expect("send");
    assert_eq!(p.delivery(&t), DeliveryStatus::Pending);
    let summary = block_on(p.flush()).expect("flush");
    assert_eq!((summary.retries, summary.failed_batches), (2, 1));
    assert_eq!(
        broker.state.borrow().produced.len(),
        3,
        "sent, then retried twice"
    );
    let DeliveryStatus::Failed(e) = p.delivery(&t) else {
        panic!("{:?}", p.delivery(&t));
    };
    assert_eq!(
        e,
        DeliveryError::Broker {
            code: ErrorCode::NotLeaderOrFollower,
            partition: 0
        }
    );
    assert!(
        e.to_string()
            .starts_with("partition 0: NOT_LEADER_OR_FOLLOWER (6)"),
        "{e}"
    );
}

#[test]
fn values_written_in_place_by_a_closure_move_to_a_new_batch_when_full() {
    let broker = ScriptedBroker::new(11, 1);
    let mut buffers = Buffers::new();
    let mut p = producer(&broker, &SERVERS, Acks::All, &mut buffers);
    let mut tickets = Vec::new();
    for i in 0..20u8 {
        let mut calls = 0;
        let ticket = block_on(
            p.send_with("readings", Record::default(), |out: &mut [u8]| {
                calls += 1;
                let value = [b'a' + i; 100];
                let dst = out.get_mut(..100).ok_or(ValueError::DoesNotFit)?;
                dst.copy_from_slice(&value);
                Ok(100)
            }),
        )
        .expect("send_with");
        assert!(calls <= 2, "called again only after a full batch was sent");
        tickets.push(ticket);
    }
    let failing = block_on(p.send_with("readings", Record::default(), |_: &mut [u8]| {
        Err(ValueError::Failed)
    }));
    assert!(
        matches!(failing, Err(Error::Value { partition: 0, .. })),
        "{failing:?}"
    );
    block_on(p.flush()).expect("flush");
    for (i, t) in tickets.iter().enumerate() {
        let DeliveryStatus::Delivered(d) = p.delivery(t) else {
            panic!("{:?}", p.delivery(t));
        };
        assert_eq!(d.offset, Some(i as i64));
    }
    let s = broker.state.borrow();
    assert!(
        s.batches.len() >= 5,
        "20 x 100 B in 512-byte batches: {}",
        s.batches.len()
    );
    let mut values = Vec::new();
    for bytes in &s.batches {
        let Status::Complete { value: batch, .. } = RecordBatch::parse(bytes).expect("valid")
        else {
            panic!("incomplete");
        };
        for r in batch.records().expect("uncompressed") {
            values.push(r.expect("record").value.expect("value").to_vec());
        }
    }
    let expected: Vec<Vec<u8>> = (0..20u8).map(|i| vec![b'a' + i; 100]).collect();
    assert_eq!(values, expected);
}

/// Resolves `broker-0.test` to 10.0.0.7, nothing else.
struct ScriptedDns;
impl embedded_nal_async::Dns for ScriptedDns {
    type Error = ErrorKind;
    async fn get_host_by_name(
        &self,
        host: &str,
        _addr_type: embedded_nal_async::AddrType,
    ) -> Result<std::net::IpAddr, ErrorKind> {
        match host {
            "broker-0.test" => Ok(std::net::Ipv4Addr::new(10, 0, 0, 7).into()),
            _ => Err(ErrorKind::NotFound),
        }
    }
    async fn get_host_by_address(
        &self,
        _addr: std::net::IpAddr,
        _result: &mut [u8],
    ) -> Result<usize, ErrorKind> {
        Err(ErrorKind::Unsupported)
    }
}

#[test]
fn produce_goes_to_the_leader_by_its_advertised_name_resolved_with_dns() {
    let broker = ScriptedBroker::new(11, 2);
    broker.state.borrow_mut().advertised = Some(("broker-0.test", 9093));
    let mut buffers = Buffers::new();
    let mut p = producer(&broker, &SERVERS, Acks::All, &mut buffers).with_dns(ScriptedDns);
    let t = block_on(p.send("readings", Record::new(b"v").partition(1))).expect("send");
    let d = block_on(p.wait(&t)).expect("flush").expect("delivered");
    assert_eq!((d.partition, d.offset), (1, Some(0)));
    let leader: SocketAddr = "10.0.0.7:9093".parse().expect("address");
    assert_eq!(p.metadata().broker(0), Some(Some(leader)));
    assert_eq!(broker.state.borrow().remotes, [SERVERS[0], leader]);

    // Without a resolver the leader cannot be reached, and the error says which.
    let broker = ScriptedBroker::new(11, 2);
    broker.state.borrow_mut().advertised = Some(("broker-0.test", 9093));
    let mut buffers = Buffers::<2048, 512, 512, 4>::new();
    let config = Config::new(&SERVERS).batch_size(512).retries(0);
    let mut p = Scripted::new(
        &broker,
        NoClock,
        NeverDelay,
        Murmur2::new(RoundRobin::new()),
        config,
        &mut buffers,
    )
    .expect("valid");
    let t = block_on(p.send("readings", Record::new(b"v"))).expect("send");
    let e = block_on(p.flush()).expect_err("no route to the leader");
    assert!(matches!(e, Error::UnresolvedLeader { node_id: 0 }), "{e:?}");
    // Never written to a broker: not stored, and said so.
    assert_eq!(
        p.delivery(&t),
        DeliveryStatus::Failed(DeliveryError::NotSent {
            partition: t.partition
        })
    );
}

#[test]
fn bootstrap_servers_by_name_and_metadata_refreshed_by_age() {
    let broker = ScriptedBroker::new(11, 2);
    broker.state.borrow_mut().advertised = Some(("broker-0.test", 9092));
    let hosts = [("nowhere.test", 9092), ("broker-0.test", 9092)];
    let mut buffers = Buffers::<2048, 512, 512, 4>::new();
    let config = Config::new(&[])
        .bootstrap_hosts(&hosts)
        .batch_size(512)
        .metadata_max_age_ms(0);
    let mut p = Scripted::new(
        &broker,
        NoClock,
        NeverDelay,
        Murmur2::new(RoundRobin::new()),
        config,
        &mut buffers,
    )
    .expect("valid")
    .with_dns(ScriptedDns);
    for _ in 0..3 {
        block_on(p.send("readings", Record::new(b"v"))).expect("send");
    }
    block_on(p.flush()).expect("flush");
    let s = broker.state.borrow();
    let leader: SocketAddr = "10.0.0.7:9092".parse().expect("address");
    assert_eq!(
        s.remotes,
        [leader],
        "the name that resolves; one connection"
    );
    assert_eq!(
        s.metadata_requests, 3,
        "metadata.max.age.ms = 0: fetched for every send"
    );
}

#[test]
fn retries_stop_at_the_delivery_timeout_with_the_last_error() {
    let broker = ScriptedBroker::new(11, 1);
    {
        let mut s = broker.state.borrow_mut();
        s.produce_error = ErrorCode::NotEnoughReplicas.code();
        s.fail_first = u32::MAX;
    }
    let mut buffers = Buffers::<2048, 512, 512, 4>::new();
    let config = Config::new(&SERVERS)
        .batch_size(512)
        .retries(1_000)
        .request_timeout_ms(5_000)
        .linger_ms(0)
        .delivery_timeout_ms(10_000);
    let mut p = Scripted::new(
        &broker,
        NoClock,
        NeverDelay,
        Murmur2::new(RoundRobin::new()),
        config,
        &mut buffers,
    )
    .expect("valid");
    let t = block_on(p.send("readings", Record::new(b"v"))).expect("send");
    let summary = block_on(p.flush()).expect("flush");
    // Back-offs 100, 200, 400, 800, then 1000 each (±20 %, at most 1000), while they end
    // before 10 s: 12 retries without jitter, 11 to 14 with.
    let waited: u32 = BACKOFFS.with(|b| b.borrow().iter().sum());
    assert!(waited < 10_000, "{waited}");
    assert!(
        (11..=14).contains(&summary.retries) && summary.failed_batches == 1,
        "{summary:?}"
    );
    let backoffs = BACKOFFS.with(|b| b.borrow().clone());
    assert_jittered(&[100, 200, 400, 800, 1000, 1000, 1000][..backoffs.len().min(7)]);
    assert_eq!(
        p.delivery(&t),
        DeliveryStatus::Failed(DeliveryError::Broker {
            code: ErrorCode::NotEnoughReplicas,
            partition: 0
        })
    );
    assert!(
        Config::new(&SERVERS)
            .delivery_timeout_ms(1_000)
            .validate()
            .is_err()
    );
}

#[test]
fn configuration_is_checked_up_front() {
    let broker = ScriptedBroker::new(11, 1);
    let mut buffers = Buffers::<2048, 512, 512, 4>::new();
    let config = Config::new(&SERVERS).batch_size(4096);
    let e = Scripted::new(
        &broker,
        NoClock,
        NeverDelay,
        Murmur2::new(RoundRobin::new()),
        config,
        &mut buffers,
    )
    .err()
    .expect("batch.size larger than the buffers");
    assert_eq!(
        e.to_string(),
        "batch.size = 4096: larger than the 512-byte batch buffers"
    );
    assert!(Config::new(&SERVERS).max_in_flight(0).validate().is_err());
    assert!(Config::new(&SERVERS).max_in_flight(5).validate().is_ok());
    assert!(Config::new(&SERVERS).max_in_flight(6).validate().is_err());
}

/// KAFKA-9965: a partitioner that does not move on when a batch closes (round-robin, random,
/// a caller's own) is asked once per keyless record, also when the record does not fit its
/// partition's full batch (the batch is sent and the record starts a new one there). A
/// sticky one (its `on_batch_closed` says it moved) is asked again then, and the record
/// follows it.
#[test]
fn the_partitioner_is_asked_once_per_record_even_when_batches_fill() {
    use std::cell::Cell;
    use std::num::NonZeroU32;

    // Round-robin by the number of calls: one call per record keeps every record in turn.
    let calls = Cell::new(0u32);
    let counting = |_: &str, _: Option<&[u8]>, n: NonZeroU32| {
        calls.set(calls.get() + 1);
        (calls.get() - 1) % n
    };
    let broker = ScriptedBroker::new(11, 3);
    let mut buffers = Buffers::<2048, 512, 512, 4>::new();
    let config = Config::new(&SERVERS).batch_size(512).linger_ms(60_000);
    let mut p = Producer::<_, _, _, _, 2, 4, 32>::new(
        &broker,
        NoClock,
        NeverDelay,
        counting,
        config,
        &mut buffers,
    )
    .expect("valid");
    let value = [b'v'; 100];
    let mut partitions = Vec::new();
    for _ in 0..30 {
        let t = block_on(p.send("readings", Record::new(&value))).expect("send");
        partitions.push(t.partition);
    }
    block_on(p.flush()).expect("flush");
    assert_eq!(calls.get(), 30, "asked once per record");
    let in_turn: Vec<u32> = (0..30).map(|i| i % 3).collect();
    assert_eq!(partitions, in_turn);
    let s = broker.state.borrow();
    assert!(
        s.batches.len() > 6,
        "batches filled and closed while records came: {}",
        s.batches.len()
    );
}

// SASL: a scripted broker that requires it (Kafka's behaviour: SaslHandshake names the
// mechanism, UNSUPPORTED_SASL_MECHANISM lists the broker's; a failed login is answered
// SASL_AUTHENTICATION_FAILED with Kafka's message).

const KAFKA_PLAIN_FAILED: &str = "Authentication failed: Invalid username or password";

fn answer_sasl_handshake(s: &mut State, frame: &[u8], id: i32, version: i16) {
    let (_, request) = SaslHandshakeRequest::decode_request(&frame[4..]).expect("handshake");
    let sasl = s.sasl.as_mut().expect("a SASL broker");
    sasl.steps.push(format!("handshake {}", request.mechanism));
    let offered = sasl.offered.clone();
    let code = if offered.contains(&request.mechanism) {
        sasl.chosen = Some(request.mechanism.to_owned());
        0
    } else {
        ErrorCode::UnsupportedSaslMechanism.code()
    };
    let r = SaslHandshakeResponse {
        error_code: code,
        mechanisms: Array::from(&offered[..]),
    };
    respond(
        s,
        |out| r.encode_response(&ResponseHeader::new(id), out, version),
        false,
    );
}

fn answer_sasl_authenticate(s: &mut State, frame: &[u8], id: i32, version: i16) {
    use std::io::{BufRead, Write as _};
    let (_, request) = SaslAuthenticateRequest::decode_request(&frame[4..]).expect("authenticate");
    let sasl = s.sasl.as_mut().expect("a SASL broker");
    sasl.steps.push("authenticate".to_owned());
    let chosen = sasl.chosen.clone().expect("a handshake first");
    let fail = |message: String| {
        (
            ErrorCode::SaslAuthenticationFailed.code(),
            Some(message),
            Vec::new(),
        )
    };
    let (code, message, bytes) = if chosen == "PLAIN" {
        let parts: Vec<&[u8]> = request.auth_bytes.split(|&b| b == 0).collect();
        if parts == [&b""[..], sasl.user.as_bytes(), sasl.password.as_bytes()] {
            sasl.authenticated = true;
            (0, None, Vec::new())
        } else {
            fail(KAFKA_PLAIN_FAILED.to_owned())
        }
    } else {
        let ScramProcess { stdin, stdout, .. } = match sasl.scram.as_mut() {
            Some(server) => server,
            None => {
                // A new exchange: a fresh server process with a fixed salt and nonce suffix.
                let hash = if chosen == "SCRAM-SHA-512" {
                    "sha512"
                } else {
                    "sha256"
                };
                let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/python/scram_server.py");
                let mut child = std::process::Command::new(common::python())
                    .arg(script)
                    .args([
                        hash,
                        sasl.user,
                        sasl.password,
                        "5a4c7e1f00ff9b2d",
                        "4096",
                        "%srv-nonce",
                    ])
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .expect("python scram_server.py");
                let stdin = child.stdin.take().expect("stdin");
                let stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
                sasl.scram.insert(ScramProcess {
                    child,
                    stdin,
                    stdout,
                })
            }
        };
        stdin.write_all(request.auth_bytes).expect("to the server");
        stdin.write_all(b"\n").expect("to the server");
        stdin.flush().expect("to the server");
        let mut line = String::new();
        stdout.read_line(&mut line).expect("from the server");
        let line = line.trim_end().to_owned();
        if line.starts_with("e=") {
            // Kafka turns the server's `e=` into SASL_AUTHENTICATION_FAILED with its message.
            sasl.scram = None;
            fail(format!(
                "Authentication failed during authentication due to invalid credentials with SASL mechanism {chosen}"
            ))
        } else {
            if line.starts_with("v=") {
                sasl.scram = None;
                sasl.authenticated = true;
            }
            (0, None, line.into_bytes())
        }
    };
    if code == 0 && sasl.authenticated {
        sasl.logins += 1;
        sasl.steps.push("authenticated".to_owned());
    }
    let r = SaslAuthenticateResponse {
        error_code: code,
        error_message: message.as_deref(),
        auth_bytes: &bytes,
        session_lifetime_ms: 0,
        ..Default::default()
    };
    respond(
        s,
        |out| r.encode_response(&ResponseHeader::new(id), out, version),
        false,
    );
}

/// A broker requiring SASL with these mechanisms, for user `alice` with password `wonderland`.
fn sasl_broker(offered: &[&'static str], authenticate_max: i16) -> ScriptedBroker {
    let broker = ScriptedBroker::new(11, 1);
    {
        let mut s = broker.state.borrow_mut();
        s.sasl = Some(SaslServer {
            offered: offered.to_vec(),
            user: "alice",
            password: "wonderland",
            ..SaslServer::default()
        });
        s.sasl_authenticate_max = authenticate_max;
    }
    broker
}

type SaslProducer<'a> =
    Producer<'a, ScriptedBroker, NoClock, NeverDelay, Murmur2<RoundRobin>, 2, 4, 32>;

fn sasl_producer<'a>(
    broker: &'a ScriptedBroker,
    mechanism: Mechanism,
    password: &'a str,
    buffers: &'a mut Buffers<2048, 512, 512, 4>,
    rng: &'a mut common::XorShift64,
) -> SaslProducer<'a> {
    let config = Config::new(&SERVERS)
        .batch_size(512)
        .security_protocol(SecurityProtocol::SaslPlaintext)
        .sasl(mechanism, "alice", password);
    Producer::new(
        broker,
        NoClock,
        NeverDelay,
        Murmur2::new(RoundRobin::new()),
        config,
        buffers,
    )
    .expect("valid configuration")
    .with_sasl_rng(rng)
}

/// Logs in with `mechanism` (every SaslAuthenticate version), sends, reconnects (a new
/// connection logs in again), and nothing but ApiVersions and SASL comes before the login.
fn logs_in_and_delivers(mechanism: Mechanism, offered: &[&'static str]) {
    for authenticate_max in 0..=2 {
        let broker = sasl_broker(offered, authenticate_max);
        let mut buffers = Buffers::new();
        let mut rng = common::XorShift64::new(17);
        let mut p = sasl_producer(&broker, mechanism, "wonderland", &mut buffers, &mut rng);
        let t = block_on(p.send("readings", Record::new(b"v"))).expect("send");
        block_on(p.flush()).expect("flush");
        assert!(matches!(p.delivery(&t), DeliveryStatus::Delivered(_)));
        p.disconnect();
        let t = block_on(p.send("readings", Record::new(b"w"))).expect("send");
        let _ = block_on(p.wait(&t)).expect("wait").expect("delivered");
        let s = broker.state.borrow();
        let sasl = s.sasl.as_ref().expect("sasl");
        assert_eq!(
            sasl.logins,
            2,
            "{}: each connection logs in",
            mechanism.name()
        );
        assert!(
            sasl.unauthenticated.is_empty(),
            "{:?}",
            sasl.unauthenticated
        );
        let steps = if mechanism == Mechanism::Plain { 1 } else { 2 };
        let mut expected = vec![format!("handshake {}", mechanism.name())];
        expected.extend(std::iter::repeat_n("authenticate".to_owned(), steps));
        expected.extend(["authenticated".to_owned(), "Metadata".to_owned()]);
        assert_eq!(
            sasl.steps[..expected.len()],
            expected[..],
            "SaslAuthenticate v{authenticate_max}"
        );
    }
}

#[test]
fn plain_logs_in_on_every_connection_before_anything_else() {
    logs_in_and_delivers(Mechanism::Plain, &["PLAIN", "SCRAM-SHA-256"]);
}

#[cfg(feature = "scram")]
#[test]
fn scram_sha_256_and_512_log_in_against_an_independent_server() {
    logs_in_and_delivers(Mechanism::ScramSha256, &["SCRAM-SHA-256"]);
    logs_in_and_delivers(Mechanism::ScramSha512, &["SCRAM-SHA-512", "PLAIN"]);
}

/// The login failures are typed, final, and say which broker, which mechanism and what
/// Kafka said.
#[test]
fn a_wrong_password_or_mechanism_is_a_clear_final_error() {
    let mut cases = vec![(Mechanism::Plain, vec!["PLAIN"])];
    if cfg!(feature = "scram") {
        cases.push((Mechanism::ScramSha256, vec!["SCRAM-SHA-256"]));
        cases.push((Mechanism::ScramSha512, vec!["SCRAM-SHA-512"]));
    }
    for (mechanism, offered) in cases {
        let broker = sasl_broker(&offered, 2);
        let mut buffers = Buffers::new();
        let mut rng = common::XorShift64::new(5);
        let mut p = sasl_producer(&broker, mechanism, "looking-glass", &mut buffers, &mut rng);
        let e = block_on(p.send("readings", Record::new(b"v"))).expect_err("refused");
        let Error::SaslAuthentication {
            broker: addr,
            mechanism: m,
            code,
            message,
        } = &e
        else {
            panic!("{e:?}");
        };
        assert_eq!(
            (*addr, *m, *code),
            (SERVERS[0], mechanism, ErrorCode::SaslAuthenticationFailed)
        );
        assert!(
            message.as_str().starts_with("Authentication failed"),
            "{message}"
        );
        assert!(!e.is_retriable(), "a refused login is final");
        let text = e.to_string();
        assert!(
            text.contains("SASL_AUTHENTICATION_FAILED")
                && text.contains(mechanism.name())
                && text.contains("127.0.0.1:9092"),
            "{text}"
        );
        println!("{text}");
    }
    // A mechanism the broker does not have: its list in the error.
    let broker = sasl_broker(&["SCRAM-SHA-512", "OAUTHBEARER"], 2);
    let mut buffers = Buffers::new();
    let mut rng = common::XorShift64::new(5);
    let mut p = sasl_producer(
        &broker,
        Mechanism::Plain,
        "wonderland",
        &mut buffers,
        &mut rng,
    );
    let e = block_on(p.send("readings", Record::new(b"v"))).expect_err("refused");
    let text = e.to_string();
    println!("{text}");
    assert!(
        matches!(
            e,
            Error::SaslMechanism {
                mechanism: Mechanism::Plain,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        text.contains("UNSUPPORTED_SASL_MECHANISM")
            && text.contains("[SCRAM-SHA-512, OAUTHBEARER]"),
        "{text}"
    );
    assert!(!e.is_retriable());
}

/// SCRAM needs a random source for its nonce: a producer without one says so.
#[cfg(feature = "scram")]
#[test]
fn scram_without_a_random_source_is_a_configuration_error() {
    let broker = sasl_broker(&["SCRAM-SHA-256"], 2);
    let mut buffers = Buffers::<2048, 512, 512, 4>::new();
    let config = Config::new(&SERVERS)
        .batch_size(512)
        .security_protocol(SecurityProtocol::SaslPlaintext)
        .sasl(Mechanism::ScramSha256, "alice", "wonderland");
    let mut p: SaslProducer<'_> = Producer::new(
        &broker,
        NoClock,
        NeverDelay,
        Murmur2::new(RoundRobin::new()),
        config,
        &mut buffers,
    )
    .expect("valid configuration");
    let e = block_on(p.send("readings", Record::new(b"v"))).expect_err("no nonce");
    assert!(
        matches!(
            e,
            Error::Config(embedded_kafka::producer::ConfigError::ScramWithoutRng)
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("with_sasl_rng"), "{e}");
}

/// `close` with acks=0: against a broker that answers anyway (Tansu) it reads every answer
/// before closing; against one that never answers (Kafka) it waits only
/// `CLOSE_FIRST_ANSWER_MS` for a first one. Either way the connection is closed and the
/// producer can send again.
#[test]
fn close_reads_the_acks_0_answers_of_a_broker_that_sends_them_and_waits_little_for_kafka() {
    use embedded_kafka::producer::CLOSE_FIRST_ANSWER_MS;
    for mode in [Acks0::AtOnce, Acks0::Never] {
        BACKOFFS.with(|b| b.borrow_mut().clear());
        let broker = ScriptedBroker::new(11, 2);
        broker.state.borrow_mut().acks0 = Some(mode);
        let mut buffers = Buffers::new();
        let mut p = producer(&broker, &SERVERS, Acks::None, &mut buffers);
        for i in 0..5u8 {
            block_on(p.send("readings", Record::new(&[i]))).expect("send");
            block_on(p.flush()).expect("flush");
        }
        // Answers written at once were mostly drained as they came; the last is not yet.
        let summary = block_on(p.close()).expect("close");
        assert_eq!(summary.failed_batches, 0);
        assert_eq!(p.connections(), 0, "closed");
        let waited = BACKOFFS.with(|b| b.borrow().clone());
        match mode {
            Acks0::AtOnce => {
                assert_eq!(
                    p.stray_responses(),
                    p.produce_requests(),
                    "every answer read"
                );
                assert!(waited.is_empty(), "no wait once all are in: {waited:?}");
            }
            Acks0::Never => {
                assert_eq!(p.stray_responses(), 0);
                assert_eq!(waited, [CLOSE_FIRST_ANSWER_MS], "one short wait, then none");
            }
        }
        // Usable again: a new connection.
        let t = block_on(p.send("readings", Record::new(b"again"))).expect("send");
        block_on(p.flush()).expect("flush");
        assert!(matches!(p.delivery(&t), DeliveryStatus::Delivered(_)));
        assert_eq!(broker.state.borrow().connections, 2);
    }
}

/// `compression.type`: a batch is compressed once, when it is sealed, and a retry sends the
/// very same compressed bytes (the buffer holds the compressed batch from then on). Values
/// written in place by a closure stop at the same bound as the others: the batch stays within
/// what surely compresses into its buffer.
#[cfg(feature = "lz4")]
#[test]
fn a_compressed_batch_is_resent_byte_for_byte_and_decompresses_to_what_was_sent() {
    use embedded_kafka::record::{Compression, compressed_batch_bound};

    let broker = ScriptedBroker::new(11, 1);
    {
        let mut s = broker.state.borrow_mut();
        s.produce_error = ErrorCode::NotLeaderOrFollower.code();
        s.fail_first = 2;
    }
    let mut buffers = Buffers::<2048, 512, 512, 4>::new();
    let mut scratch = [0u8; 512];
    let config = Config::new(&SERVERS)
        .batch_size(512)
        .compression(Compression::Lz4);
    let mut p = Scripted::new(
        &broker,
        NoClock,
        NeverDelay,
        Murmur2::new(RoundRobin::new()),
        config,
        &mut buffers,
    )
    .expect("valid")
    .with_compression_scratch(&mut scratch);
    let values: Vec<String> = (0..5)
        .map(|i| format!("{{\"sensor\":\"node-3\",\"temp_c\":21.{i}}}"))
        .collect();
    for v in &values {
        let hs = [Header::new("seq", b"x")];
        let record = Record::new(v.as_bytes()).key(b"node-3").headers(&hs);
        block_on(p.send("readings", record)).expect("send");
    }
    let summary = block_on(p.flush()).expect("flush");
    assert_eq!((summary.retries, summary.failed_batches), (2, 0));
    let s = broker.state.borrow();
    assert_eq!(s.batches.len(), 3, "sent, failed twice, sent again");
    assert!(s.batches.iter().all(|b| b == &s.batches[0]), "same bytes");
    let Status::Complete { value: batch, .. } = RecordBatch::parse(&s.batches[0]).expect("CRC")
    else {
        panic!("incomplete batch");
    };
    assert_eq!(batch.attributes().compression(), Compression::Lz4);
    assert_eq!(batch.record_count(), 5, "one batch");
    let mut out = [0u8; 1024];
    let records: Vec<_> = batch
        .records_in(&mut out)
        .expect("decompresses")
        .map(|r| r.expect("record"))
        .collect();
    assert_eq!(records.len(), values.len());
    for (r, v) in records.iter().zip(&values) {
        assert_eq!(r.value, Some(v.as_bytes()));
        assert_eq!(r.key, Some(&b"node-3"[..]));
    }
    let plain: usize = 61 + records.len() * 60;
    assert!(s.batches[0].len() < plain, "{} bytes", s.batches[0].len());
    drop(s);

    // A 470-byte value fits the 512-byte buffer uncompressed, but not LZ4's worst case for
    // it, so it is refused as too large rather than risking an overflow at seal; the same in
    // place.
    let cap = (0..=512)
        .rev()
        .find(|&n| compressed_batch_bound(Compression::Lz4, n).unwrap() <= 512)
        .unwrap();
    let big = [b'a'; 470];
    match block_on(p.send("readings", Record::new(&big))).expect_err("too large for LZ4") {
        Error::RecordTooLarge {
            needed, available, ..
        } => assert!(
            needed > cap && available <= cap,
            "{needed} {available} {cap}"
        ),
        other => panic!("{other}"),
    }
    let e = block_on(
        p.send_with("readings", Record::default(), |out: &mut [u8]| {
            let n = 470.min(out.len());
            out[..n].fill(b'a');
            Ok(n)
        }),
    )
    .expect_err("too large for LZ4's bound");
    match e {
        Error::RecordTooLarge {
            needed, available, ..
        } => {
            assert!(
                needed > cap && available <= cap,
                "{needed} {available} {cap}"
            );
        }
        other => panic!("{other}"),
    }
}

#[test]
fn compression_needs_its_feature_and_a_scratch_buffer() {
    use embedded_kafka::producer::ConfigError;
    use embedded_kafka::record::{Compression, is_supported};

    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let v = Config::new(&SERVERS).compression(codec).validate();
        if is_supported(codec) {
            assert_eq!(v, Ok(()));
        } else {
            let e = v.expect_err("feature off");
            assert_eq!(e, ConfigError::CompressionUnavailable { codec });
            let name = codec.name();
            assert_eq!(
                e.to_string(),
                format!("compression.type = {name}: built without the `{name}` feature")
            );
        }
    }
    // What a build without the feature says, whatever this build has.
    assert_eq!(
        ConfigError::CompressionUnavailable {
            codec: Compression::Zstd
        }
        .to_string(),
        "compression.type = zstd: built without the `zstd` feature"
    );
    let unknown = Config::new(&SERVERS).compression(Compression::Unknown(6));
    assert_eq!(
        unknown.validate().map_err(|e| e.to_string()),
        Err(
            "compression.type: codec 6 is not one Kafka defines (none, gzip, snappy, lz4, zstd)"
                .to_owned()
        )
    );
    let Some(codec) = [Compression::Lz4, Compression::Gzip]
        .into_iter()
        .find(|&c| is_supported(c))
    else {
        return;
    };
    let broker = ScriptedBroker::new(11, 1);
    let mut buffers = Buffers::<2048, 512, 512, 4>::new();
    let config = Config::new(&SERVERS).batch_size(512).compression(codec);
    let mut p = Scripted::new(
        &broker,
        NoClock,
        NeverDelay,
        Murmur2::new(RoundRobin::new()),
        config,
        &mut buffers,
    )
    .expect("valid");
    let e = block_on(p.send("readings", Record::new(b"v"))).expect_err("no scratch");
    assert_eq!(
        e.to_string(),
        format!(
            "configuration: compression.type = {}: needs a 512-byte compression scratch buffer \
             (Producer::with_compression_scratch), has 0",
            codec.name()
        )
    );
}

#[test]
fn reports_come_once_each_oldest_first_across_the_ring_and_overwritten_ones_are_counted() {
    let broker = ScriptedBroker::new(9, 3);
    let mut buffers = Buffers::<2048, 512, 512, 4>::new();
    let config = Config::new(&SERVERS).acks(Acks::All).batch_size(512);
    // Four outcomes remembered: the ring wraps after four batches.
    let mut p: ScriptedWith<'_, 4> = Producer::new(
        &broker,
        NoClock,
        NeverDelay,
        Murmur2::new(RoundRobin::new()),
        config,
        &mut buffers,
    )
    .expect("valid configuration");
    // One record per flush: one batch, one outcome each, partitions in turn 0, 1, 2, 0, …
    let mut sent = 0u32;
    let mut one_batch = |p: &mut ScriptedWith<'_, 4>| {
        block_on(p.send("readings", Record::new(b"v"))).expect("send");
        block_on(p.flush()).expect("flush");
        sent += 1;
        sent - 1
    };
    let expected = |n: u32| (n % 3, Ok(Some(i64::from(n / 3))));
    let mut seen = Vec::new();
    let mut take = |p: &mut ScriptedWith<'_, 4>| {
        seen.clear();
        p.take_reports(|r| seen.push((r.partition, r.result)));
        seen.clone()
    };
    let first: Vec<_> = (0..3).map(|_| one_batch(&mut p)).collect();
    assert_eq!(
        take(&mut p),
        first.iter().map(|&n| expected(n)).collect::<Vec<_>>()
    );
    assert_eq!(take(&mut p), vec![], "nothing new: nothing reported again");
    // Three more: the ring wraps; they come out oldest first.
    let second: Vec<_> = (0..3).map(|_| one_batch(&mut p)).collect();
    assert_eq!(
        take(&mut p),
        second.iter().map(|&n| expected(n)).collect::<Vec<_>>()
    );
    assert_eq!(p.reports_dropped(), 0);
    // Six without a look: the two oldest are overwritten unseen, the last four reported.
    let third: Vec<_> = (0..6).map(|_| one_batch(&mut p)).collect();
    assert_eq!(
        take(&mut p),
        third[2..].iter().map(|&n| expected(n)).collect::<Vec<_>>()
    );
    assert_eq!(p.reports_dropped(), 2);
    assert_eq!(take(&mut p), vec![]);
}
