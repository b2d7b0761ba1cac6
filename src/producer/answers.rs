//! The ApiVersions, Metadata and Produce answers read by hand, in one pass: only what the
//! producer uses (the versions to negotiate; the brokers' ids and addresses, the asked topic's
//! error code and each partition's leader; each partition's error code and offsets) is taken,
//! and every other field is stepped over with its framing checked, so that a body the
//! generated decoder refuses for its framing (cut short, a length past the end, a count past
//! the body, bytes left over, tags out of order) is refused here too. The generated decoders
//! build every field of every version (tagged fields included) and walk the arrays twice (once
//! to check, once to read); a firmware carries a fraction of them this way. The tests check
//! these readers against the generated decoders at every version.
use super::metadata::{MAX_BROKERS, MAX_PARTITIONS};
use crate::protocol::{
    ApiKey, ErrorCode, NegotiatedVersions, VersionError, response_header_version,
};
use crate::wire::DecodeError;
use crate::wire::decode::{self, IResult, within};

/// What the producer takes from a Metadata response.
pub(super) struct MetadataAnswer<'b> {
    /// The first [`MAX_BROKERS`] brokers listed: node id, host, port (the first `n_brokers`).
    pub(super) brokers: [(i32, &'b str, i32); MAX_BROKERS],
    pub(super) n_brokers: usize,
    /// The topic asked about, if listed (its first entry).
    pub(super) topic: Option<TopicAnswer>,
}

/// What the producer takes of its topic.
pub(super) struct TopicAnswer {
    pub(super) error_code: i16,
    /// Partitions listed.
    pub(super) partitions: usize,
    /// The leader of each partition (by index, the first [`MAX_PARTITIONS`]; -1 if not listed).
    pub(super) leaders: [i32; MAX_PARTITIONS],
    /// The first partition listed whose error is not retriable, and that error.
    pub(super) failed: Option<(i32, ErrorCode)>,
}

/// Reads the Metadata response `frame` (everything after the 4-byte size: header, body) to a
/// request for `topic` sent at `version`.
pub(super) fn metadata<'b>(
    frame: &'b [u8],
    version: i16,
    topic: &str,
) -> Result<MetadataAnswer<'b>, DecodeError> {
    let body = body(frame, ApiKey::Metadata, version)?;
    let mut c = Cursor::new(body, version >= 9, "MetadataResponse");
    if version >= 3 {
        c.i32(); // throttle_time_ms
    }
    let mut answer = MetadataAnswer {
        brokers: [(0, "", 0); MAX_BROKERS],
        n_brokers: 0,
        topic: None,
    };
    for _ in 0..c.len("MetadataResponse.brokers") {
        let node_id = c.i32();
        let host = c.string();
        let port = c.i32();
        c.nullable_string(); // rack
        c.tags();
        if let Some(b) = answer.brokers.get_mut(answer.n_brokers) {
            *b = (node_id, host, port);
            answer.n_brokers += 1;
        }
    }
    if version >= 2 {
        c.nullable_string(); // cluster_id
    }
    c.i32(); // controller_id
    for _ in 0..c.len("MetadataResponse.topics") {
        let error_code = c.i16();
        let name = if version >= 12 {
            c.nullable_string()
        } else {
            Some(c.string())
        };
        if version >= 10 {
            c.skip(16); // topic_id
        }
        c.skip(1); // is_internal (v1+, the least version spoken)
        let partitions = c.len("MetadataResponseTopic.partitions");
        let mut t = TopicAnswer {
            error_code,
            partitions,
            leaders: [-1; MAX_PARTITIONS],
            failed: None,
        };
        for _ in 0..partitions {
            let code = ErrorCode::from_code(c.i16());
            let index = c.i32();
            let leader = c.i32();
            if version >= 7 {
                c.i32(); // leader_epoch
            }
            c.int32s("MetadataResponsePartition.replica_nodes"); // replica_nodes
            c.int32s("MetadataResponsePartition.isr_nodes"); // isr_nodes
            if version >= 5 {
                c.int32s("MetadataResponsePartition.offline_replicas"); // offline_replicas
            }
            c.tags();
            if code.is_error() && !code.is_retriable() && t.failed.is_none() {
                t.failed = Some((index, code));
            }
            if let Some(l) = usize::try_from(index)
                .ok()
                .and_then(|i| t.leaders.get_mut(i))
            {
                *l = leader;
            }
        }
        if version >= 8 {
            c.i32(); // topic_authorized_operations
        }
        c.tags();
        if answer.topic.is_none() && name == Some(topic) {
            answer.topic = Some(t);
        }
    }
    if (8..=10).contains(&version) {
        c.i32(); // cluster_authorized_operations
    }
    c.tags();
    c.end()?;
    Ok(answer)
}

