//! [`Config`]: the producer's settings, with the Java client's names and meanings, checked
//! once, up front, by [`Config::validate`] (which [`Producer::new`](super::Producer::new)
//! calls).

use core::fmt;
use core::net::SocketAddr;

use crate::record::Compression;
use crate::sasl::Mechanism;

/// How many acknowledgements the leader must have before it answers a Produce request
/// (`acks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Acks {
    /// `acks=0`: the broker sends no answer (Kafka; Tansu answers anyway, see
    /// [`Producer::stray_responses`](super::Producer::stray_responses)). A record is reported
    /// sent, with no offset, once it is written to the connection.
    None,
    /// `acks=1`: the leader has written the records to its log.
    Leader,
    /// `acks=all` (`-1`): every in-sync replica has them.
    All,
}

impl Acks {
    /// The value of the request's `acks` field: 0, 1 or -1.
    pub const fn wire(self) -> i16 {
        match self {
            Self::None => 0,
            Self::Leader => 1,
            Self::All => -1,
        }
    }

    /// Parses Kafka's spellings: `0`, `1`, `all`, `-1`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "0" => Some(Self::None),
            "1" => Some(Self::Leader),
            "all" | "-1" => Some(Self::All),
            _ => None,
        }
    }
}

/// The largest `max.in.flight.requests.per.connection` this producer implements: Kafka's
/// limit for an idempotent producer (the broker keeps the last 5 batches of each producer per
/// partition to detect duplicates), and what the connection bookkeeping
/// ([`InFlight`](crate::protocol::InFlight)) is sized for.
pub const MAX_IN_FLIGHT_SUPPORTED: u8 = 5;

/// `security.protocol`, as far as the producer is concerned: whether it authenticates with
/// SASL on every new connection. TLS is the connector's business (a TLS connector wraps any
/// other), so `SSL` and `SASL_SSL` only say so: the producer does the same over them as over
/// `PLAINTEXT` and `SASL_PLAINTEXT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SecurityProtocol {
    /// `PLAINTEXT`: no authentication.
    #[default]
    Plaintext,
    /// `SSL`: TLS from the connector, no SASL.
    Ssl,
    /// `SASL_PLAINTEXT`: SASL (`sasl.mechanism`) on every connection.
    SaslPlaintext,
    /// `SASL_SSL`: SASL inside TLS from the connector.
    SaslSsl,
}

impl SecurityProtocol {
    /// Kafka's name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Plaintext => "PLAINTEXT",
            Self::Ssl => "SSL",
            Self::SaslPlaintext => "SASL_PLAINTEXT",
            Self::SaslSsl => "SASL_SSL",
        }
    }

    /// The protocol Kafka names `name` (case matters, as in Kafka).
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Plaintext,
            Self::Ssl,
            Self::SaslPlaintext,
            Self::SaslSsl,
        ]
        .into_iter()
        .find(|p| p.name() == name)
    }

    /// Whether it authenticates with SASL.
    pub const fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
}

/// The longest client id accepted (Kafka's request header allows `i16::MAX` bytes; a device
/// has no use for more than this).
pub const MAX_CLIENT_ID_LEN: usize = 255;

/// The producer's settings, each named after the Java client's property (in brackets in the
/// setter docs) and meaning the same. Build with [`Config::new`] and the setters, which take
/// and return `self`:
///
/// ```
/// use embedded_kafka::producer::{Acks, Config};
///
/// let servers = ["127.0.0.1:9092".parse().unwrap()];
/// let config = Config::new(&servers)
///     .client_id("sensor-7")
///     .acks(Acks::All)
///     .linger_ms(5)
///     .batch_size(1024);
/// assert_eq!(config.validate(), Ok(()));
/// assert!(Config::new(&[]).validate().is_err());
///
/// let sasl = config
///     .security_protocol(embedded_kafka::producer::SecurityProtocol::SaslPlaintext)
///     .sasl(embedded_kafka::sasl::Mechanism::Plain, "sensor-7", "s3cret");
/// assert!(!format!("{sasl:?}").contains("s3cret"));
/// ```
///
/// Its `Debug` output shows every setting but the SASL password.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Config<'a> {
    /// `bootstrap.servers` given as addresses.
    pub bootstrap_servers: &'a [SocketAddr],
    /// `bootstrap.servers` given as host names and ports, resolved with the producer's
    /// resolver and tried after [`bootstrap_servers`](Self::bootstrap_servers).
    pub bootstrap_hosts: &'a [(&'a str, u16)],
    /// `client.id`.
    pub client_id: &'a str,
    /// `acks`.
    pub acks: Acks,
    /// `request.timeout.ms`.
    pub request_timeout_ms: u32,
    /// `linger.ms`.
    pub linger_ms: u32,
    /// `batch.size`.
    pub batch_size: usize,
    /// `max.in.flight.requests.per.connection`.
    pub max_in_flight: u8,
    /// `retries`.
    pub retries: u32,
    /// `retry.backoff.ms`.
    pub retry_backoff_ms: u32,
    /// `retry.backoff.max.ms`.
    pub retry_backoff_max_ms: u32,
    /// `metadata.max.age.ms`.
    pub metadata_max_age_ms: u32,
    /// `delivery.timeout.ms`.
    pub delivery_timeout_ms: u32,
    /// `enable.idempotence`.
    pub enable_idempotence: bool,
    /// `security.protocol`.
    pub security_protocol: SecurityProtocol,
    /// `sasl.mechanism`.
    pub sasl_mechanism: Mechanism,
    /// The user name (Kafka's `sasl.jaas.config` `username`).
    pub sasl_username: &'a str,
    /// The password (Kafka's `sasl.jaas.config` `password`).
    pub sasl_password: &'a str,
    /// `compression.type`.
    pub compression: Compression,
}

