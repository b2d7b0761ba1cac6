//! The producer's errors: [`Error`] for a call that failed, [`DeliveryError`] for a record
//! the broker did not take.

use core::fmt;
use core::net::SocketAddr;

use super::ConfigError;
use crate::partition::PartitionError;
use crate::protocol::{ApiKey, ErrorCode, FrameError, VersionError};
use crate::sasl::{Mechanism, SaslError};
use crate::wire::{DecodeError, EncodeError};

/// What the producer was doing with the connection when the transport failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Io {
    /// Opening it.
    Connect,
    /// Writing a request.
    Write,
    /// Reading a response.
    Read,
}

/// Why a producer call failed, with what failed and where. `E` is the transport's error.
///
/// Who is at fault: [`Config`](Self::Config) and [`RecordTooLarge`](Self::RecordTooLarge),
/// [`TooManyTopics`](Self::TooManyTopics) and [`Partition`](Self::Partition) are the caller's;
/// [`Transport`](Self::Transport), [`Closed`](Self::Closed) and [`Timeout`](Self::Timeout) the
/// network's; [`Frame`](Self::Frame), [`Decode`](Self::Decode), [`Version`](Self::Version) and
/// [`Broker`](Self::Broker) the broker's. After a network or broker error the connection is
/// closed; the next call opens a new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error<'t, E> {
    /// The configuration is unusable.
    Config(ConfigError),
    /// The transport failed.
    Transport {
        /// What was being done.
        io: Io,
        /// The broker's address.
        broker: SocketAddr,
        /// The transport's error.
        error: E,
    },
    /// The broker closed the connection (`mid_frame`: in the middle of a response).
    Closed {
        /// The broker's address.
        broker: SocketAddr,
        /// Whether part of a response had been received.
        mid_frame: bool,
    },
    /// No response within `request.timeout.ms`.
    Timeout {
        /// The request's API.
        api: ApiKey,
        /// The broker's address.
        broker: SocketAddr,
        /// The timeout.
        ms: u32,
    },
    /// A connection to the broker was not established within `request.timeout.ms`.
    ConnectTimeout {
        /// The broker's address.
        broker: SocketAddr,
        /// The timeout.
        ms: u32,
    },
    /// None of `bootstrap.servers` could be reached; `last` is the last failure.
    NoBroker {
        /// How many servers were tried.
        tried: usize,
    },
    /// A request did not fit the transmit buffer.
    Encode {
        /// The request's API.
        api: ApiKey,
        /// What did not fit.
        error: EncodeError,
    },
    /// A response could not be read.
    Decode {
        /// The response's API.
        api: ApiKey,
        /// The broker that sent it (with several brokers, the caller learns which one).
        broker: SocketAddr,
        /// What was wrong.
        error: DecodeError,
    },
    /// The response stream is broken (bad size, unexpected correlation id, frame too large for
    /// the receive buffer).
    Frame {
        /// The broker's address.
        broker: SocketAddr,
        /// What was wrong.
        error: FrameError,
    },
    /// [`Producer::wait_timeout`](super::Producer::wait_timeout): the record's outcome was
    /// not in within the time given. Nothing was abandoned: the record is still pending.
    WaitTimeout {
        /// The time waited.
        ms: u32,
    },
    /// The broker does not speak a version of an API the producer needs.
    Version(VersionError),
    /// The broker answered with an error code.
    Broker {
        /// The request's API.
        api: ApiKey,
        /// Kafka's error ([`ErrorCode::name`], [`ErrorCode::message`]).
        code: ErrorCode,
        /// The topic it concerns, if any.
        topic: Option<&'t str>,
        /// The partition it concerns, if any.
        partition: Option<i32>,
    },
    /// The topic is not in the broker's metadata.
    UnknownTopic {
        /// The topic.
        topic: &'t str,
    },
    /// A bootstrap server's host name could not be resolved.
    UnresolvedHost {
        /// The host name.
        host: &'t str,
    },
    /// A partition leader's address is a host name that could not be resolved (or the
    /// producer has no resolver: [`Producer::with_dns`](super::Producer::with_dns)).
    UnresolvedLeader {
        /// The leader's node id.
        node_id: i32,
    },
    /// The record names a partition the topic does not have, or the partitioner chose one.
    Partition {
        /// The topic.
        topic: &'t str,
        /// What was wrong.
        error: PartitionError,
    },
    /// The topic has more partitions than the metadata cache tracks.
    TooManyPartitions {
        /// The topic.
        topic: &'t str,
        /// Its partitions.
        partitions: u32,
        /// The most tracked ([`MAX_PARTITIONS`](super::MAX_PARTITIONS)).
        max: usize,
    },
    /// More topics than the producer's `T` are in use.
    TooManyTopics {
        /// The topic that did not fit.
        topic: &'t str,
        /// `T`.
        max: usize,
    },
    /// A value writer ([`Producer::send_with`](super::Producer::send_with)) failed.
    Value {
        /// The topic.
        topic: &'t str,
        /// The partition.
        partition: u32,
    },
    /// The record does not fit an empty batch (`batch.size` or the batch buffer).
    RecordTooLarge {
        /// The topic.
        topic: &'t str,
        /// The partition.
        partition: u32,
        /// Bytes the batch would need.
        needed: usize,
        /// Bytes a batch may take.
        available: usize,
    },
    /// The broker does not offer `sasl.mechanism` (SaslHandshake answered
    /// UNSUPPORTED_SASL_MECHANISM, 33); `offered` lists the mechanisms it does.
    SaslMechanism {
        /// The broker's address.
        broker: SocketAddr,
        /// The mechanism asked for.
        mechanism: Mechanism,
        /// The broker's mechanisms, as it named them.
        offered: BrokerText<64>,
    },
    /// The broker refused the credentials: SaslAuthenticate answered
    /// SASL_AUTHENTICATION_FAILED (58), or another error, with Kafka's message.
    SaslAuthentication {
        /// The broker's address.
        broker: SocketAddr,
        /// The mechanism used.
        mechanism: Mechanism,
        /// Kafka's error ([`ErrorCode::name`]).
        code: ErrorCode,
        /// The broker's error message (empty if it sent none).
        message: BrokerText<88>,
    },
    /// The SASL exchange failed on the client's side of the mechanism: the server's SCRAM
    /// error (`e=`, e.g. [`ServerError::UnknownUser`](crate::sasl::ServerError::UnknownUser)),
    /// a server signature that does not match (not the server it claims to be), a malformed
    /// server message, credentials that cannot be used.
    Sasl {
        /// The broker's address.
        broker: SocketAddr,
        /// The mechanism used.
        mechanism: Mechanism,
        /// What went wrong.
        error: SaslError,
    },
}

