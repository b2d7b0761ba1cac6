//! The Metadata answer read by hand, in one pass: only what the producer keeps (the brokers'
//! ids and addresses, the asked topic's error code and each partition's leader) is taken, and
//! every other field is stepped over with its framing checked, so that a body the generated
//! decoder refuses for its framing (cut short, a length past the end, bytes left over) is
//! refused here too. The generated decoder builds every field of every version and walks the
//! arrays twice (once to check, once to read); a firmware carries a fraction of it this way.
//! The tests check this reader against the generated decoder at every version.

use super::metadata::{MAX_BROKERS, MAX_PARTITIONS};
use crate::protocol::{ApiKey, Decode, ErrorCode, ResponseHeader, response_header_version};
use crate::wire::DecodeError;
use crate::wire::decode::{self, IResult, within};

/// The name errors of this reader give for what they were reading.
const WHAT: &str = "MetadataResponse";

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
    if !ApiKey::Metadata
        .supported()
        .is_some_and(|r| r.contains(version))
    {
        return Err(DecodeError::UnsupportedVersion {
            api: ApiKey::Metadata.key(),
            version,
        });
    }
    let (body, _) =
        ResponseHeader::decode(frame, response_header_version(ApiKey::Metadata, version))?;
    let mut c = Cursor {
        rest: body,
        flexible: version >= 9,
    };
    if version >= 3 {
        c.i32()?; // throttle_time_ms
    }
    let mut answer = MetadataAnswer {
        brokers: [(0, "", 0); MAX_BROKERS],
        n_brokers: 0,
        topic: None,
    };
    for _ in 0..c.len()? {
        let node_id = c.i32()?;
        let host = c.string()?;
        let port = c.i32()?;
        c.nullable_string()?; // rack
        c.tags()?;
        if let Some(b) = answer.brokers.get_mut(answer.n_brokers) {
            *b = (node_id, host, port);
            answer.n_brokers += 1;
        }
    }
    if version >= 2 {
        c.nullable_string()?; // cluster_id
    }
    c.i32()?; // controller_id
    for _ in 0..c.len()? {
        let error_code = c.i16()?;
        let name = if version >= 12 {
            c.nullable_string()?
        } else {
            Some(c.string()?)
        };
        if version >= 10 {
            c.skip(16)?; // topic_id
        }
        c.skip(1)?; // is_internal (v1+, the least version spoken)
        let partitions = c.len()?;
        let mut t = TopicAnswer {
            error_code,
            partitions,
            leaders: [-1; MAX_PARTITIONS],
            failed: None,
        };
        for _ in 0..partitions {
            let code = ErrorCode::from_code(c.i16()?);
            let index = c.i32()?;
            let leader = c.i32()?;
            if version >= 7 {
                c.i32()?; // leader_epoch
            }
            c.int32s()?; // replica_nodes
            c.int32s()?; // isr_nodes
            if version >= 5 {
                c.int32s()?; // offline_replicas
            }
            c.tags()?;
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
            c.i32()?; // topic_authorized_operations
        }
        c.tags()?;
        if answer.topic.is_none() && name == Some(topic) {
            answer.topic = Some(t);
        }
    }
    if (8..=10).contains(&version) {
        c.i32()?; // cluster_authorized_operations
    }
    c.tags()?;
    if !c.rest.is_empty() {
        return Err(DecodeError::TrailingBytes {
            what: "message",
            count: c.rest.len(),
        });
    }
    Ok(answer)
}

/// The unread rest of a body, and whether its version is flexible (compact lengths, tagged
/// fields).
struct Cursor<'b> {
    rest: &'b [u8],
    flexible: bool,
}

impl<'b> Cursor<'b> {
    fn run<T>(&mut self, read: IResult<'b, T>) -> Result<T, DecodeError> {
        let (rest, value) = within(WHAT, read)?;
        self.rest = rest;
        Ok(value)
    }

    fn i16(&mut self) -> Result<i16, DecodeError> {
        self.run(decode::i16(self.rest))
    }

    fn i32(&mut self) -> Result<i32, DecodeError> {
        self.run(decode::i32(self.rest))
    }

    fn skip(&mut self, n: usize) -> Result<(), DecodeError> {
        self.run(decode::take(self.rest, n)).map(drop)
    }

    fn string(&mut self) -> Result<&'b str, DecodeError> {
        self.run(if self.flexible {
            decode::compact_string(self.rest)
        } else {
            decode::string(self.rest)
        })
    }

    fn nullable_string(&mut self) -> Result<Option<&'b str>, DecodeError> {
        self.run(if self.flexible {
            decode::compact_nullable_string(self.rest)
        } else {
            decode::nullable_string(self.rest)
        })
    }

    /// An array's length (not null).
    fn len(&mut self) -> Result<usize, DecodeError> {
        self.run(if self.flexible {
            decode::compact_array_len(self.rest)
        } else {
            decode::array_len(self.rest)
        })
    }

    /// An array of `INT32`, stepped over.
    fn int32s(&mut self) -> Result<(), DecodeError> {
        let n = self.len()?;
        self.skip(n.saturating_mul(4))
    }

    /// A tagged-field section (flexible versions only), checked and stepped over.
    fn tags(&mut self) -> Result<(), DecodeError> {
        if self.flexible {
            self.run(decode::tagged_fields(self.rest))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{
        Array, Encode, MetadataRequest, MetadataResponse, MetadataResponseBroker,
        MetadataResponsePartition, MetadataResponseTopic, Request,
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
}