impl fmt::Debug for Config<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("bootstrap_hosts", &self.bootstrap_hosts)
            .field("client_id", &self.client_id)
            .field("acks", &self.acks)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("linger_ms", &self.linger_ms)
            .field("batch_size", &self.batch_size)
            .field("max_in_flight", &self.max_in_flight)
            .field("retries", &self.retries)
            .field("retry_backoff_ms", &self.retry_backoff_ms)
            .field("retry_backoff_max_ms", &self.retry_backoff_max_ms)
            .field("metadata_max_age_ms", &self.metadata_max_age_ms)
            .field("delivery_timeout_ms", &self.delivery_timeout_ms)
            .field("enable_idempotence", &self.enable_idempotence)
            .field("security_protocol", &self.security_protocol)
            .field("sasl_mechanism", &self.sasl_mechanism)
            .field("sasl_username", &self.sasl_username)
            .field("compression", &self.compression)
            // Logs and panics must not carry it.
            .field("sasl_password", &"[hidden]")
            .finish()
    }
}

impl<'a> Config<'a> {
    /// The Java client's defaults (acks=all, 30 s request timeout, 5 ms linger, 16 KiB batches;
    /// batches are further bounded by the buffers given to the producer), with client id
    /// `embedded-kafka`, and at most 1 request in flight.
    pub const fn new(bootstrap_servers: &'a [SocketAddr]) -> Self {
        Self {
            bootstrap_servers,
            bootstrap_hosts: &[],
            client_id: "embedded-kafka",
            acks: Acks::All,
            request_timeout_ms: 30_000,
            linger_ms: 5,
            batch_size: 16_384,
            max_in_flight: 1,
            retries: 5,
            retry_backoff_ms: 100,
            retry_backoff_max_ms: 1_000,
            metadata_max_age_ms: 300_000,
            delivery_timeout_ms: 120_000,
            enable_idempotence: false,
            security_protocol: SecurityProtocol::Plaintext,
            sasl_mechanism: Mechanism::Plain,
            sasl_username: "",
            sasl_password: "",
            compression: Compression::None,
        }
    }

    /// `compression.type`: the codec each batch's records are compressed with when the batch
    /// is sealed (`none` by default, as in Kafka). The codec's feature must be on (`lz4` works
    /// without `std` or heap; `gzip`, `snappy` and `zstd` need `std`), and the producer needs
    /// a scratch buffer as large as a batch buffer
    /// ([`Producer::with_compression_scratch`](super::Producer::with_compression_scratch)).
    /// Compression makes what is sent and stored smaller; it does not let more records into a
    /// batch: a batch stops taking records where its codec's worst case would no longer fit
    /// its buffer (for LZ4 about 10 % below the buffer's size).
    #[must_use]
    pub const fn compression(mut self, codec: Compression) -> Self {
        self.compression = codec;
        self
    }

    /// `security.protocol`: with `SASL_PLAINTEXT` or `SASL_SSL` every new connection
    /// authenticates (SaslHandshake, then SaslAuthenticate) right after ApiVersions, with
    /// [`sasl`](Self::sasl)'s mechanism and credentials. TLS itself comes from the connector.
    #[must_use]
    pub const fn security_protocol(mut self, protocol: SecurityProtocol) -> Self {
        self.security_protocol = protocol;
        self
    }

