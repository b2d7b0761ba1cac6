//! The producer against a scripted cluster of brokers, in memory: what a real cluster does and
//! Tansu cannot be made to (BROKER.md): several brokers with a leader that moves, Kafka's
//! sequence checks for idempotent producers (OUT_OF_ORDER_SEQUENCE_NUMBER on a gap, a new
//! epoch starting at 0), partition errors on demand, throttling, a broker that never answers,
//! responses one byte per read, and pipelined requests.
//!
//! Each broker answers a request as soon as it is written; the answer waits in that
//! connection's queue until the producer reads it, so requests the producer writes before
//! reading are really in flight together.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use embedded_kafka::partition::{Murmur2, RoundRobin};
use embedded_kafka::producer::{
    Acks, Buffers, Clock, Config, Delay, DeliveryError, DeliveryStatus, Error, Producer, Record,
};
use embedded_kafka::protocol::{
    ApiKey, ApiVersion, ApiVersionsResponse, Array, ErrorCode, InitProducerIdRequest,
    InitProducerIdResponse, MetadataRequest, MetadataResponse, MetadataResponseBroker,
    MetadataResponsePartition, MetadataResponseTopic, PartitionProduceResponse, ProduceRequest,
    ProduceResponse, Request, Response, ResponseHeader, TopicProduceResponse,
    decode_request_header,
};
use embedded_kafka::record::RecordBatch;
use embedded_kafka::wire::Status;
use embedded_nal_async::TcpConnect;

/// Runs a future whose every wake-up is immediate; one still pending after many polls waits
/// for something the scripted cluster will never send.
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..100_000 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("the producer waits for something the scripted cluster will never send");
}

thread_local! {
    /// Every wait of the producer (back-offs, throttles, timeouts), on this test's thread.
    static WAITS: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

/// Time is the sum of the waits so far.
struct WaitClock;
impl Clock for WaitClock {
    fn now_ms(&self) -> u64 {
        WAITS.with(|w| w.borrow().iter().map(|&ms| u64::from(ms)).sum())
    }
}

/// Every wait passes at once and is recorded, but for a request timeout (5 s and more),
/// which passes after 1000 polls: long after a slow answer arrives (20 polls), so that it
/// fires only when a broker is silent.
struct Instant;
impl Delay for Instant {
    async fn delay_ms(&mut self, ms: u32) {
        if ms >= 5_000 {
            let mut polls = 0;
            std::future::poll_fn(|_| {
                polls += 1;
                if polls < 1_000 {
                    Poll::Pending
                } else {
                    Poll::Ready(())
                }
            })
            .await;
        }
        WAITS.with(|w| w.borrow_mut().push(ms));
    }
}

const BROKER_1: SocketAddr = addr(9101);
const BROKER_2: SocketAddr = addr(9102);

const fn addr(port: u16) -> SocketAddr {
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), port)
}

fn node_of(a: SocketAddr) -> i32 {
    i32::from(a.port() - 9100)
}

struct Link {
    remote: SocketAddr,
    inbound: Vec<u8>,
    outbound: VecDeque<u8>,
    /// Answers not readable yet (see [`State::slow`]).
    held: Vec<u8>,
    /// Reads that found nothing since the last release of held answers.
    starved: u32,
    closed: bool,
}

/// A batch a broker took or refused.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    node: i32,
    partition: i32,
    epoch: i16,
    base_sequence: i32,
    records: i32,
    code: i16,
}

#[derive(Default)]
struct State {
    links: Vec<Link>,
    partitions: i32,
    /// Each partition's leader (node id).
    leaders: Vec<i32>,
    /// Each partition's log: the values stored, in order.
    logs: HashMap<(String, i32), Vec<Vec<u8>>>,
    /// Kafka's producer state per (producer id, partition): (epoch, next sequence).
    sequences: HashMap<(i64, i32), (i16, i32)>,
    /// Errors to answer, per partition, to the next batches its leader receives.
    script: HashMap<i32, VecDeque<i16>>,
    /// throttle_time_ms of the next Produce responses.
    throttles: VecDeque<i32>,
    /// Leave the next this many requests (of any kind) unanswered.
    silent: u32,
    /// Leave the next request of each of these APIs unanswered.
    silent_api: Vec<ApiKey>,
    /// Never complete the next this many connection attempts.
    hang_connects: u32,
    /// Never complete the next this many writes (a broker that stopped reading).
    stall_writes: u32,
    /// Brokers that store the next Produce request they get, then close the connection
    /// without answering (the answer is lost).
    lose_answer_at: Vec<i32>,
    read_chunk: usize,
    /// A slow network: answers become readable only once the producer has polled for them
    /// in vain 20 times (a producer waiting for an answer polls on; one that only looks, as
    /// `poll` does, polls once per call), so requests written meanwhile are in flight together.
    slow: bool,
    seen: Vec<Seen>,
    metadata_requests: u32,
    /// (producer id, epoch) each InitProducerId asked with.
    inits: Vec<(i64, i16)>,
    epoch: i16,
    /// Error codes to answer the next InitProducerId requests with.
    init_errors: VecDeque<i16>,
    /// Producer ids given out so far (the first is 4242, each new one the next).
    ids_given: i64,
    /// Answer the next this many refused batches with log_start_offset -1 (the broker did
    /// not know it); else 0.
    log_start_unknown: u32,
}

struct ScriptedCluster {
    state: RefCell<State>,
}

impl ScriptedCluster {
    fn new(partitions: i32, leaders: &[i32]) -> Self {
        Self {
            state: RefCell::new(State {
                partitions,
                leaders: leaders.to_vec(),
                read_chunk: 1,
                ..State::default()
            }),
        }
    }