/// What the producer takes of one partition's answer in a Produce response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PartitionAnswer {
    pub(super) index: i32,
    pub(super) error_code: i16,
    pub(super) base_offset: i64,
    pub(super) log_append_time_ms: i64,
    /// -1 before v5.
    pub(super) log_start_offset: i64,
}

/// Reads the Produce response `frame` (header, body) to a request sent at `version`, calling
/// `each` with every partition answer in order, with the index of its topic entry in the
/// response and the topic's name; returns `throttle_time_ms`. A frame that does not decode
/// may have called `each` for the partitions before the fault: the caller keeps nothing then.
pub(super) fn produce(
    frame: &[u8],
    version: i16,
    each: &mut dyn FnMut(usize, &str, PartitionAnswer),
) -> Result<i32, DecodeError> {
    let body = body(frame, ApiKey::Produce, version)?;
    let mut c = Cursor::new(body, version >= 9, "ProduceResponse");
    for topic in 0..c.len("ProduceResponse.responses") {
        let name = c.string();
        for _ in 0..c.len("TopicProduceResponse.partition_responses") {
            let index = c.i32();
            let error_code = c.i16();
            let base_offset = c.i64();
            let log_append_time_ms = c.i64();
            let log_start_offset = if version >= 5 { c.i64() } else { -1 };
            if version >= 8 {
                for _ in 0..c.len("PartitionProduceResponse.record_errors") {
                    c.i32(); // batch_index
                    c.nullable_string(); // batch_index_error_message
                    c.tags();
                }
                c.nullable_string(); // error_message
            }
            c.tags(); // current_leader (v10+) among them
            if c.error.is_some() {
                break;
            }
            each(
                topic,
                name,
                PartitionAnswer {
                    index,
                    error_code,
                    base_offset,
                    log_append_time_ms,
                    log_start_offset,
                },
            );
        }
        c.tags();
    }
    let throttle_time_ms = c.i32();
    c.tags(); // node_endpoints (v10+) among them
    c.end()?;
    Ok(throttle_time_ms)
}

/// `UNSUPPORTED_VERSION`: the error code of an ApiVersions response to a version the broker
/// does not speak, written at v0 whatever the request's version.
const UNSUPPORTED_VERSION: i16 = 35;

/// Reads the ApiVersions response `body` (after the correlation id: its header is v0 at every
/// version) to a request sent at `version` (at v0 if the broker answered UNSUPPORTED_VERSION,
/// as the Java client reads it), negotiating while it reads: the error code, and the
/// negotiated versions or why one of `required` cannot be used. The broker's features (tagged
/// fields of v3+) are checked to be well framed, not read.
pub(super) fn api_versions(
    body: &[u8],
    version: i16,
    required: &[ApiKey],
) -> Result<(i16, Result<NegotiatedVersions, VersionError>), DecodeError> {
    let mut c = Cursor::new(body, false, "ApiVersionsResponse");
    let error_code = c.i16();
    let version = if error_code == UNSUPPORTED_VERSION {
        0
    } else {
        version
    };
    check(ApiKey::ApiVersions, version)?;
    c.flexible = version >= 3;
    let mut left = c.len("ApiVersionsResponse.api_keys");
    let negotiated = NegotiatedVersions::from_broker(
        core::iter::from_fn(|| {
            if left == 0 || c.error.is_some() {
                return None;
            }
            left -= 1;
            let key = (c.i16(), c.i16(), c.i16());
            c.tags();
            Some(key)
        }),
        required,
    );
    if version >= 1 {
        c.i32(); // throttle_time_ms
    }
    c.tags();
    c.end()?;
    Ok((error_code, negotiated))
}