    /// `sasl.mechanism` and the credentials (Kafka takes them from `sasl.jaas.config`).
    /// SCRAM needs the `scram` feature and a source of randomness for its nonce
    /// ([`Producer::with_sasl_rng`](super::Producer::with_sasl_rng)). PLAIN sends the password
    /// in the clear: use it inside TLS (`SASL_SSL`).
    #[must_use]
    pub const fn sasl(
        mut self,
        mechanism: Mechanism,
        username: &'a str,
        password: &'a str,
    ) -> Self {
        self.sasl_mechanism = mechanism;
        self.sasl_username = username;
        self.sasl_password = password;
        self
    }

    /// `enable.idempotence`: the producer gets a producer id (InitProducerId) and numbers each
    /// partition's records, so a batch sent again after a lost answer is stored once (the
    /// broker answers DUPLICATE_SEQUENCE_NUMBER, or success with the first offset, and either
    /// counts as delivered). Needs `acks=all` and `retries` > 0. Off by default here (on in
    /// the Java client since 3.0).
    #[must_use]
    pub const fn enable_idempotence(mut self, on: bool) -> Self {
        self.enable_idempotence = on;
        self
    }

    /// `delivery.timeout.ms`: no retry starts once a batch is this old (counted from its
    /// first record); it then fails with its last error. At least `linger.ms` +
    /// `request.timeout.ms`, as in Kafka.
    #[must_use]
    pub const fn delivery_timeout_ms(mut self, ms: u32) -> Self {
        self.delivery_timeout_ms = ms;
        self
    }

