//! A hostile broker: a scripted Kafka broker on real loopback TCP (std threads) that answers
//! ApiVersions, Metadata (advertising itself as the leader of every partition) and
//! InitProducerId properly, and Produce with success, except that the first `times` requests
//! of the API it targets get one [`Misbehaviour`] instead of their answer. For what Tansu
//! cannot be made to do (`tests/hostile_broker.rs`, `tests/cli.rs`).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use embedded_kafka::protocol::{
    ApiKey, ApiVersion, ApiVersionsResponse, Array, InitProducerIdRequest, InitProducerIdResponse,
    MetadataRequest, MetadataResponse, MetadataResponseBroker, MetadataResponsePartition,
    MetadataResponseTopic, PartitionProduceResponse, ProduceRequest, ProduceResponse, Request,
    Response, ResponseHeader, TopicProduceResponse, decode_request_header,
};
use rand_core::RngCore;

use super::XorShift64;

/// What the broker does instead of answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misbehaviour {
    /// A frame whose size field is 0 (no correlation id), then nothing.
    ZeroLength,
    /// A frame whose size field is negative (-1), then the real answer.
    NegativeLength,
    /// A frame whose size field is 2 GiB - 1, then zeros for as long as the client reads
    /// (up to 64 MiB): a client that buffered what it was told to would run out of memory.
    HugeLength,
    /// The right answer with another correlation id.
    WrongCorrelation,
    /// 256 seeded random bytes (their first four, as a size, are whatever they are), then
    /// more every 10 ms until the client closes.
    Garbage,
    /// An HTTP reply (a non-Kafka server on the port).
    Http,
    /// Half of the right answer, then the connection closed.
    CutMidFrame,
    /// The right answer, one byte per second (slowloris).
    Slowloris,
    /// Nothing at all, the connection kept open.
    Silence,
    /// A well-framed response (right size, right correlation id) whose body is 64 seeded
    /// random bytes.
    GarbageBody,
    /// A well-framed Produce response (v9+: flexible) whose topic array claims 2^31 - 2
    /// entries and holds none. Only for Produce.
    HugeArray,
    /// Metadata whose every partition has no leader (-1, LEADER_NOT_AVAILABLE). Only for
    /// Metadata.
    NoLeader,
    /// Metadata whose every partition's leader is broker 9, which the broker list does not
    /// have. Only for Metadata.
    LeaderNotListed,
}

impl Misbehaviour {
    /// Every misbehaviour.
    pub const ALL: [Self; 9] = [
        Self::ZeroLength,
        Self::NegativeLength,
        Self::HugeLength,
        Self::WrongCorrelation,
        Self::Garbage,
        Self::Http,
        Self::CutMidFrame,
        Self::Slowloris,
        Self::Silence,
    ];

    /// Those that corrupt a well-framed response's body.
    pub const BODY: [Self; 2] = [Self::GarbageBody, Self::HugeArray];

    /// Those that send wrong Metadata.
    pub const METADATA: [Self; 2] = [Self::NoLeader, Self::LeaderNotListed];
}

/// The broker: listens until the process ends.
pub struct HostileBroker {
    addr: SocketAddr,
    /// Misbehaviours still to do.
    remaining: Arc<AtomicU32>,
    connections: Arc<AtomicU32>,
    /// Bytes written by the `HugeLength` body, all connections.
    huge_bytes: Arc<AtomicU64>,
    produced: Arc<Mutex<u32>>,
}

impl HostileBroker {
    /// Starts a broker on a free loopback port whose first `times` answers to `target`
    /// misbehave as `how` (`u32::MAX`: always).
    pub fn start(target: ApiKey, how: Misbehaviour, times: u32) -> Self {
        Self::start_with(target, how, times, false)
    }