/// Fails unless this crate speaks `version` of `api`.
fn check(api: ApiKey, version: i16) -> Result<(), DecodeError> {
    if api.supported().is_some_and(|r| r.contains(version)) {
        Ok(())
    } else {
        Err(DecodeError::UnsupportedVersion {
            api: api.key(),
            version,
        })
    }
}

/// Checks `version` of `api` and reads past the response header of `frame` (the correlation
/// id, which the connection has matched, and in header v1 tagged fields): the body.
fn body(frame: &[u8], api: ApiKey, version: i16) -> Result<&[u8], DecodeError> {
    check(api, version)?;
    let mut c = Cursor::new(
        frame,
        response_header_version(api, version) >= 1,
        "ResponseHeader",
    );
    c.skip(4);
    c.tags();
    match c.error {
        Some(e) => Err(e),
        None => Ok(c.rest),
    }
}

/// The unread rest of a body, whether its version is flexible (compact lengths, tagged
/// fields), and the first error met. A read that fails records its error, empties the rest
/// and gives a default value, and so does every read after it: the readers above check once,
/// at the end, instead of after every field (each of those checks cost flash), and throw away
/// what they read when there was an error.
struct Cursor<'b> {
    rest: &'b [u8],
    flexible: bool,
    /// What errors say was being read: the answer's name.
    what: &'static str,
    error: Option<DecodeError>,
}

impl<'b> Cursor<'b> {
    fn new(rest: &'b [u8], flexible: bool, what: &'static str) -> Self {
        Self {
            rest,
            flexible,
            what,
            error: None,
        }
    }

    fn run<T: Default>(&mut self, read: IResult<'b, T>) -> T {
        match within(self.what, read) {
            Ok((rest, value)) => {
                self.rest = rest;
                value
            }
            Err(e) => {
                self.fail(e);
                T::default()
            }
        }
    }

    fn fail(&mut self, e: DecodeError) {
        self.error.get_or_insert(e);
        self.rest = &[];
    }

    fn i16(&mut self) -> i16 {
        self.run(decode::i16(self.rest))
    }

    fn i32(&mut self) -> i32 {
        self.run(decode::i32(self.rest))
    }

    fn i64(&mut self) -> i64 {
        self.run(decode::i64(self.rest))
    }

    fn skip(&mut self, n: usize) {
        self.run(decode::take(self.rest, n));
    }