    /// More `bootstrap.servers`, by host name and port (needs a resolver:
    /// [`Producer::with_dns`](super::Producer::with_dns)).
    #[must_use]
    pub const fn bootstrap_hosts(mut self, hosts: &'a [(&'a str, u16)]) -> Self {
        self.bootstrap_hosts = hosts;
        self
    }

    /// `metadata.max.age.ms`: a topic's metadata older than this is fetched again before
    /// the next record is sent to it.
    #[must_use]
    pub const fn metadata_max_age_ms(mut self, ms: u32) -> Self {
        self.metadata_max_age_ms = ms;
        self
    }

    /// `client.id`: names this producer in the broker's logs and quotas.
    #[must_use]
    pub const fn client_id(mut self, client_id: &'a str) -> Self {
        self.client_id = client_id;
        self
    }

    /// `acks`.
    #[must_use]
    pub const fn acks(mut self, acks: Acks) -> Self {
        self.acks = acks;
        self
    }

    /// `request.timeout.ms`: how long to wait for a response; also sent to the broker as the
    /// Produce request's replication timeout.
    #[must_use]
    pub const fn request_timeout_ms(mut self, ms: u32) -> Self {
        self.request_timeout_ms = ms;
        self
    }

    /// `linger.ms`: how long a batch may wait for more records before it is sent. Checked on
    /// every [`send`](super::Producer::send) and [`poll`](super::Producer::poll): there is no
    /// background task, so an idle caller calls `poll` (or `flush`).
    #[must_use]
    pub const fn linger_ms(mut self, ms: u32) -> Self {
        self.linger_ms = ms;
        self
    }

    /// `batch.size`: the most bytes of one partition's batch (header included) before it is
    /// sent. At most the size of a batch buffer.
    #[must_use]
    pub const fn batch_size(mut self, bytes: usize) -> Self {
        self.batch_size = bytes;
        self
    }

    /// `max.in.flight.requests.per.connection`, 1 to [`MAX_IN_FLIGHT_SUPPORTED`]: how many
    /// Produce requests are written to a connection before the answer to the first is read.
    /// More than 1 hides the round trip; without idempotence and with `retries`, a retried
    /// batch may then land after the ones behind it (as in Kafka). With idempotence the order
    /// of each partition is kept.
    #[must_use]
    pub const fn max_in_flight(mut self, n: u8) -> Self {
        self.max_in_flight = n;
        self
    }

    /// `retries`: how many times a batch is sent again after a retriable error (Kafka's
    /// `is_retriable` codes such as NOT_LEADER_OR_FOLLOWER, or a connection that failed or
    /// timed out), refreshing the topic's metadata first. The same bytes are sent again.
    /// Without idempotence a batch whose answer was lost may be stored twice (at least once,
    /// as in Kafka). 0 turns retries off.
    #[must_use]
    pub const fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// `retry.backoff.ms` and `retry.backoff.max.ms`: the wait before the first retry, doubled
    /// for each further one up to the maximum, each wait multiplied by a random factor in
    /// [0.8, 1.2) and capped at the maximum (KIP-580's exponential back-off with jitter).
    #[must_use]
    pub const fn retry_backoff_ms(mut self, initial: u32, max: u32) -> Self {
        self.retry_backoff_ms = initial;
        self.retry_backoff_max_ms = max;
        self
    }

    /// The back-off before retry number `attempt` (1 for the first), before jitter: the
    /// producer waits this times a factor in [0.8, 1.2), at most `retry.backoff.max.ms`.
    pub fn backoff_ms(&self, attempt: u32) -> u32 {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.retry_backoff_ms
            .saturating_mul(factor)
            .min(self.retry_backoff_max_ms.max(self.retry_backoff_ms))
    }

    /// Checks every setting, returning the first that is unusable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.bootstrap_servers.is_empty() && self.bootstrap_hosts.is_empty() {
            return Err(ConfigError::NoBootstrapServers);
        }
        if self.client_id.len() > MAX_CLIENT_ID_LEN {
            return Err(ConfigError::ClientIdTooLong {
                len: self.client_id.len(),
                max: MAX_CLIENT_ID_LEN,
            });
        }
        if self.request_timeout_ms == 0 || self.request_timeout_ms > i32::MAX as u32 {
            return Err(ConfigError::RequestTimeout {
                ms: self.request_timeout_ms,
            });
        }
        if self.batch_size < crate::record::BATCH_HEADER_LEN + 8 {
            return Err(ConfigError::BatchSizeTooSmall {
                batch_size: self.batch_size,
                min: crate::record::BATCH_HEADER_LEN + 8,
            });
        }
        if self.enable_idempotence && !cfg!(feature = "idempotence") {
            return Err(ConfigError::IdempotenceUnavailable);
        }
        if self.enable_idempotence && (self.acks != Acks::All || self.retries == 0) {
            return Err(ConfigError::Idempotence {
                acks: self.acks,
                retries: self.retries,
            });
        }
        let least = u64::from(self.linger_ms) + u64::from(self.request_timeout_ms);
        if u64::from(self.delivery_timeout_ms) < least {
            return Err(ConfigError::DeliveryTimeout {
                ms: self.delivery_timeout_ms,
                least,
            });
        }
        if self.security_protocol.uses_sasl() {
            if !cfg!(feature = "sasl") {
                return Err(ConfigError::SaslUnavailable);
            }
            if self.sasl_username.is_empty() {
                return Err(ConfigError::SaslUsername);
            }
            if !cfg!(feature = "scram") && self.sasl_mechanism != Mechanism::Plain {
                return Err(ConfigError::SaslMechanismUnavailable {
                    mechanism: self.sasl_mechanism,
                });
            }
        }
        if !crate::record::is_supported(self.compression) {
            return Err(ConfigError::CompressionUnavailable {
                codec: self.compression,
            });
        }
        if self.max_in_flight == 0 || self.max_in_flight > MAX_IN_FLIGHT_SUPPORTED {
            return Err(ConfigError::MaxInFlight {
                found: self.max_in_flight,
                max: MAX_IN_FLIGHT_SUPPORTED,
            });
        }
        Ok(())
    }
}