/// Text a broker sent (an error message, a list of mechanisms), copied out of the receive
/// buffer into `N` bytes (no heap): cut at a character boundary, with `…` at the end, if
/// longer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BrokerText<const N: usize> {
    bytes: [u8; N],
    /// Bytes used; `N` is at most 255 (they live in [`Error`], which stays small).
    len: u8,
}

impl<const N: usize> BrokerText<N> {
    /// Nothing.
    pub const EMPTY: Self = {
        assert!(N <= u8::MAX as usize, "BrokerText holds at most 255 bytes");
        Self {
            bytes: [0; N],
            len: 0,
        }
    };

    /// The pieces, one after the other, separated by `separator`.
    pub fn join<'p>(pieces: impl IntoIterator<Item = &'p str>, separator: &str) -> Self {
        let mut text = Self::EMPTY;
        for (i, piece) in pieces.into_iter().enumerate() {
            if i > 0 && !text.push(separator) {
                break;
            }
            if !text.push(piece) {
                break;
            }
        }
        text
    }

    /// `text`, cut to fit.
    pub fn new(text: &str) -> Self {
        let mut t = Self::EMPTY;
        t.push(text);
        t
    }

    /// Appends `piece`, or as much of it as fits followed by `…`; `false` if it was cut.
    fn push(&mut self, piece: &str) -> bool {
        let len = usize::from(self.len);
        let room = N.saturating_sub(len);
        if piece.len() <= room {
            self.append(piece);
            return true;
        }
        let ellipsis = "…";
        let mut cut = room.saturating_sub(ellipsis.len());
        while cut > 0 && !piece.is_char_boundary(cut) {
            cut -= 1;
        }
        self.append(piece.get(..cut).unwrap_or_default());
        self.append(ellipsis);
        false
    }

    /// Appends `part` if it fits.
    fn append(&mut self, part: &str) {
        let len = usize::from(self.len);
        if let Some(dst) = self.bytes.get_mut(len..len + part.len()) {
            dst.copy_from_slice(part.as_bytes());
            self.len = u8::try_from(len + part.len()).unwrap_or(u8::MAX);
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        let bytes = self.bytes.get(..usize::from(self.len)).unwrap_or_default();
        // Only whole `&str`s and cuts at character boundaries were copied in.
        core::str::from_utf8(bytes).unwrap_or_default()
    }
}