    fn log(&self, partition: usize) -> Vec<Vec<u8>> {
        let s = self.state.borrow();
        s.logs
            .get(&("t".to_owned(), partition as i32))
            .cloned()
            .unwrap_or_default()
    }
}

struct Conn<'a>(&'a ScriptedCluster, usize);

impl ErrorType for Conn<'_> {
    type Error = ErrorKind;
}

impl Read for Conn<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        std::future::poll_fn(|_| {
            let mut s = self.0.state.borrow_mut();
            let chunk = s.read_chunk;
            let link = &mut s.links[self.1];
            if link.closed {
                return Poll::Ready(Ok(0));
            }
            if link.outbound.is_empty() && !link.held.is_empty() {
                link.starved += 1;
                if link.starved >= 20 {
                    link.starved = 0;
                    let held = std::mem::take(&mut link.held);
                    link.outbound.extend(held);
                }
            }
            if link.outbound.is_empty() {
                return Poll::Pending;
            }
            let n = buf.len().min(link.outbound.len()).min(chunk);
            for b in buf.iter_mut().take(n) {
                *b = link.outbound.pop_front().expect("checked");
            }
            Poll::Ready(Ok(n))
        })
        .await
    }
}

impl Write for Conn<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        let stall = {
            let mut s = self.0.state.borrow_mut();
            let stall = s.stall_writes > 0;
            s.stall_writes = s.stall_writes.saturating_sub(1);
            stall
        };
        if stall {
            std::future::pending::<()>().await;
        }
        let mut s = self.0.state.borrow_mut();
        if s.links[self.1].closed {
            return Err(ErrorKind::BrokenPipe);
        }
        s.links[self.1].inbound.extend_from_slice(buf);
        loop {
            let link = &mut s.links[self.1];
            if link.inbound.len() < 4 {
                break;
            }
            let size = i32::from_be_bytes(link.inbound[..4].try_into().expect("4")) as usize;
            if link.inbound.len() < 4 + size {
                break;
            }
            let frame: Vec<u8> = link.inbound.drain(..4 + size).collect();
            let remote = link.remote;
            let link = self.1;
            answer(&mut s, link, node_of(remote), &frame);
        }
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

impl TcpConnect for ScriptedCluster {
    type Error = ErrorKind;
    type Connection<'a> = Conn<'a>;

    async fn connect<'a>(&'a self, remote: SocketAddr) -> Result<Conn<'a>, ErrorKind> {
        let hang = {
            let mut s = self.state.borrow_mut();
            let hang = s.hang_connects > 0;
            s.hang_connects = s.hang_connects.saturating_sub(1);
            hang
        };
        if hang {
            std::future::pending::<()>().await;
        }
        let mut s = self.state.borrow_mut();
        if ![BROKER_1, BROKER_2].contains(&remote) {
            return Err(ErrorKind::ConnectionRefused);
        }
        s.links.push(Link {
            remote,
            inbound: Vec::new(),
            outbound: VecDeque::new(),
            held: Vec::new(),
            starved: 0,
            closed: false,
        });
        Ok(Conn(self, s.links.len() - 1))
    }
}

fn respond(s: &mut State, link: usize, encode: impl FnOnce(&mut [u8]) -> usize) {
    let mut out = vec![0u8; 4096];
    let n = encode(&mut out);
    if s.slow {
        s.links[link].held.extend(&out[..n]);
    } else {
        s.links[link].outbound.extend(&out[..n]);
    }
}

/// Kafka's check of an idempotent batch: its code (0: stored).
fn check_sequence(s: &mut State, pid: i64, partition: i32, epoch: i16, base: i32, n: i32) -> i16 {
    if pid < 0 {
        return 0;
    }
    let entry = s.sequences.get(&(pid, partition)).copied();
    let ok = match entry {
        None => base == 0,
        Some((e, _)) if epoch > e => base == 0,
        Some((e, _)) if epoch < e => return ErrorCode::InvalidProducerEpoch.code(),
        Some((_, next)) if base < next => return ErrorCode::DuplicateSequenceNumber.code(),
        Some((_, next)) => base == next,
    };
    if !ok {
        return ErrorCode::OutOfOrderSequenceNumber.code();
    }
    s.sequences.insert((pid, partition), (epoch, base + n));
    0
}