    /// [`start`](Self::start); with `refuse_bump`, InitProducerId with a producer id (the
    /// KIP-360 epoch bump) is answered UNKNOWN_SERVER_ERROR (-1), as Tansu 0.6.0 answers it
    /// (only a request with producer id -1 gets an id there).
    pub fn start_with(target: ApiKey, how: Misbehaviour, times: u32, refuse_bump: bool) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let addr = listener.local_addr().expect("address");
        let remaining = Arc::new(AtomicU32::new(times));
        let connections = Arc::new(AtomicU32::new(0));
        let huge_bytes = Arc::new(AtomicU64::new(0));
        let produced = Arc::new(Mutex::new(0));
        let (r, c, h, p) = (
            remaining.clone(),
            connections.clone(),
            huge_bytes.clone(),
            produced.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let n = c.fetch_add(1, Ordering::SeqCst);
                let (r, h, p) = (r.clone(), h.clone(), p.clone());
                std::thread::spawn(move || {
                    serve(stream, addr, target, how, refuse_bump, &r, &h, &p, n);
                });
            }
        });
        Self {
            addr,
            remaining,
            connections,
            huge_bytes,
            produced,
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u32 {
        self.connections.load(Ordering::SeqCst)
    }

    /// Misbehaviours done so far, of the `times` asked for.
    pub fn remaining(&self) -> u32 {
        self.remaining.load(Ordering::SeqCst)
    }

    /// Bytes of the `HugeLength` body written so far (what the client took).
    pub fn huge_bytes(&self) -> u64 {
        self.huge_bytes.load(Ordering::SeqCst)
    }

    /// Records answered with success.
    pub fn produced(&self) -> u32 {
        *self.produced.lock().expect("lock")
    }
}

fn read_frame(from: &mut TcpStream) -> Option<Vec<u8>> {
    let mut size = [0u8; 4];
    from.read_exact(&mut size).ok()?;
    let len = usize::try_from(i32::from_be_bytes(size)).ok()?;
    let mut frame = vec![0u8; len];
    from.read_exact(&mut frame).ok()?;
    Some(frame)
}