impl<const N: usize> fmt::Debug for BrokerText<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> fmt::Display for BrokerText<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<E> Error<'_, E> {
    /// Whether trying again (on a new connection, after a back-off) may succeed, as Kafka's
    /// client judges it: the network's failures, a broken response stream, and the broker's
    /// retriable error codes. The caller's mistakes and undecodable responses are final.
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Transport { .. }
            | Self::Closed { .. }
            | Self::Timeout { .. }
            | Self::ConnectTimeout { .. }
            | Self::NoBroker { .. }
            | Self::Frame { .. }
            | Self::UnresolvedHost { .. }
            | Self::UnresolvedLeader { .. }
            | Self::WaitTimeout { .. } => true,
            Self::Broker { code, .. } => code.is_retriable(),
            _ => false,
        }
    }
}

impl<E: fmt::Debug> fmt::Display for Error<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(e) => write!(f, "configuration: {e}"),
            Self::Transport { io, broker, error } => {
                write!(f, "{io:?} failed on broker {broker}: {error:?}")
            }
            Self::Closed { broker, mid_frame } => write!(
                f,
                "broker {broker} closed the connection{}",
                if *mid_frame {
                    " in the middle of a response"
                } else {
                    ""
                }
            ),
            Self::Timeout { api, broker, ms } => {
                write!(f, "no {api} response from broker {broker} within {ms} ms")
            }
            Self::ConnectTimeout { broker, ms } => {
                write!(f, "no connection to broker {broker} within {ms} ms")
            }
            Self::NoBroker { tried } => {
                write!(f, "none of the {tried} bootstrap servers could be reached")
            }
            Self::Encode { api, error } => write!(f, "encoding a {api} request: {error}"),
            Self::Decode { api, broker, error } => {
                write!(f, "decoding a {api} response from broker {broker}: {error}")
            }
            Self::Frame { broker, error } => write!(f, "broker {broker}: {error}"),
            Self::WaitTimeout { ms } => write!(
                f,
                "the record's outcome was not in within {ms} ms (it is still pending)"
            ),
            Self::Version(e) => write!(f, "{e}"),
            Self::Broker {
                api,
                code,
                topic,
                partition,
            } => {
                write!(f, "{api} failed")?;
                if let Some(t) = topic {
                    write!(f, " for topic {t}")?;
                }
                if let Some(p) = partition {
                    write!(f, " partition {p}")?;
                }
                write!(f, ": {code}")
            }
            Self::UnknownTopic { topic } => write!(f, "topic {topic} is not in the metadata"),
            Self::UnresolvedHost { host } => write!(f, "cannot resolve bootstrap server {host}"),
            Self::UnresolvedLeader { node_id } => write!(
                f,
                "the address of broker {node_id} is a host name that could not be resolved"
            ),
            Self::Partition { topic, error } => write!(f, "topic {topic}: {error}"),
            Self::TooManyPartitions {
                topic,
                partitions,
                max,
            } => write!(
                f,
                "topic {topic} has {partitions} partitions; the metadata cache tracks {max}"
            ),
            Self::TooManyTopics { topic, max } => {
                write!(f, "topic {topic}: the producer was built for {max} topics")
            }
            Self::Value { topic, partition } => {
                write!(
                    f,
                    "the value writer failed for {topic} partition {partition}"
                )
            }
            Self::SaslMechanism {
                broker,
                mechanism,
                offered,
            } => write!(
                f,
                "broker {broker} does not offer SASL mechanism {} (UNSUPPORTED_SASL_MECHANISM): \
                 it offers [{offered}]",
                mechanism.name()
            ),
            Self::SaslAuthentication {
                broker,
                mechanism,
                code,
                message,
            } => {
                write!(
                    f,
                    "SASL {} authentication with broker {broker} failed: {}",
                    mechanism.name(),
                    code.name()
                )?;
                if message.as_str().is_empty() {
                    write!(f, " ({})", code.message())
                } else {
                    write!(f, ": {message}")
                }
            }
            Self::Sasl {
                broker,
                mechanism,
                error,
            } => write!(
                f,
                "SASL {} authentication with broker {broker} failed: {error}",
                mechanism.name()
            ),
            Self::RecordTooLarge {
                topic,
                partition,
                needed,
                available,
            } => write!(
                f,
                "record for {topic} partition {partition} needs a {needed}-byte batch; \
                 batches take at most {available}"
            ),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for Error<'_, E> {}