/// Answers one request frame (size prefix included) that reached broker `node` on `link`.
fn answer(s: &mut State, link: usize, node: i32, frame: &[u8]) {
    let (_, header) = decode_request_header(&frame[4..]).expect("a request header");
    let (id, version) = (header.correlation_id, header.request_api_version);
    let api = ApiKey::from_key(header.request_api_key);
    if s.silent > 0 {
        s.silent -= 1;
        return;
    }
    if let Some(i) = s.silent_api.iter().position(|&a| a == api) {
        s.silent_api.remove(i);
        return;
    }
    let rh = ResponseHeader::new(id);
    match api {
        ApiKey::ApiVersions => {
            let keys = [(0, 11), (3, 12), (18, 4), (22, 5)].map(|(k, max)| ApiVersion {
                api_key: k,
                min_version: 0,
                max_version: max,
                ..Default::default()
            });
            let r = ApiVersionsResponse {
                api_keys: Array::from(&keys),
                ..Default::default()
            };
            respond(s, link, |out| {
                r.encode_response(&rh, out, version).expect("fits")
            });
        }
        ApiKey::Metadata => {
            s.metadata_requests += 1;
            let (_, request) = MetadataRequest::decode_request(&frame[4..]).expect("metadata");
            let name = request.topics.expect("topics").get(0).expect("one").name;
            let brokers = [BROKER_1, BROKER_2].map(|a| MetadataResponseBroker {
                node_id: node_of(a),
                host: "127.0.0.1",
                port: i32::from(a.port()),
                ..Default::default()
            });
            let parts: Vec<_> = (0..s.partitions)
                .map(|p| MetadataResponsePartition {
                    partition_index: p,
                    leader_id: s.leaders[p as usize],
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
            respond(s, link, |out| {
                r.encode_response(&rh, out, version).expect("fits")
            });
        }
        ApiKey::InitProducerId => {
            let (_, request) = InitProducerIdRequest::decode_request(&frame[4..]).expect("init");
            s.inits.push((request.producer_id, request.producer_epoch));
            let r = if let Some(code) = s.init_errors.pop_front() {
                InitProducerIdResponse {
                    error_code: code,
                    producer_id: -1,
                    producer_epoch: -1,
                    ..Default::default()
                }
            } else {
                if request.producer_id >= 0 {
                    s.epoch += 1;
                } else {
                    // A new producer id, epoch 0.
                    s.ids_given += 1;
                    s.epoch = 0;
                }
                InitProducerIdResponse {
                    producer_id: 4241 + s.ids_given,
                    producer_epoch: s.epoch,
                    ..Default::default()
                }
            };
            respond(s, link, |out| {
                r.encode_response(&rh, out, version).expect("fits")
            });
        }
        ApiKey::Produce => {
            let (_, request) = ProduceRequest::decode_request(&frame[4..]).expect("produce");
            let lose = s.lose_answer_at.iter().position(|&n| n == node);
            let mut topic_responses = Vec::new();
            for t in request.topic_data.iter() {
                let mut parts = Vec::new();
                for p in t.partition_data.iter() {
                    let bytes = p.records.expect("records");
                    let Status::Complete { value: batch, .. } =
                        RecordBatch::parse(bytes).expect("a valid batch (CRC checked)")
                    else {
                        panic!("incomplete batch");
                    };
                    let n = batch.record_count();
                    let scripted = s.script.get_mut(&p.index).and_then(VecDeque::pop_front);
                    let code = if s.leaders[p.index as usize] != node {
                        ErrorCode::NotLeaderOrFollower.code()
                    } else if let Some(code) = scripted {
                        code
                    } else {
                        check_sequence(
                            s,
                            batch.producer_id(),
                            p.index,
                            batch.producer_epoch(),
                            batch.base_sequence(),
                            n,
                        )
                    };
                    s.seen.push(Seen {
                        node,
                        partition: p.index,
                        epoch: batch.producer_epoch(),
                        base_sequence: batch.base_sequence(),
                        records: n,
                        code,
                    });
                    let log = s.logs.entry((t.name.to_owned(), p.index)).or_default();
                    let base = log.len() as i64;
                    if code == 0 {
                        for r in batch.records().expect("records") {
                            log.push(r.expect("a record").value.unwrap_or_default().to_vec());
                        }
                    }
                    parts.push(PartitionProduceResponse {
                        index: p.index,
                        error_code: code,
                        base_offset: if code == 0 { base } else { -1 },
                        log_append_time_ms: -1,
                        log_start_offset: if code != 0 && s.log_start_unknown > 0 {
                            s.log_start_unknown -= 1;
                            -1
                        } else {
                            0
                        },
                        ..Default::default()
                    });
                }
                topic_responses.push((t.name, parts));
            }
            let topics: Vec<_> = topic_responses
                .iter()
                .map(|(name, parts)| TopicProduceResponse {
                    name,
                    partition_responses: Array::from(&parts[..]),
                    ..Default::default()
                })
                .collect();
            if let Some(i) = lose {
                s.lose_answer_at.remove(i);
                s.links[link].closed = true;
                return;
            }
            let r = ProduceResponse {
                responses: Array::from(&topics[..]),
                throttle_time_ms: s.throttles.pop_front().unwrap_or(0),
                ..Default::default()
            };
            respond(s, link, |out| {
                r.encode_response(&rh, out, version).expect("fits")
            });
        }
        other => panic!("unexpected request {other:?}"),
    }
}

type Single<'a> = Producer<'a, ScriptedCluster, WaitClock, Instant, Murmur2<RoundRobin>, 2, 8, 64>;
type Pair<'a> = Producer<
    'a,
    ScriptedCluster,
    WaitClock,
    Instant,
    Murmur2<RoundRobin>,
    2,
    8,
    64,
    embedded_kafka::producer::NoDns,
    2,
>;
type Bufs = Buffers<2048, 512, 256, 8>;

fn config(servers: &[SocketAddr]) -> Config<'_> {
    Config::new(servers)
        .acks(Acks::All)
        .batch_size(256)
        .linger_ms(0)
        .max_in_flight(5)
        .retries(10)
        .request_timeout_ms(5_000)
        .delivery_timeout_ms(120_000)
}

fn single<'a>(
    cluster: &'a ScriptedCluster,
    config: Config<'a>,
    buffers: &'a mut Bufs,
) -> Single<'a> {
    Producer::new(
        cluster,
        WaitClock,
        Instant,
        Murmur2::new(RoundRobin::new()),
        config,
        buffers,
    )
    .expect("valid configuration")
}

/// A value that says which record it is.
fn value(i: usize) -> Vec<u8> {
    format!("record-{i:04}").into_bytes()
}

/// Values `range` in order.
fn values(range: std::ops::Range<usize>) -> Vec<Vec<u8>> {
    range.map(value).collect()
}