/// A setting of [`Config`] that cannot be used, found before anything is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConfigError {
    /// `bootstrap.servers` is empty.
    NoBootstrapServers,
    /// `client.id` is longer than [`MAX_CLIENT_ID_LEN`].
    ClientIdTooLong {
        /// Its length in bytes.
        len: usize,
        /// The most accepted.
        max: usize,
    },
    /// `request.timeout.ms` is 0 or does not fit the request's `INT32` field.
    RequestTimeout {
        /// The value given.
        ms: u32,
    },
    /// `batch.size` cannot hold a batch header and a record.
    BatchSizeTooSmall {
        /// The value given.
        batch_size: usize,
        /// The least that holds one small record.
        min: usize,
    },
    /// `batch.size` is larger than the batch buffers given to the producer.
    BatchSizeTooLarge {
        /// The value given.
        batch_size: usize,
        /// The size of one batch buffer.
        buffer: usize,
    },
    /// `enable.idempotence` is on, and the crate was built without its `idempotence` feature.
    IdempotenceUnavailable,
    /// `enable.idempotence` needs `acks=all` and `retries` > 0.
    Idempotence {
        /// `acks` given.
        acks: Acks,
        /// `retries` given.
        retries: u32,
    },
    /// `delivery.timeout.ms` is shorter than `linger.ms` + `request.timeout.ms`.
    DeliveryTimeout {
        /// The value given.
        ms: u32,
        /// `linger.ms` + `request.timeout.ms`.
        least: u64,
    },
    /// `security.protocol` is `SASL_*`, and the crate was built without its `sasl` feature.
    SaslUnavailable,
    /// `security.protocol` is `SASL_*` but `sasl.username` is empty.
    SaslUsername,
    /// `sasl.mechanism` is a SCRAM one, and the crate was built without its `scram` feature.
    SaslMechanismUnavailable {
        /// The mechanism asked for.
        mechanism: Mechanism,
    },
    /// `sasl.mechanism` is a SCRAM one and the producer has no source of randomness for the
    /// nonce ([`Producer::with_sasl_rng`](super::Producer::with_sasl_rng)).
    ScramWithoutRng,
    /// `compression.type` names a codec whose feature this crate was built without (the
    /// feature has the codec's name: `lz4`, `gzip`, `snappy`, `zstd`).
    CompressionUnavailable {
        /// The codec asked for.
        codec: Compression,
    },
    /// `compression.type` is not `none` and the producer has no scratch buffer to compress
    /// into, or one smaller than a batch buffer
    /// ([`Producer::with_compression_scratch`](super::Producer::with_compression_scratch)).
    CompressionScratch {
        /// The codec asked for.
        codec: Compression,
        /// Bytes the scratch buffer must have (one batch buffer's).
        needed: usize,
        /// Bytes it has (0: none given).
        available: usize,
    },
    /// `max.in.flight.requests.per.connection` is 0 or more than this version implements.
    MaxInFlight {
        /// The value given.
        found: u8,
        /// The most implemented ([`MAX_IN_FLIGHT_SUPPORTED`]).
        max: u8,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NoBootstrapServers => f.write_str("bootstrap.servers is empty"),
            Self::ClientIdTooLong { len, max } => {
                write!(
                    f,
                    "client.id is {len} bytes long; at most {max} are accepted"
                )
            }
            Self::RequestTimeout { ms } => write!(
                f,
                "request.timeout.ms = {ms}: must be between 1 and {}",
                i32::MAX
            ),
            Self::BatchSizeTooSmall { batch_size, min } => {
                write!(f, "batch.size = {batch_size}: must be at least {min}")
            }
            Self::BatchSizeTooLarge { batch_size, buffer } => write!(
                f,
                "batch.size = {batch_size}: larger than the {buffer}-byte batch buffers"
            ),
            Self::IdempotenceUnavailable => {
                f.write_str("enable.idempotence: built without the `idempotence` feature")
            }
            Self::Idempotence { acks, retries } => write!(
                f,
                "enable.idempotence needs acks=all and retries > 0 (acks = {}, retries = {retries})",
                acks.wire()
            ),
            Self::DeliveryTimeout { ms, least } => write!(
                f,
                "delivery.timeout.ms = {ms}: must be at least linger.ms + request.timeout.ms = {least}"
            ),
            Self::SaslUnavailable => f.write_str(
                "security.protocol is SASL_PLAINTEXT or SASL_SSL: built without the `sasl` feature",
            ),
            Self::SaslUsername => f.write_str(
                "security.protocol is SASL_PLAINTEXT or SASL_SSL but sasl.username is empty",
            ),
            Self::SaslMechanismUnavailable { mechanism } => write!(
                f,
                "sasl.mechanism = {}: built without the `scram` feature",
                mechanism.name()
            ),
            Self::ScramWithoutRng => f.write_str(
                "sasl.mechanism is SCRAM but the producer has no random source for the nonce \
                 (Producer::with_sasl_rng)",
            ),
            Self::CompressionUnavailable {
                codec: Compression::Unknown(code),
            } => write!(
                f,
                "compression.type: codec {code} is not one Kafka defines (none, gzip, snappy, \
                 lz4, zstd)"
            ),
            Self::CompressionUnavailable { codec } => write!(
                f,
                "compression.type = {}: built without the `{}` feature",
                codec.name(),
                codec.name()
            ),
            Self::CompressionScratch {
                codec,
                needed,
                available,
            } => write!(
                f,
                "compression.type = {}: needs a {needed}-byte compression scratch buffer \
                 (Producer::with_compression_scratch), has {available}",
                codec.name()
            ),
            Self::MaxInFlight { found, max } => write!(
                f,
                "max.in.flight.requests.per.connection = {found}: must be between 1 and {max}"
            ),
        }
    }
}

impl core::error::Error for ConfigError {}