impl<E> From<ConfigError> for Error<'_, E> {
    fn from(e: ConfigError) -> Self {
        Self::Config(e)
    }
}

impl<E> From<VersionError> for Error<'_, E> {
    fn from(e: VersionError) -> Self {
        Self::Version(e)
    }
}

/// Why a record was not delivered: Kafka's error for its partition, or the request that
/// carried it got no answer. Every record of the batch shares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DeliveryError {
    /// The broker answered the partition with an error code ([`ErrorCode::name`],
    /// [`ErrorCode::message`], [`ErrorCode::is_retriable`]).
    Broker {
        /// Kafka's error.
        code: ErrorCode,
        /// The partition.
        partition: u32,
    },
    /// The broker's response did not mention the partition.
    MissingFromResponse {
        /// The partition.
        partition: u32,
    },
    /// The request was written (perhaps only in part) but no response came: the connection
    /// failed or timed out. The records may or may not have been stored.
    NoResponse {
        /// The partition.
        partition: u32,
    },
    /// The batch was never written to a broker and was given up on: its leader could not be
    /// reached, or (with idempotence) no producer id or epoch could be had, within `retries`
    /// and `delivery.timeout.ms` (the failed call's [`Error`] says why). It is not stored.
    NotSent {
        /// The partition.
        partition: u32,
    },
    /// The outcome was pushed out of the producer's `R` most recent batch reports before it
    /// was asked for.
    Forgotten {
        /// The partition.
        partition: u32,
    },
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Broker { code, partition } => write!(f, "partition {partition}: {code}"),
            Self::MissingFromResponse { partition } => {
                write!(f, "partition {partition}: not in the broker's response")
            }
            Self::NoResponse { partition } => write!(
                f,
                "partition {partition}: no response (the records may or may not be stored)"
            ),
            Self::NotSent { partition } => write!(
                f,
                "partition {partition}: given up on before it could be sent (not stored)"
            ),
            Self::Forgotten { partition } => write!(
                f,
                "partition {partition}: outcome no longer remembered (more than R batches since)"
            ),
        }
    }
}

impl core::error::Error for DeliveryError {}