/// Sends records `range` to `partition`, one batch each: with `linger.ms` = 0 each send first
/// sends the batch the previous one left (no waiting for answers but for window room).
fn send_each<Pr: SendOne>(p: &mut Pr, partition: u32, range: std::ops::Range<usize>) {
    for i in range {
        p.send_one(partition, &value(i));
    }
}

trait SendOne {
    fn send_one(&mut self, partition: u32, value: &[u8]);
}

impl SendOne for Single<'_> {
    fn send_one(&mut self, partition: u32, value: &[u8]) {
        block_on(self.send("t", Record::new(value).partition(partition))).expect("send");
    }
}

impl SendOne for Pair<'_> {
    fn send_one(&mut self, partition: u32, value: &[u8]) {
        block_on(self.send("t", Record::new(value).partition(partition))).expect("send");
    }
}

#[test]
fn up_to_max_in_flight_requests_are_written_before_an_answer_is_read() {
    let cluster = ScriptedCluster::new(2, &[1, 1]);
    let mut buffers = Bufs::new();
    let mut p = single(&cluster, config(&[BROKER_1]), &mut buffers);
    block_on(p.send("t", Record::new(b"first").partition(0))).expect("send");
    block_on(p.flush()).expect("flush");
    cluster.state.borrow_mut().slow = true;
    let mut most = 0;
    for i in 0..40 {
        p.send_one((i % 2) as u32, &value(i));
        assert!(p.in_flight() <= 5, "{}", p.in_flight());
        most = most.max(p.in_flight());
    }
    assert_eq!(most, 5, "the window fills");
    // A new topic's metadata, asked for on the connection with 5 requests in flight: their
    // answers are read first, nothing is lost, the connection stays.
    let mut extra = 40;
    while p.in_flight() < 5 {
        p.send_one(1, &value(extra));
        extra += 1;
        assert!(extra < 60, "the window fills again");
    }
    block_on(p.send("u", Record::new(b"other").partition(0))).expect("send to a new topic");
    assert_eq!(
        cluster.state.borrow().links.len(),
        1,
        "one connection throughout"
    );
    let summary = block_on(p.flush()).expect("flush");
    assert_eq!(summary.failed_batches, 0, "{summary:?}");
    assert_eq!(p.in_flight(), 0);
    let mut evens: Vec<_> = (0..40).step_by(2).map(value).collect();
    evens.insert(0, b"first".to_vec());
    let mut odds: Vec<_> = (1..40).step_by(2).map(value).collect();
    odds.extend((40..extra).map(value));
    assert_eq!(cluster.log(0), evens, "each once, in order");
    assert_eq!(cluster.log(1), odds);
}

#[test]
fn idempotent_pipeline_resends_a_failed_batch_and_its_refused_successors_in_order() {
    let cluster = ScriptedCluster::new(1, &[1]);
    let mut buffers = Bufs::new();
    let mut p = single(
        &cluster,
        config(&[BROKER_1]).enable_idempotence(true),
        &mut buffers,
    );
    cluster.state.borrow_mut().slow = true;
    send_each(&mut p, 0, 0..3);
    // The next batch fails retriably; the ones written behind it meet a gap in the sequence.
    cluster
        .state
        .borrow_mut()
        .script
        .insert(0, [ErrorCode::NotEnoughReplicas.code()].into());
    send_each(&mut p, 0, 3..12);
    let summary = block_on(p.flush()).expect("flush");
    assert_eq!(summary.failed_batches, 0, "{summary:?}");
    assert_eq!(cluster.log(0), values(0..12), "every record once, in order");
    let s = cluster.state.borrow();
    let refused: Vec<_> = s
        .seen
        .iter()
        .filter(|b| b.code != 0)
        .map(|b| b.code)
        .collect();
    assert_eq!(refused[0], ErrorCode::NotEnoughReplicas.code());
    assert!(
        refused[1..]
            .iter()
            .all(|&c| c == ErrorCode::OutOfOrderSequenceNumber.code()),
        "{refused:?}"
    );
    assert!(refused.len() > 1, "successors were in flight: {refused:?}");
    assert_eq!(s.inits, [(-1, -1)], "no epoch bump: the gap was explained");
}

#[test]
fn the_leader_moves_from_broker_1_to_2_and_every_record_is_delivered_once_in_order() {
    let cluster = ScriptedCluster::new(2, &[1, 2]);
    let mut buffers = Bufs::new();
    let servers = [BROKER_1];
    let mut p: Pair<'_> = single(
        &cluster,
        config(&servers).enable_idempotence(true),
        &mut buffers,
    )
    .with_connections::<2>();
    cluster.state.borrow_mut().slow = true;
    for i in 0..20 {
        p.send_one((i % 2) as u32, &value(i));
    }
    assert_eq!(p.connections(), 2, "one per leader");
    // Partition 0 moves to broker 2 while batches are in flight to broker 1.
    cluster.state.borrow_mut().leaders[0] = 2;
    for i in 20..40 {
        p.send_one((i % 2) as u32, &value(i));
    }
    let summary = block_on(p.flush()).expect("flush");
    assert_eq!(summary.failed_batches, 0, "{summary:?}");
    let evens: Vec<_> = (0..40).step_by(2).map(value).collect();
    let odds: Vec<_> = (1..40).step_by(2).map(value).collect();
    assert_eq!(cluster.log(0), evens, "each once, in order");
    assert_eq!(cluster.log(1), odds);
    let s = cluster.state.borrow();
    assert!(
        s.seen
            .iter()
            .any(|b| b.node == 1 && b.code == ErrorCode::NotLeaderOrFollower.code()),
        "broker 1 refused once it lost the lead"
    );
    assert!(
        s.seen
            .iter()
            .any(|b| b.node == 2 && b.partition == 0 && b.code == 0)
    );
    assert!(s.metadata_requests >= 2, "metadata refreshed");
}