    fn string(&mut self) -> &'b str {
        self.run(if self.flexible {
            decode::compact_string(self.rest)
        } else {
            decode::string(self.rest)
        })
    }

    fn nullable_string(&mut self) -> Option<&'b str> {
        self.run(if self.flexible {
            decode::compact_nullable_string(self.rest)
        } else {
            decode::nullable_string(self.rest)
        })
    }

    /// The length of the array `what` (not null). A count larger than the bytes left is
    /// refused at once (every entry takes a byte at least): the loops over entries stay as
    /// short as the body.
    fn len(&mut self, what: &'static str) -> usize {
        let n = self.run(if self.flexible {
            decode::compact_array_len(self.rest)
        } else {
            decode::array_len(self.rest)
        });
        if n > self.rest.len() {
            let left = self.rest.len();
            self.fail(DecodeError::TooManyEntries {
                what,
                count: n,
                left,
            });
            return 0;
        }
        n
    }

    /// The array `what` of `INT32`, stepped over.
    fn int32s(&mut self, what: &'static str) {
        let n = self.len(what);
        self.skip(n.saturating_mul(4));
    }

    /// A tagged-field section (flexible versions only: a count, then `tag size data` each,
    /// tags strictly increasing), checked and stepped over.
    fn tags(&mut self) {
        if !self.flexible {
            return;
        }
        let mut previous = None;
        for _ in 0..self.uvarint() {
            let tag = self.uvarint();
            if let Some(p) = previous
                && tag <= p
            {
                self.fail(DecodeError::TagOutOfOrder {
                    previous: p,
                    found: tag,
                });
            }
            if self.error.is_some() {
                return;
            }
            previous = Some(tag);
            let size = self.uvarint() as usize;
            self.skip(size);
        }
    }

    fn uvarint(&mut self) -> u32 {
        self.run(decode::uvarint(self.rest))
    }

    /// The first error, or one for bytes left after the body.
    fn end(self) -> Result<(), DecodeError> {
        match self.error {
            Some(e) => Err(e),
            None if self.rest.is_empty() => Ok(()),
            None => Err(DecodeError::TrailingBytes {
                what: "message",
                count: self.rest.len(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{
        Array, Encode, MetadataRequest, MetadataResponse, MetadataResponseBroker,
        MetadataResponsePartition, MetadataResponseTopic, Request, ResponseHeader,
    };

    /// A response as a broker writes it at `version`: the frame after the size.
    fn frame(response: &MetadataResponse<'_>, version: i16, out: &mut [u8]) -> usize {
        let header = ResponseHeader {
            correlation_id: 7,
            ..Default::default()
        };
        let hv = response_header_version(ApiKey::Metadata, version);
        let mut w = crate::wire::Writer::new(out);
        header.encode(&mut w, hv).unwrap();
        response.encode(&mut w, version).unwrap();
        w.position()
    }

    #[test]
    fn agrees_with_the_generated_decoder_at_every_version() {
        let brokers = [
            MetadataResponseBroker {
                node_id: 1,
                host: "10.0.0.1",
                port: 9092,
                rack: Some("r1"),
                ..Default::default()
            },
            MetadataResponseBroker {
                node_id: 2,
                host: "kafka-2.local",
                port: 9093,
                ..Default::default()
            },
        ];
        let replicas = [1, 2];
        let partitions = [
            MetadataResponsePartition {
                partition_index: 1,
                leader_id: 2,
                replica_nodes: Array::from(&replicas),
                isr_nodes: Array::from(&replicas),
                ..Default::default()
            },
            MetadataResponsePartition {
                error_code: 5, // LEADER_NOT_AVAILABLE: retriable
                partition_index: 0,
                leader_id: -1,
                ..Default::default()
            },
            MetadataResponsePartition {
                error_code: 29, // TOPIC_AUTHORIZATION_FAILED: not
                partition_index: 2,
                leader_id: 1,
                ..Default::default()
            },
        ];
        let topics = [
            MetadataResponseTopic {
                name: Some("other"),
                ..Default::default()
            },
            MetadataResponseTopic {
                name: Some("readings"),
                partitions: Array::from(&partitions),
                ..Default::default()
            },
        ];
        for version in 1..=12 {
            let response = MetadataResponse {
                brokers: Array::from(&brokers),
                cluster_id: (version >= 2).then_some("c"),
                controller_id: 1,
                topics: Array::from(&topics),
                ..Default::default()
            };
            let mut buf = [0u8; 512];
            let n = frame(&response, version, &mut buf);
            let (_, full) = MetadataRequest::decode_response(&buf[..n], version).unwrap();
            let ours = metadata(&buf[..n], version, "readings").unwrap();
            assert_eq!(ours.n_brokers, full.brokers.len(), "v{version}");
            for (b, &ours) in full.brokers.iter().zip(&ours.brokers) {
                assert_eq!(ours, (b.node_id, b.host, b.port), "v{version}");
            }
            let theirs = full.topic("readings").unwrap();
            let t = ours.topic.unwrap();
            assert_eq!(t.error_code, theirs.error_code, "v{version}");
            assert_eq!(t.partitions, theirs.partitions.len(), "v{version}");
            assert_eq!(t.leaders[..3], [-1, 2, 1], "v{version}");
            assert_eq!(
                t.failed,
                Some((2, ErrorCode::TopicAuthorizationFailed)),
                "v{version}"
            );
            assert!(
                metadata(&buf[..n], version, "absent")
                    .unwrap()
                    .topic
                    .is_none()
            );
            // Framing errors are refused as the generated decoder refuses them.
            for cut in [n - 1, n / 2, 3] {
                assert!(
                    MetadataRequest::decode_response(&buf[..cut], version).is_err(),
                    "v{version} cut at {cut} (generated)"
                );
                assert!(
                    metadata(&buf[..cut], version, "readings").is_err(),
                    "v{version} cut at {cut}"
                );
            }
            let mut longer = buf;
            longer[n] = 0;
            assert!(metadata(&longer[..n + 1], version, "readings").is_err());
        }
        assert!(metadata(&[0; 8], 13, "readings").is_err());
    }

    #[test]
    fn produce_agrees_with_the_generated_decoder_at_every_version() {
        use crate::protocol::{
            BatchIndexAndErrorMessage, LeaderIdAndEpoch, PartitionProduceResponse, ProduceRequest,
            ProduceResponse, TopicProduceResponse,
        };
        let record_errors = [BatchIndexAndErrorMessage {
            batch_index: 3,
            batch_index_error_message: Some("bad"),
            ..Default::default()
        }];
        for version in 3..=11 {
            let partitions = [
                PartitionProduceResponse {
                    index: 0,
                    base_offset: 42,
                    log_append_time_ms: -1,
                    log_start_offset: if version >= 5 { 7 } else { -1 },
                    ..Default::default()
                },
                PartitionProduceResponse {
                    index: 1,
                    error_code: 6,
                    base_offset: -1,
                    log_append_time_ms: 1_700_000_000_000,
                    record_errors: if version >= 8 {
                        Array::from(&record_errors)
                    } else {
                        Array::EMPTY
                    },
                    error_message: (version >= 8).then_some("not leader"),
                    current_leader: if version >= 10 {
                        LeaderIdAndEpoch {
                            leader_id: 2,
                            leader_epoch: 5,
                            ..Default::default()
                        }
                    } else {
                        LeaderIdAndEpoch::default()
                    },
                    ..Default::default()
                },
            ];
            let topics = [
                TopicProduceResponse {
                    name: "a",
                    partition_responses: Array::from(&partitions[..1]),
                    ..Default::default()
                },
                TopicProduceResponse {
                    name: "b",
                    partition_responses: Array::from(&partitions),
                    ..Default::default()
                },
            ];
            let response = ProduceResponse {
                responses: Array::from(&topics),
                throttle_time_ms: 12,
                ..Default::default()
            };
            let header = ResponseHeader {
                correlation_id: 9,
                ..Default::default()
            };
            let mut buf = [0u8; 512];
            let mut w = crate::wire::Writer::new(&mut buf);
            header
                .encode(&mut w, response_header_version(ApiKey::Produce, version))
                .unwrap();
            response.encode(&mut w, version).unwrap();
            let n = w.position();
            let (_, full) = ProduceRequest::decode_response(&buf[..n], version).unwrap();
            let mut seen = [None; 3];
            let mut k = 0;
            let throttle = produce(&buf[..n], version, &mut |topic, name, p| {
                seen[k] = Some((topic, name == ["a", "b"][topic], p));
                k += 1;
            })
            .unwrap();
            assert_eq!(throttle, full.throttle_time_ms, "v{version}");
            assert_eq!(k, 3, "v{version}");
            let mut i = 0;
            for (ti, t) in full.responses.iter().enumerate() {
                for p in t.partition_responses.iter() {
                    let expected = PartitionAnswer {
                        index: p.index,
                        error_code: p.error_code,
                        base_offset: p.base_offset,
                        log_append_time_ms: p.log_append_time_ms,
                        log_start_offset: p.log_start_offset,
                    };
                    assert_eq!(seen[i], Some((ti, true, expected)), "v{version}");
                    i += 1;
                }
            }
            for cut in [n - 1, n / 2, 3] {
                assert!(
                    ProduceRequest::decode_response(&buf[..cut], version).is_err(),
                    "v{version} cut at {cut} (generated)"
                );
                assert!(
                    produce(&buf[..cut], version, &mut |_, _, _| {}).is_err(),
                    "v{version} cut at {cut}"
                );
            }
            let mut longer = buf;
            longer[n] = 0;
            assert!(produce(&longer[..n + 1], version, &mut |_, _, _| {}).is_err());
        }
    }

    /// A forged entry count is refused at once, not walked.
    #[test]
    fn a_count_past_the_body_is_refused() {
        // Produce v8: header (correlation id), then a topic count of 2^31 - 1.
        let frame = [0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0];
        assert!(matches!(
            produce(&frame, 8, &mut |_, _, _| panic!("no partition")),
            Err(DecodeError::TooManyEntries { .. })
        ));
        // Metadata v1: correlation id, no brokers, no cluster id before v2, controller id,
        // then a topic count of 2^31 - 1.
        let frame = [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff];
        assert!(matches!(
            metadata(&frame, 1, "t"),
            Err(DecodeError::TooManyEntries { .. })
        ));
    }

    /// ApiVersions read while negotiating gives what the full decoder and
    /// `NegotiatedVersions::from_broker` give, at every version and on the fallback to v0.
    #[test]
    fn api_versions_agrees_with_the_generated_decoder_at_every_version() {
        use crate::protocol::{ApiVersion, ApiVersionsResponse, SupportedFeatureKey};
        let keys = [
            ApiVersion {
                api_key: 18,
                min_version: 0,
                max_version: 4,
                ..Default::default()
            },
            ApiVersion {
                api_key: 3,
                min_version: 0,
                max_version: 12,
                ..Default::default()
            },
            ApiVersion {
                api_key: 0,
                min_version: 3,
                max_version: 11,
                ..Default::default()
            },
        ];
        let features = [SupportedFeatureKey {
            name: "metadata.version",
            min_version: 1,
            max_version: 20,
            ..Default::default()
        }];
        let required = [ApiKey::ApiVersions, ApiKey::Metadata, ApiKey::Produce];
        for (version, error_code) in (0..=4).map(|v| (v, 0)).chain([(0, UNSUPPORTED_VERSION)]) {
            let response = ApiVersionsResponse {
                error_code,
                api_keys: Array::from(&keys),
                throttle_time_ms: if version >= 1 { 7 } else { 0 },
                supported_features: if version >= 3 {
                    Array::from(&features)
                } else {
                    Array::EMPTY
                },
                ..Default::default()
            };
            let mut buf = [0u8; 128];
            let n = response.encode_to_slice(&mut buf, version).unwrap();
            let asked = if error_code == 0 { version } else { 4 };
            let (_, full) = ApiVersionsResponse::decode_with_fallback(&buf[..n], asked).unwrap();
            let expected = NegotiatedVersions::from_broker(
                full.api_keys
                    .iter()
                    .map(|k| (k.api_key, k.min_version, k.max_version)),
                &required,
            );
            let (code, negotiated) = api_versions(&buf[..n], asked, &required).unwrap();
            assert_eq!(code, full.error_code, "v{version}");
            assert_eq!(negotiated, expected, "v{version}");
            assert!(negotiated.is_ok(), "v{version}");
            assert!(api_versions(&buf[..n - 1], asked, &required).is_err());
            let mut longer = buf;
            longer[n] = 0;
            assert!(api_versions(&longer[..n + 1], asked, &required).is_err());
        }
        // A required API the broker lacks: the negotiation says so, the body decodes.
        let response = ApiVersionsResponse {
            api_keys: Array::from(&keys[..2]),
            ..Default::default()
        };
        let mut buf = [0u8; 64];
        let n = response.encode_to_slice(&mut buf, 3).unwrap();
        let (_, negotiated) = api_versions(&buf[..n], 3, &required).unwrap();
        assert!(negotiated.is_err());
    }

    /// Tagged fields out of order are refused, as the generated decoder refuses them.
    #[test]
    fn tags_out_of_order_are_refused() {
        // Produce v9: correlation id, no header tags; no topics, throttle 0, then tags 1, 0.
        let frame = [0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 2, 1, 0, 0, 0];
        assert!(matches!(
            produce(&frame, 9, &mut |_, _, _| {}),
            Err(DecodeError::TagOutOfOrder {
                previous: 1,
                found: 0
            })
        ));
        let in_order = [0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 2, 0, 0, 1, 0];
        assert_eq!(produce(&in_order, 9, &mut |_, _, _| {}), Ok(0));
    }
}