#[allow(clippy::too_many_arguments)]
fn serve(
    mut stream: TcpStream,
    addr: SocketAddr,
    target: ApiKey,
    how: Misbehaviour,
    refuse_bump: bool,
    remaining: &AtomicU32,
    huge: &AtomicU64,
    produced: &Mutex<u32>,
    n: u32,
) {
    let _ = stream.set_nodelay(true);
    while let Some(body) = read_frame(&mut stream) {
        let Ok((_, header)) = decode_request_header(&body) else {
            return;
        };
        let api = ApiKey::from_key(header.request_api_key);
        // While Metadata says there is no leader, this broker is not the leader either.
        let leaderless = how == Misbehaviour::NoLeader && remaining.load(Ordering::SeqCst) > 0;
        let answer = answer(&body, addr, refuse_bump, produced, None, leaderless);
        let misbehave = api == target
            && remaining
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |r| r.checked_sub(1))
                .is_ok();
        if !misbehave {
            if stream.write_all(&answer).is_err() {
                return;
            }
            continue;
        }
        let id = header.correlation_id;
        match how {
            Misbehaviour::ZeroLength => {
                let _ = stream.write_all(&0i32.to_be_bytes());
                hold(&mut stream);
                return;
            }
            Misbehaviour::NegativeLength => {
                let _ = stream.write_all(&(-1i32).to_be_bytes());
                let _ = stream.write_all(&answer);
                hold(&mut stream);
                return;
            }
            Misbehaviour::HugeLength => {
                let _ = stream.write_all(&i32::MAX.to_be_bytes());
                let _ = stream.write_all(&id.to_be_bytes());
                let zeros = [0u8; 64 * 1024];
                let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
                for _ in 0..1024 {
                    match stream.write(&zeros) {
                        Ok(k) if k > 0 => {
                            huge.fetch_add(k as u64, Ordering::SeqCst);
                        }
                        _ => break,
                    }
                }
                hold(&mut stream);
                return;
            }
            Misbehaviour::WrongCorrelation => {
                let mut wrong = answer.clone();
                wrong[4..8].copy_from_slice(&id.wrapping_add(1000).to_be_bytes());
                if stream.write_all(&wrong).is_err() {
                    return;
                }
            }
            Misbehaviour::Garbage => {
                let mut rng = XorShift64::new(0x6a72_6261_6765 ^ u64::from(n));
                let mut junk = [0u8; 256];
                rng.fill_bytes(&mut junk);
                let _ = stream.write_all(&junk);
                let _ = stream.set_nonblocking(true);
                // More every 10 ms until the client closes (bounded: 60 s).
                let deadline = Instant::now() + Duration::from_secs(60);
                while Instant::now() < deadline {
                    rng.fill_bytes(&mut junk[..16]);
                    match stream.write(&junk[..16]) {
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => return,
                    }
                    let mut sink = [0u8; 4096];
                    if let Ok(0) = stream.read(&mut sink) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                return;
            }
            Misbehaviour::Http => {
                let _ = stream.write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
            Misbehaviour::CutMidFrame => {
                let _ = stream.write_all(&answer[..answer.len() / 2]);
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
            Misbehaviour::Slowloris => {
                let _ = stream.set_nonblocking(true);
                for b in &answer {
                    if stream.write_all(std::slice::from_ref(b)).is_err() {
                        return;
                    }
                    // A second between bytes, watching for the client closing.
                    for _ in 0..100 {
                        let mut sink = [0u8; 4096];
                        if let Ok(0) = stream.read(&mut sink) {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
                let _ = stream.set_nonblocking(false);
            }
            Misbehaviour::Silence => {
                hold(&mut stream);
                return;
            }
            Misbehaviour::NoLeader | Misbehaviour::LeaderNotListed => {
                let leader = if how == Misbehaviour::NoLeader { -1 } else { 9 };
                let wrong = self::answer(&body, addr, refuse_bump, produced, Some(leader), false);
                if stream.write_all(&wrong).is_err() {
                    return;
                }
            }
            Misbehaviour::GarbageBody | Misbehaviour::HugeArray => {
                let mut body = id.to_be_bytes().to_vec();
                if how == Misbehaviour::GarbageBody {
                    let mut junk = [0u8; 64];
                    XorShift64::new(0x626f_6479 ^ u64::from(n)).fill_bytes(&mut junk);
                    body.extend_from_slice(&junk);
                } else {
                    // No header tags, then the compact array length 2^31 - 1 (= 2^31 - 2
                    // entries) as an unsigned varint, then nothing.
                    body.extend_from_slice(&[0x00, 0xff, 0xff, 0xff, 0xff, 0x07]);
                }
                let mut frame = (body.len() as i32).to_be_bytes().to_vec();
                frame.extend_from_slice(&body);
                if stream.write_all(&frame).is_err() {
                    return;
                }
            }
        }
    }
}

/// Keeps the connection open, reading and dropping what comes, until the client closes it
/// (bounded: 120 s).
fn hold(stream: &mut TcpStream) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(120)));
    let mut sink = [0u8; 4096];
    while let Ok(k) = stream.read(&mut sink) {
        if k == 0 {
            return;
        }
    }
}

/// The proper answer to a request (size prefix included).
fn answer(
    body: &[u8],
    addr: SocketAddr,
    refuse_bump: bool,
    produced: &Mutex<u32>,
    leader: Option<i32>,
    not_leader: bool,
) -> Vec<u8> {
    let (_, header) = decode_request_header(body).expect("a request header");
    let (id, version) = (header.correlation_id, header.request_api_version);
    let mut out = vec![0u8; 8192];
    let h = ResponseHeader::new(id);
    let n = match ApiKey::from_key(header.request_api_key) {
        ApiKey::ApiVersions => {
            let keys =
                [(0, 3, 11), (3, 1, 12), (18, 0, 4), (22, 0, 5)].map(|(k, lo, hi)| ApiVersion {
                    api_key: k,
                    min_version: lo,
                    max_version: hi,
                    ..Default::default()
                });
            ApiVersionsResponse {
                api_keys: Array::from(&keys),
                ..Default::default()
            }
            .encode_response(&h, &mut out, version)
        }
        ApiKey::Metadata => {
            let (_, request) = MetadataRequest::decode_request(body).expect("metadata");
            let topics_asked: Vec<&str> = request
                .topics
                .map(|t| t.iter().filter_map(|t| t.name).collect())
                .unwrap_or_default();
            let host = addr.ip().to_string();
            let brokers = [MetadataResponseBroker {
                node_id: 0,
                host: &host,
                port: i32::from(addr.port()),
                ..Default::default()
            }];
            let parts: Vec<_> = (0..3)
                .map(|p| MetadataResponsePartition {
                    // LEADER_NOT_AVAILABLE with no leader.
                    error_code: if leader == Some(-1) { 5 } else { 0 },
                    partition_index: p,
                    leader_id: leader.unwrap_or(0),
                    ..Default::default()
                })
                .collect();
            let topics: Vec<_> = topics_asked
                .iter()
                .map(|name| MetadataResponseTopic {
                    name: Some(name),
                    partitions: Array::from(&parts[..]),
                    ..Default::default()
                })
                .collect();
            MetadataResponse {
                brokers: Array::from(&brokers),
                topics: Array::from(&topics[..]),
                ..Default::default()
            }
            .encode_response(&h, &mut out, version)
        }
        ApiKey::InitProducerId => {
            let (_, request) = InitProducerIdRequest::decode_request(body).expect("init");
            let mut ids = produced.lock().expect("lock");
            let r = if refuse_bump && request.producer_id >= 0 {
                InitProducerIdResponse {
                    error_code: -1,
                    producer_id: -1,
                    producer_epoch: -1,
                    ..Default::default()
                }
            } else {
                // A new id each time (the offsets counter serves: it only grows).
                *ids += 1;
                InitProducerIdResponse {
                    producer_id: i64::from(*ids) + 1000,
                    producer_epoch: 0,
                    ..Default::default()
                }
            };
            r.encode_response(&h, &mut out, version)
        }
        ApiKey::Produce => {
            let (_, request) = ProduceRequest::decode_request(body).expect("produce");
            let mut offsets = produced.lock().expect("lock");
            let names: Vec<(&str, Vec<PartitionProduceResponse>)> = request
                .topic_data
                .iter()
                .map(|t| {
                    let parts = t
                        .partition_data
                        .iter()
                        .map(|p| {
                            let count = p
                                .records
                                .and_then(|r| r.get(57..61))
                                .map_or(1, |c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
                            if not_leader {
                                // NOT_LEADER_OR_FOLLOWER.
                                return PartitionProduceResponse {
                                    index: p.index,
                                    error_code: 6,
                                    base_offset: -1,
                                    log_append_time_ms: -1,
                                    ..Default::default()
                                };
                            }
                            let base = i64::from(*offsets);
                            *offsets += count;
                            PartitionProduceResponse {
                                index: p.index,
                                base_offset: base,
                                log_append_time_ms: -1,
                                ..Default::default()
                            }
                        })
                        .collect();
                    (t.name, parts)
                })
                .collect();
            let topics: Vec<_> = names
                .iter()
                .map(|(name, parts)| TopicProduceResponse {
                    name,
                    partition_responses: Array::from(&parts[..]),
                    ..Default::default()
                })
                .collect();
            ProduceResponse {
                responses: Array::from(&topics[..]),
                ..Default::default()
            }
            .encode_response(&h, &mut out, version)
        }
        other => panic!("hostile broker: unexpected request {other:?}"),
    }
    .expect("the answer fits");
    out.truncate(n);
    out
}