#[test]
fn unknown_topic_or_partition_is_retried_after_a_metadata_refresh_then_delivered() {
    let cluster = ScriptedCluster::new(1, &[1]);
    cluster
        .state
        .borrow_mut()
        .script
        .insert(0, [ErrorCode::UnknownTopicOrPartition.code(); 2].into());
    let mut buffers = Bufs::new();
    let mut p = single(&cluster, config(&[BROKER_1]), &mut buffers);
    let t = block_on(p.send("t", Record::new(b"x"))).expect("send");
    let d = block_on(p.wait(&t)).expect("wait").expect("delivered");
    assert_eq!(d.offset, Some(0));
    let s = cluster.state.borrow();
    assert_eq!(s.metadata_requests, 3, "first use, then before each retry");
    assert_eq!(cluster.log(0).len(), 1);
}

#[test]
fn out_of_order_sequence_with_no_predecessor_bumps_the_epoch_and_renumbers_from_0() {
    for code in [
        ErrorCode::OutOfOrderSequenceNumber,
        ErrorCode::UnknownProducerId,
    ] {
        WAITS.with(|w| w.borrow_mut().clear());
        let cluster = ScriptedCluster::new(2, &[1, 1]);
        let mut buffers = Bufs::new();
        let mut p = single(
            &cluster,
            config(&[BROKER_1]).enable_idempotence(true),
            &mut buffers,
        );
        send_each(&mut p, 0, 0..2);
        send_each(&mut p, 1, 100..102);
        block_on(p.flush()).expect("flush");
        cluster
            .state
            .borrow_mut()
            .script
            .insert(0, [code.code()].into());
        send_each(&mut p, 0, 2..4);
        send_each(&mut p, 1, 102..103);
        let summary = block_on(p.flush()).expect("flush");
        assert_eq!(summary.failed_batches, 0, "{code:?}: {summary:?}");
        assert_eq!(cluster.log(0), values(0..4), "{code:?}");
        assert_eq!(cluster.log(1), values(100..103), "{code:?}");
        let s = cluster.state.borrow();
        assert_eq!(s.inits, [(-1, -1), (4242, 0)], "{code:?}: KIP-360 bump");
        assert_eq!(p.producer_id(), Some((4242, 1)));
        // After the bump each partition starts again at 0 with epoch 1.
        let after: Vec<_> = s
            .seen
            .iter()
            .filter(|b| b.epoch == 1 && b.code == 0)
            .map(|b| (b.partition, b.base_sequence))
            .collect();
        assert!(after.contains(&(0, 0)), "{code:?}: {after:?}");
        drop(s);
        // Partition 1 did not break: its batches before the bump kept epoch 0, the ones after
        // start at 0 in epoch 1.
        send_each(&mut p, 1, 103..104);
        block_on(p.flush()).expect("flush");
        let s = cluster.state.borrow();
        let p1: Vec<_> = s
            .seen
            .iter()
            .filter(|b| b.partition == 1)
            .map(|b| (b.epoch, b.base_sequence, b.code))
            .collect();
        assert_eq!(p1, [(0, 0, 0), (0, 1, 0), (1, 0, 0), (1, 1, 0)], "{code:?}");
        assert_eq!(cluster.log(1), values(100..104), "{code:?}");
    }
}

#[test]
fn every_retriable_produce_error_is_retried_then_delivered() {
    // The partition-level errors Kafka's ProduceResponse lists that its client retries.
    let retriable = [
        ErrorCode::CorruptMessage,
        ErrorCode::UnknownTopicOrPartition,
        ErrorCode::LeaderNotAvailable,
        ErrorCode::NotLeaderOrFollower,
        ErrorCode::RequestTimedOut,
        ErrorCode::NotEnoughReplicas,
        ErrorCode::NotEnoughReplicasAfterAppend,
        ErrorCode::KafkaStorageError,
    ];
    for code in retriable {
        assert!(code.is_retriable(), "{code}");
        let cluster = ScriptedCluster::new(1, &[1]);
        cluster
            .state
            .borrow_mut()
            .script
            .insert(0, [code.code()].into());
        let mut buffers = Bufs::new();
        let mut p = single(&cluster, config(&[BROKER_1]), &mut buffers);
        let t = block_on(p.send("t", Record::new(b"x"))).expect("send");
        let summary = block_on(p.flush()).expect("flush");
        assert_eq!((summary.retries, summary.failed_batches), (1, 0), "{code}");
        assert!(
            matches!(p.delivery(&t), DeliveryStatus::Delivered(_)),
            "{code}"
        );
        assert_eq!(cluster.log(0).len(), 1, "{code}");
    }
}

#[test]
fn a_non_retriable_error_fails_its_batch_with_kafkas_name_and_message() {
    let cluster = ScriptedCluster::new(1, &[1]);
    cluster
        .state
        .borrow_mut()
        .script
        .insert(0, [ErrorCode::MessageTooLarge.code()].into());
    let mut buffers = Bufs::new();
    let mut p = single(&cluster, config(&[BROKER_1]), &mut buffers);
    let t = block_on(p.send("t", Record::new(b"x"))).expect("send");
    let e = block_on(p.wait(&t)).expect("wait").expect_err("failed");
    assert_eq!(
        e,
        DeliveryError::Broker {
            code: ErrorCode::MessageTooLarge,
            partition: 0
        }
    );
    let text = e.to_string();
    assert!(text.contains("MESSAGE_TOO_LARGE"), "{text}");
    assert!(
        text.contains(ErrorCode::MessageTooLarge.message()),
        "{text}"
    );
    assert_eq!(cluster.state.borrow().seen.len(), 1, "not retried");
}

#[test]
fn a_throttled_broker_is_not_sent_to_before_its_throttle_time_has_passed() {
    let cluster = ScriptedCluster::new(1, &[1]);
    cluster.state.borrow_mut().throttles.push_back(700);
    let mut buffers = Bufs::new();
    let mut p = single(&cluster, config(&[BROKER_1]), &mut buffers);
    let t = block_on(p.send("t", Record::new(b"a"))).expect("send");
    block_on(p.wait(&t)).expect("wait").expect("delivered");
    assert!(WAITS.with(|w| w.borrow().is_empty()));
    let t = block_on(p.send("t", Record::new(b"b"))).expect("send");
    block_on(p.wait(&t)).expect("wait").expect("delivered");
    // KIP-219: the whole throttle time waited before the next request to that broker.
    assert_eq!(WAITS.with(|w| w.borrow().clone()), [700]);
    assert_eq!(cluster.log(0), [b"a".to_vec(), b"b".to_vec()]);
}

#[test]
fn a_broker_that_never_answers_times_out_with_a_typed_error_then_the_producer_recovers() {
    let cluster = ScriptedCluster::new(1, &[1]);
    cluster.state.borrow_mut().silent = 1;
    let mut buffers = Bufs::new();
    let mut p = single(&cluster, config(&[BROKER_1]), &mut buffers);
    let e = block_on(p.send("t", Record::new(b"x"))).expect_err("no answer");
    assert_eq!(
        e,
        Error::Timeout {
            api: ApiKey::ApiVersions,
            broker: BROKER_1,
            ms: 5_000
        }
    );
    assert!(e.is_retriable());
    let t = block_on(p.send("t", Record::new(b"x"))).expect("recovered");
    block_on(p.wait(&t)).expect("wait").expect("delivered");
    // A Produce request left unanswered: timed out, the connection dropped, sent again.
    cluster.state.borrow_mut().silent = 1;
    let t = block_on(p.send("t", Record::new(b"y"))).expect("send");
    block_on(p.wait(&t))
        .expect("wait")
        .expect("delivered after a timeout");
    assert_eq!(cluster.log(0), [b"x".to_vec(), b"y".to_vec()]);
    assert!(cluster.state.borrow().links.len() >= 3, "new connections");
}

#[test]
fn connect_metadata_and_init_producer_id_are_each_bounded_by_the_request_timeout() {
    let cluster = ScriptedCluster::new(1, &[1]);
    let mut buffers = Bufs::new();
    let mut p = single(
        &cluster,
        config(&[BROKER_1]).enable_idempotence(true),
        &mut buffers,
    );
    cluster.state.borrow_mut().hang_connects = 1;
    let e = block_on(p.send("t", Record::new(b"x"))).expect_err("no connection");
    assert_eq!(
        e,
        Error::ConnectTimeout {
            broker: BROKER_1,
            ms: 5_000
        }
    );
    assert!(e.is_retriable());
    assert_eq!(
        e.to_string(),
        "no connection to broker 127.0.0.1:9101 within 5000 ms"
    );
    for api in [ApiKey::InitProducerId, ApiKey::Metadata] {
        cluster.state.borrow_mut().silent_api.push(api);
        let e = block_on(p.send("t", Record::new(b"x"))).expect_err("no answer");
        assert_eq!(
            e,
            Error::Timeout {
                api,
                broker: BROKER_1,
                ms: 5_000
            }
        );
    }
    // Then everything answers again.
    let t = block_on(p.send("t", Record::new(b"x"))).expect("recovered");
    block_on(p.wait(&t)).expect("wait").expect("delivered");
    assert_eq!(cluster.log(0), [b"x".to_vec()]);
    assert_eq!(p.producer_id(), Some((4242, 0)));
}

#[test]
fn poll_alone_sends_a_batch_again_once_its_back_off_is_over() {
    let cluster = ScriptedCluster::new(1, &[1]);
    cluster
        .state
        .borrow_mut()
        .script
        .insert(0, [ErrorCode::NotEnoughReplicas.code()].into());
    let mut buffers = Bufs::new();
    let mut p = single(&cluster, config(&[BROKER_1]), &mut buffers);
    let t = block_on(p.send("t", Record::new(b"x"))).expect("send");
    // Sent (linger.ms = 0), refused, marked to go again: nothing waits in poll.
    for _ in 0..3 {
        block_on(p.poll()).expect("poll");
    }
    assert_eq!(p.delivery(&t), DeliveryStatus::Pending);
    assert_eq!(cluster.state.borrow().seen.len(), 1);
    assert!(
        WAITS.with(|w| w.borrow().is_empty()),
        "poll never waits out a back-off"
    );
    // Time passes beyond the back-off (100 ms ± 20 %).
    WAITS.with(|w| w.borrow_mut().push(150));
    for _ in 0..3 {
        block_on(p.poll()).expect("poll");
    }
    assert!(matches!(p.delivery(&t), DeliveryStatus::Delivered(_)));
    assert_eq!(cluster.log(0), [b"x".to_vec()]);
}

#[test]
fn a_broker_that_stops_reading_times_the_write_out_and_the_batch_goes_again() {
    let cluster = ScriptedCluster::new(1, &[1]);
    let mut buffers = Bufs::new();
    let mut p = single(&cluster, config(&[BROKER_1]), &mut buffers);
    let t = block_on(p.send("t", Record::new(b"a"))).expect("send");
    block_on(p.wait(&t)).expect("wait").expect("delivered");
    cluster.state.borrow_mut().stall_writes = 1;
    let t = block_on(p.send("t", Record::new(b"b"))).expect("send");
    let summary = block_on(p.flush()).expect("flush");
    assert_eq!(
        (summary.retries, summary.failed_batches),
        (1, 0),
        "{summary:?}"
    );
    assert!(matches!(p.delivery(&t), DeliveryStatus::Delivered(_)));
    assert_eq!(cluster.log(0), [b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(cluster.state.borrow().links.len(), 2, "a new connection");
}

#[test]
fn an_epoch_bump_leaves_other_partitions_sequences_so_a_lost_answer_is_still_a_duplicate() {
    // Partition 0 on broker 1 breaks its sequence while partition 1's batch was stored by
    // broker 2 whose answer was lost: after the bump that batch goes again with its old epoch
    // and sequence, and the broker knows it (DUPLICATE_SEQUENCE_NUMBER): stored once.
    let cluster = ScriptedCluster::new(2, &[1, 2]);
    let mut buffers = Bufs::new();
    let servers = [BROKER_1];
    let mut p: Pair<'_> = single(
        &cluster,
        config(&servers).enable_idempotence(true),
        &mut buffers,
    )
    .with_connections::<2>();
    p.send_one(0, &value(0));
    p.send_one(1, &value(100));
    block_on(p.flush()).expect("flush");
    {
        let mut s = cluster.state.borrow_mut();
        s.script
            .insert(0, [ErrorCode::OutOfOrderSequenceNumber.code()].into());
        s.lose_answer_at.push(2);
    }
    p.send_one(0, &value(1));
    p.send_one(1, &value(101));
    let summary = block_on(p.flush()).expect("flush");
    assert_eq!(summary.failed_batches, 0, "{summary:?}");
    assert_eq!(cluster.log(0), values(0..2));
    assert_eq!(cluster.log(1), values(100..102), "stored once");
    let s = cluster.state.borrow();
    assert_eq!(s.inits, [(-1, -1), (4242, 0)]);
    let p1: Vec<_> = s
        .seen
        .iter()
        .filter(|b| b.partition == 1)
        .map(|b| (b.epoch, b.base_sequence, b.code))
        .collect();
    assert_eq!(
        p1,
        [
            (0, 0, 0),
            (0, 1, 0),
            (0, 1, ErrorCode::DuplicateSequenceNumber.code())
        ]
    );
}

/// A batch that fails for good bumps the epoch; a broker that refuses the bump (a restarted
/// one that lost the producer states: Tansu answers UNKNOWN_SERVER_ERROR) is asked for a new
/// producer id instead. When that is refused too, the batches waiting for the bump fail
/// (never sent: `NotSent`), the flush says why, and no record is left pending after it; the
/// next flush bumps and delivers.
#[test]
fn a_refused_epoch_bump_takes_a_new_producer_id_and_no_flush_leaves_a_record_pending() {
    for refusals in [1, 2] {
        let cluster = ScriptedCluster::new(2, &[1, 1]);
        let mut buffers = Bufs::new();
        let mut p = single(
            &cluster,
            config(&[BROKER_1])
                .enable_idempotence(true)
                .max_in_flight(1)
                .linger_ms(60_000),
            &mut buffers,
        );
        // One record per batch (256-byte batches).
        let big = |i: usize| {
            let mut v = value(i);
            v.resize(150, b'.');
            v
        };
        let (a, a2, b) = (big(0), big(1), big(100));
        {
            let mut s = cluster.state.borrow_mut();
            s.script
                .insert(0, [ErrorCode::MessageTooLarge.code()].into());
        }
        let ta = block_on(p.send("t", Record::new(&a).partition(0))).expect("send");
        // `a` does not fit: its batch is sealed and sent (the window of 1 is then full).
        let ta2 = block_on(p.send("t", Record::new(&a2).partition(0))).expect("send");
        let tb = block_on(p.send("t", Record::new(&b).partition(1))).expect("send");
        cluster.state.borrow_mut().init_errors =
            vec![ErrorCode::UnknownServerError.code(); refusals].into();
        // The flush reads `a`'s answer (failed for good: a gap, so a bump) before `a2` and `b`
        // may go.
        let flushed = block_on(p.flush());
        for t in [&ta, &ta2, &tb] {
            assert!(
                !matches!(p.delivery(t), DeliveryStatus::Pending),
                "{refusals} refusals: a record of partition {} pending after the flush",
                t.partition
            );
        }
        assert_eq!(
            p.delivery(&ta),
            DeliveryStatus::Failed(DeliveryError::Broker {
                code: ErrorCode::MessageTooLarge,
                partition: 0
            })
        );
        let inits = cluster.state.borrow().inits.clone();
        if refusals == 1 {
            // Bump refused, a new producer id given: the batches waiting go (partition 0's
            // numbered from 0 under it).
            let summary = flushed.expect("a failed batch is an outcome, not a flush error");
            assert_eq!(summary.failed_batches, 1, "{summary:?}");
            assert!(matches!(p.delivery(&ta2), DeliveryStatus::Delivered(_)));
            assert!(matches!(p.delivery(&tb), DeliveryStatus::Delivered(_)));
            assert_eq!(inits, [(-1, -1), (4242, 0), (-1, -1)]);
            assert_eq!(p.producer_id(), Some((4243, 0)));
            assert_eq!(cluster.log(0), vec![a2.clone()]);
            assert_eq!(cluster.log(1), vec![b.clone()]);
        } else {
            let e = flushed.expect_err("no producer id could be had");
            let text = e.to_string();
            assert!(
                text.contains("InitProducerId") && text.contains("UNKNOWN_SERVER_ERROR"),
                "{text}"
            );
            for (t, partition) in [(&ta2, 0), (&tb, 1)] {
                assert_eq!(
                    p.delivery(t),
                    DeliveryStatus::Failed(DeliveryError::NotSent { partition })
                );
            }
            assert!(cluster.log(0).is_empty() && cluster.log(1).is_empty());
        }
        // Later records are delivered.
        let (c, d) = (big(2), big(101));
        let tc = block_on(p.send("t", Record::new(&c).partition(0))).expect("send");
        let td = block_on(p.send("t", Record::new(&d).partition(1))).expect("send");
        block_on(p.flush()).expect("the bump is made if due, then the records go");
        assert!(matches!(p.delivery(&tc), DeliveryStatus::Delivered(_)));
        assert!(matches!(p.delivery(&td), DeliveryStatus::Delivered(_)));
        assert_eq!(cluster.log(0).last(), Some(&c), "{refusals} refusals");
        assert_eq!(cluster.log(1).last(), Some(&d), "{refusals} refusals");
        if refusals == 2 {
            assert_eq!(p.producer_id(), Some((4242, 1)), "bumped at last");
        }
    }
}

/// UNKNOWN_PRODUCER_ID whose answer does not know the log start offset (-1: the partition
/// moved away while the broker answered) is retried as it is, without an epoch bump, as the
/// Java client does; with a log start offset it bumps (the test above).
#[test]
fn unknown_producer_id_without_a_log_start_offset_is_retried_without_a_bump() {
    let cluster = ScriptedCluster::new(1, &[1]);
    let mut buffers = Bufs::new();
    let mut p = single(
        &cluster,
        config(&[BROKER_1]).enable_idempotence(true),
        &mut buffers,
    );
    send_each(&mut p, 0, 0..2);
    block_on(p.flush()).expect("flush");
    {
        let mut s = cluster.state.borrow_mut();
        s.script
            .insert(0, [ErrorCode::UnknownProducerId.code()].into());
        s.log_start_unknown = 1;
    }
    send_each(&mut p, 0, 2..4);
    let summary = block_on(p.flush()).expect("flush");
    assert_eq!(summary.failed_batches, 0, "{summary:?}");
    // The refused batch, and the one in flight behind it (OUT_OF_ORDER_SEQUENCE_NUMBER).
    assert_eq!(summary.retries, 2, "{summary:?}");
    assert_eq!(cluster.log(0), values(0..4));
    let s = cluster.state.borrow();
    assert_eq!(s.inits, [(-1, -1)], "no epoch bump");
    assert_eq!(p.producer_id(), Some((4242, 0)));
    assert!(s.seen.iter().all(|b| b.epoch == 0), "{:?}", s.seen);
    assert_eq!(
        (s.seen[2].base_sequence, s.seen[2].code),
        (2, ErrorCode::UnknownProducerId.code())
    );
    let stored: Vec<_> = s
        .seen
        .iter()
        .filter(|b| b.code == 0)
        .map(|b| b.base_sequence)
        .collect();
    assert_eq!(
        stored,
        [0, 1, 2, 3],
        "the same batches again, same sequences"
    );
}

/// `wait_timeout` against a slow broker (answers readable only after the producer has polled
/// for them a while): the deadline passes first, so it says `WaitTimeout` and only stops
/// waiting — the record stays pending, its request in flight on the same connection, nothing
/// half-read lost — and a later `wait` gets the answer to that same request: delivered once,
/// on the one connection. A broker that never answers: `WaitTimeout` again, then `wait` runs
/// into the request timeout, sends the batch again, and it is delivered once.
#[test]
fn wait_timeout_stops_waiting_without_abandoning_the_record() {
    let cluster = ScriptedCluster::new(1, &[1]);
    let mut buffers = Bufs::new();
    // `Instant` lets waits under 5 s pass at once: the request timeout, counted from when the
    // request was written, must stay above that once `wait_timeout`'s 50 ms have passed.
    let config = config(&[BROKER_1]).request_timeout_ms(10_000);
    let mut p = single(&cluster, config, &mut buffers);
    let t = block_on(p.send("t", Record::new(b"first"))).expect("send");
    block_on(p.wait(&t)).expect("wait").expect("delivered");
    cluster.state.borrow_mut().slow = true;
    let t = block_on(p.send("t", Record::new(b"slow"))).expect("send");
    let e = block_on(p.wait_timeout(&t, 50)).expect_err("the deadline comes first");
    assert_eq!(e, Error::WaitTimeout { ms: 50 });
    assert!(e.is_retriable());
    assert_eq!(p.delivery(&t), DeliveryStatus::Pending);
    assert_eq!(p.in_flight(), 1, "the request is still in flight");
    let d = block_on(p.wait_timeout(&t, 60_000))
        .expect("wait")
        .expect("delivered");
    assert_eq!(d.offset, Some(1));
    assert_eq!(cluster.log(0), [b"first".to_vec(), b"slow".to_vec()]);
    assert_eq!(cluster.state.borrow().links.len(), 1, "one connection");

    cluster.state.borrow_mut().slow = false;
    cluster.state.borrow_mut().silent = 1;
    let t = block_on(p.send("t", Record::new(b"lost answer"))).expect("send");
    let e = block_on(p.wait_timeout(&t, 100)).expect_err("no answer");
    assert_eq!(e, Error::WaitTimeout { ms: 100 });
    assert_eq!(p.delivery(&t), DeliveryStatus::Pending);
    block_on(p.wait(&t))
        .expect("wait")
        .expect("delivered after the request timeout");
    assert_eq!(
        cluster.log(0),
        [b"first".to_vec(), b"slow".to_vec(), b"lost answer".to_vec()]
    );
}
