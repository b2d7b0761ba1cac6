//! TLS for boards: [`TlsConnector`] wraps any [`TcpConnect`] (embassy-net's, Tokio's) so that
//! its connections are TLS 1.3 streams, without `std` or a heap, through
//! [embedded-tls](https://docs.rs/embedded-tls). The producer takes it as its connector
//! unchanged: `Producer::new(&tls_connector, clock, delay, ..)`.
//!
//! # What it checks, and what it does not do
//!
//! - **TLS 1.3 only**, cipher suite `TLS_AES_128_GCM_SHA256`, key exchange on P-256:
//!   embedded-tls implements no TLS 1.2. A broker (or terminator) that only speaks TLS 1.2
//!   fails the handshake with a `protocol_version` alert ([`TlsError::Alert`]).
//! - **The server's certificate** must chain to the one CA given ([`TlsOptions::ca`], DER),
//!   with ECDSA P-256/SHA-256 signatures (embedded-tls's heap-free `rustpki` verifier; RSA
//!   needs its `rsa` feature, which needs `alloc`). Intermediate certificates the server sends
//!   are walked from the CA down.
//! - **Its host name** must match a DNS name of the certificate (its SANs, else its CN), as the
//!   Java client's default `ssl.endpoint.identification.algorithm=https` requires: it checks
//!   each connection against the host it dialled, the bootstrap entry as written and then each
//!   broker's advertised host (a name, or an IP literal that the certificate must then carry as
//!   an IP SAN). The producer hands its connector only a `SocketAddr`, so here the name comes
//!   from [`ServerNames`]: one name for every broker (a
//!   cluster whose certificates all carry one name, or a wildcard name), and a table of
//!   `SocketAddr → name` for brokers with names of their own, which the caller fills from the
//!   names it advertises. IP-address SANs are not matched (embedded-tls reads DNS names only).
//! - **Its validity period** is checked against the clock type `Clk`
//!   ([`embedded_tls::TlsClock`]). A board without a real-time clock can pass
//!   [`embedded_tls::NoClock`]; then an expired certificate is accepted, which the caller must
//!   decide to live with.
//! - **A client certificate** (mutual TLS, `ssl.certificate.location`/`ssl.key.location`): one
//!   X.509 certificate (DER) with its ECDSA P-256 key (PKCS#8 DER), [`ClientIdentity`].
//! - A failed check is told apart ([`CertificateProblem`]): embedded-tls reports an unknown CA,
//!   an expired certificate and a wrong name all as one `InvalidCertificate`, so on that
//!   error the connector runs the same verifier again with fewer checks to find which one
//!   failed. The broker's refusals (a missing or untrusted client certificate) arrive as TLS
//!   alerts ([`TlsError::Alert`]); in TLS 1.3 the client has finished its part of the
//!   handshake by then, so they arrive on the first read.
//!
//! # Memory
//!
//! Each connection needs a read buffer for one whole TLS record (16 KiB of plaintext plus
//! 256 bytes of overhead: [`RECORD_READ_SIZE`]) and a write buffer (at least the largest
//! handshake message the client writes plus [`embedded_tls::TLS_RECORD_OVERHEAD`]; records
//! are cut to the buffer's size, so 4 KiB is plenty: [`RECORD_WRITE_SIZE`]), and a copy of
//! the server's certificate chain while it is being checked (`CERT` bytes, a const
//! parameter). The caller owns them all. Measured on the host (`tests/tls.rs`): the
//! connection's own state is ~1.3 KiB beside the socket, the `connect` future ~5 KiB (with the
//! default `CERT` of 2 KiB) while the handshake runs, the connector ~200 bytes: with the
//! buffers, ~26 KiB of RAM for one TLS connection at its peak.
//!
//! embedded-tls's connection borrows its buffers for its whole life and has no way to hand
//! them back; a connector that lent the same buffers again after a connection closed would
//! need `unsafe` (as embassy-net's own socket pool has), and this crate has none. So each
//! [`RecordBuffers`] slot serves **one** connection (one handshake, whether it succeeds or not): give the connector as many slots as the
//! producer will open connections (one per broker it talks to, plus one per reconnection the
//! application wants to survive); once they are spent, `connect` fails with
//! [`TlsError::NoBuffers`], and the application builds a new connector (and producer) with its
//! buffers.
//!
//! # Randomness
//!
//! The handshake's key share and client random come from the caller's RNG, a
//! [`rand_core` 0.6](embedded_tls::CryptoRngCore) `CryptoRng + RngCore` (embedded-tls's
//! version, not the 0.9 the rest of this crate uses): a hardware RNG, or a CSPRNG seeded from
//! one. It is borrowed for the handshake only; two handshakes at once on one connector fail
//! with [`TlsError::RngBusy`] rather than share it.

//!
//! # Reliability
//!
//! - Every connection the producer opens (bootstrap, each leader, every reconnection after an
//!   error) is a full handshake: with an ApiVersions round trip, 8.7 ms in a release build
//!   (50-70 ms in a debug build) on a 2-core x86_64 host against stunnel with a client
//!   certificate, where rustls takes 2.7 ms (`tests/tls.rs` prints both); far more on a
//!   microcontroller (two P-256 signature checks and
//!   one key exchange; one more signature with a client certificate). No session resumption.
//! - A handshake that fails spends its [`RecordBuffers`] slot (the buffers were lent to it); a
//!   TCP connect that fails does not.
//! - embedded-tls's own `read` is **not cancel-safe**: a read dropped after it took part of a
//!   TLS record off the socket loses the record's header. The producer drops reads (its
//!   stray-response drain polls a read once), so the connector puts an adapter between
//!   embedded-tls and the socket that keeps the current record's header and hands it out again
//!   (see `Restartable` in the source); with it a [`TlsStream`] read is cancel-safe as long as
//!   the socket's is (Tokio's and embassy-net's are). `tests/tls.rs` reads a response one byte
//!   at a time, dropping the read between any two bytes. Writes are not made cancel-safe.
//!
//! # What embedded-tls 0.19 lacks, and what is missing here because of it
//!
//! - **TLS 1.2**: none (TLS 1.3 only). Kafka enables TLS 1.3 by default since 2.6 (on Java 11+).
//! - **RSA server certificates** need embedded-tls's `rsa` feature, which needs `alloc`; most
//!   Kafka clusters' certificates are RSA. Without a heap, the cluster's CA and certificates
//!   must be ECDSA (P-256 here; P-384 and Ed25519 with embedded-tls's `p384`/`ed25519`
//!   features, which the application can turn on in its own dependency).
//! - **One trust anchor**: the chain must end at the one CA given; no list of CAs, no
//!   revocation checks. Names: DNS SANs or the CN only (no IP-address SANs), at most 64 bytes.
//! - **Key exchange on P-256 only** (no X25519), one cipher suite
//!   (`TLS_AES_128_GCM_SHA256`; embedded-tls also has AES-256-GCM-SHA384).
//! - **Which alert** a server sent after the handshake is dropped (`InternalError`), hence
//!   [`TlsError::AlertAfterHandshake`] says what the connector knows instead.
//! - **A post-handshake handshake message** other than NewSessionTicket (a KeyUpdate, which a
//!   Java broker sends after 2^37 bytes under one key by default, or a post-handshake
//!   CertificateRequest) reaches an `unimplemented!()` in embedded-tls: a panic inside the
//!   dependency, outside this crate's no-panic guarantee.
//! - **Buffers cannot be taken back** from a connection (see Memory above).
//!
//! # Example
//!
//! ```
//! use embedded_kafka::tls::{
//!     CryptoRngCore, RECORD_READ_SIZE, RECORD_WRITE_SIZE, RecordBuffers, ServerNames,
//!     TlsConnector, TlsOptions,
//! };
//! use embedded_nal_async::TcpConnect;
//!
//! /// A connector for the producer: TLS 1.3 over `tcp` (e.g. embassy-net's `TcpClient`), for
//! /// brokers whose certificates carry `kafka.example.com`, signed by the CA `ca_der`.
//! fn tls<'b, T: TcpConnect, R: CryptoRngCore>(
//!     tcp: T,
//!     rng: R,
//!     ca_der: &'b [u8],
//!     slots: &'b [RecordBuffers<'b>],
//! ) -> TlsConnector<'b, T, R> {
//!     let options = TlsOptions {
//!         ca: ca_der,
//!         names: ServerNames::all("kafka.example.com"),
//!         client: None,
//!     };
//!     match TlsConnector::new(tcp, options, slots, rng) {
//!         Ok(connector) => connector,
//!         Err(e) => panic!("{e}"),
//!     }
//! }
//!
//! // On a board these live in static memory (`static_cell`), one pair a connection.
//! let (mut read, mut write) = ([0u8; RECORD_READ_SIZE], [0u8; RECORD_WRITE_SIZE]);
//! let slots = [RecordBuffers::new(&mut read, &mut write)];
//! # let _ = &slots;
//! ```

use core::cell::{Cell, RefCell};
use core::fmt;
use core::marker::PhantomData;
use core::net::SocketAddr;

use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use embedded_nal_async::TcpConnect;
use embedded_tls::pki::CertVerifier;
use embedded_tls::{
    Aes128GcmSha256, Certificate, CertificateEntryRef, CertificateRef, CertificateVerifyRef,
    CryptoProvider, SignatureScheme, TlsConfig, TlsConnection, TlsContext, TlsVerifier,
};
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::DecodePrivateKey;

pub use embedded_tls::alert::AlertDescription;
/// Re-exported so that a caller needs no embedded-tls dependency of its own: the clock trait
/// for validity checks, the clock that skips them, the RNG bound (rand_core 0.6).
pub use embedded_tls::{CryptoRngCore, NoClock, TlsClock};

/// The cipher suite of every connection: the one all TLS 1.3 servers must support (RFC 8446,
/// 9.1).
type Suite = Aes128GcmSha256;

/// A read buffer that holds any TLS record: 2^14 bytes of plaintext plus the record header,
/// content type, padding and AEAD tag a server may add (RFC 8446, 5.2: at most 2^14 + 256).
pub const RECORD_READ_SIZE: usize = 16384 + 256;

/// A write buffer for the handshake messages the client writes (ClientHello, a client
/// certificate chain of a few hundred bytes to a few KiB) and the producer's requests (cut into
/// records of this size).
pub const RECORD_WRITE_SIZE: usize = 4096;

/// The host name the server's certificate must carry, per broker address.
#[derive(Debug, Clone, Copy)]
pub struct ServerNames<'n> {
    default: &'n str,
    by_addr: &'n [(SocketAddr, &'n str)],
}

impl<'n> ServerNames<'n> {
    /// Every broker must present a certificate for `name` (also sent as SNI).
    pub const fn all(name: &'n str) -> Self {
        Self {
            default: name,
            by_addr: &[],
        }
    }

    /// The brokers at the addresses in `table` present certificates for the names beside
    /// them; any other address, one for `default`. With leaders advertised by name, fill the
    /// table with the addresses those names resolve to.
    pub const fn table(default: &'n str, table: &'n [(SocketAddr, &'n str)]) -> Self {
        Self {
            default,
            by_addr: table,
        }
    }

    /// The name for the broker at `addr`.
    pub fn name_for(&self, addr: SocketAddr) -> &'n str {
        self.by_addr
            .iter()
            .find(|(a, _)| *a == addr)
            .map_or(self.default, |(_, name)| name)
    }
}

/// A client certificate and its key, for brokers that require one (`ssl.client.auth=required`,
/// stunnel's `verify = 2`).
#[derive(Clone)]
pub struct ClientIdentity<'c> {
    certificate: &'c [u8],
    key: SigningKey,
}

impl fmt::Debug for ClientIdentity<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("certificate_len", &self.certificate.len())
            .finish_non_exhaustive()
    }
}

impl<'c> ClientIdentity<'c> {
    /// `certificate`: the client's X.509 certificate, DER; `key`: its ECDSA P-256 private key,
    /// PKCS#8 DER (`openssl pkcs8 -topk8 -nocrypt -outform DER`). The key is parsed here, so a
    /// wrong one fails before any connection.
    pub fn new(certificate: &'c [u8], key: &[u8]) -> Result<Self, ConfigError> {
        let key = SigningKey::from_pkcs8_der(key).map_err(|_| ConfigError::ClientKey)?;
        if certificate.is_empty() {
            return Err(ConfigError::ClientCertificate);
        }
        Ok(Self { certificate, key })
    }
}

/// A [`TlsConnector`] that cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConfigError {
    /// The client key is not an ECDSA P-256 private key in PKCS#8 DER (the only kind
    /// embedded-tls signs with).
    ClientKey,
    /// The client certificate is empty.
    ClientCertificate,
    /// The CA certificate is empty.
    Ca,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClientKey => f.write_str(
                "the client key is not an ECDSA P-256 private key in PKCS#8 DER \
                 (embedded-tls signs with P-256 only)",
            ),
            Self::ClientCertificate => f.write_str("the client certificate is empty"),
            Self::Ca => f.write_str("the CA certificate is empty (a DER certificate is needed)"),
        }
    }
}

impl core::error::Error for ConfigError {}

/// What to trust and who to be.
#[derive(Debug, Clone)]
pub struct TlsOptions<'o> {
    /// The CA (DER) the brokers' certificates must chain to (`ssl.ca.location`).
    pub ca: &'o [u8],
    /// The host names the brokers' certificates must carry.
    pub names: ServerNames<'o>,
    /// The client certificate, if the brokers require one.
    pub client: Option<ClientIdentity<'o>>,
}

/// The record buffers of one TLS connection (see the [module docs](self) for their sizes and
/// why a slot serves one connection).
pub struct RecordBuffers<'b> {
    slot: Cell<Option<(&'b mut [u8], &'b mut [u8])>>,
}

impl<'b> RecordBuffers<'b> {
    /// `read` holds one received record ([`RECORD_READ_SIZE`]); `write` one record to send
    /// ([`RECORD_WRITE_SIZE`]).
    pub fn new(read: &'b mut [u8], write: &'b mut [u8]) -> Self {
        Self {
            slot: Cell::new(Some((read, write))),
        }
    }

    /// Whether this slot is still unused.
    pub fn available(&self) -> bool {
        let taken = self.slot.take();
        let available = taken.is_some();
        self.slot.set(taken);
        available
    }
}

impl fmt::Debug for RecordBuffers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordBuffers")
            .field("available", &self.available())
            .finish()
    }
}

/// Why a server certificate was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CertificateProblem {
    /// The chain does not lead to the configured CA (or uses a signature algorithm embedded-tls
    /// was not built for).
    UnknownIssuer,
    /// The certificate is not valid now: expired, or not yet valid (by the `Clk` clock).
    NotValidNow,
    /// The certificate does not carry the expected host name.
    WrongHostName,
}

/// A TLS connection's or connector's failure. The producer reports it inside its
/// `Error::Transport` with the broker's address.
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TlsError<E> {
    /// The TCP connection could not be opened.
    Connect(E),
    /// Every [`RecordBuffers`] slot has been used by a connection (see the module docs).
    NoBuffers {
        /// How many slots the connector was given.
        slots: usize,
    },
    /// Another handshake on this connector holds the RNG.
    RngBusy,
    /// The server's certificate was refused.
    Certificate {
        /// Why.
        problem: CertificateProblem,
        /// The name it had to carry.
        #[cfg_attr(feature = "defmt", defmt(Debug2Format))]
        expected_name: NameBuf,
    },
    /// The server ended the connection with this TLS alert, e.g. `CertificateRequired` (no
    /// client certificate) or `UnknownCa` / `BadCertificate` (the client's was refused),
    /// `ProtocolVersion` (the server does not speak TLS 1.3).
    Alert(#[cfg_attr(feature = "defmt", defmt(Debug2Format))] AlertDescription),
    /// The server ended the session with an alert after the handshake. embedded-tls drops
    /// which alert it was after the handshake (it reports `InternalError`); what the connector
    /// knows is whether the server asked for a client certificate and whether one was sent.
    /// In TLS 1.3 a server refuses a client certificate (or its absence) this way.
    AlertAfterHandshake {
        /// Whether the server asked for a client certificate.
        certificate_requested: bool,
        /// Whether the connector sent one.
        certificate_sent: bool,
    },
    /// The TLS layer failed otherwise (a malformed message, an I/O error of the socket, a
    /// name longer than embedded-tls's 64 bytes, a certificate chain larger than `CERT`).
    Tls(#[cfg_attr(feature = "defmt", defmt(Debug2Format))] embedded_tls::TlsError),
}

/// A copy of a server name for an error (at most 64 bytes, as embedded-tls's verifier).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NameBuf {
    bytes: [u8; 64],
    len: usize,
}

impl NameBuf {
    fn new(name: &str) -> Self {
        let mut bytes = [0; 64];
        let len = name.len().min(64);
        if let (Some(to), Some(from)) = (bytes.get_mut(..len), name.as_bytes().get(..len)) {
            to.copy_from_slice(from);
        }
        Self { bytes, len }
    }

    /// The name (cut at 64 bytes, at a character boundary).
    pub fn as_str(&self) -> &str {
        let bytes = self.bytes.get(..self.len).unwrap_or_default();
        match core::str::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => core::str::from_utf8(bytes.get(..e.valid_up_to()).unwrap_or_default())
                .unwrap_or_default(),
        }
    }
}

impl fmt::Debug for NameBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<E: fmt::Debug> fmt::Display for TlsError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect(e) => write!(f, "TCP connect failed: {e:?}"),
            Self::NoBuffers { slots } => write!(
                f,
                "no TLS record buffers left: all {slots} slots have served a connection \
                 (each serves one; give the connector more)"
            ),
            Self::RngBusy => f.write_str("another TLS handshake on this connector holds the RNG"),
            Self::Certificate {
                problem,
                expected_name,
            } => match problem {
                CertificateProblem::UnknownIssuer => f.write_str(
                    "the server's certificate is not signed by the configured CA \
                     (wrong ssl.ca.location, or an ECDSA P-256 chain is needed)",
                ),
                CertificateProblem::NotValidNow => f.write_str(
                    "the server's certificate is expired or not yet valid (by the TLS clock)",
                ),
                CertificateProblem::WrongHostName => write!(
                    f,
                    "the server's certificate is not for host name {:?}",
                    expected_name.as_str()
                ),
            },
            Self::Alert(AlertDescription::CertificateRequired) => f.write_str(
                "the server requires a client certificate (TLS alert certificate_required): \
                 configure ssl.certificate.location and ssl.key.location",
            ),
            Self::Alert(AlertDescription::ProtocolVersion) => f.write_str(
                "the server does not speak TLS 1.3, the only version embedded-tls has \
                 (TLS alert protocol_version)",
            ),
            Self::Alert(AlertDescription::HandshakeFailure) => f.write_str(
                "the server found nothing in common with this client (TLS alert \
                 handshake_failure): embedded-tls offers TLS_AES_128_GCM_SHA256, key exchange \
                 on P-256 and ECDSA signatures",
            ),
            Self::Alert(alert) => write!(f, "the server ended the TLS session: alert {alert:?}"),
            Self::AlertAfterHandshake {
                certificate_requested: true,
                certificate_sent: false,
            } => f.write_str(
                "the server requires a client certificate (it asked for one, none is \
                 configured, and it ended the session): configure ssl.certificate.location \
                 and ssl.key.location",
            ),
            Self::AlertAfterHandshake {
                certificate_requested: true,
                certificate_sent: true,
            } => f.write_str(
                "the server ended the TLS session after the handshake with an alert \
                 (embedded-tls does not say which): most likely it does not trust the client \
                 certificate",
            ),
            Self::AlertAfterHandshake { .. } => f.write_str(
                "the server ended the TLS session after the handshake with an alert \
                 (embedded-tls does not say which)",
            ),
            Self::Tls(e) => write!(f, "TLS failed: {e:?}"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for TlsError<E> {}

impl<E: embedded_io_async::Error> embedded_io_async::Error for TlsError<E> {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Connect(e) => e.kind(),
            Self::NoBuffers { .. } | Self::RngBusy => ErrorKind::OutOfMemory,
            Self::Certificate { .. } => ErrorKind::PermissionDenied,
            Self::Alert(_) | Self::AlertAfterHandshake { .. } => ErrorKind::ConnectionAborted,
            Self::Tls(embedded_tls::TlsError::Io(kind)) => *kind,
            Self::Tls(_) => ErrorKind::InvalidData,
        }
    }
}

impl<E> TlsError<E> {
    fn from_tls(error: embedded_tls::TlsError) -> Self {
        match error {
            embedded_tls::TlsError::HandshakeAborted(_, alert)
            | embedded_tls::TlsError::AbortHandshake(_, alert) => Self::Alert(alert),
            other => Self::Tls(other),
        }
    }
}

/// A [`TcpConnect`] whose connections are TLS 1.3 streams over `T`'s (see the
/// [module docs](self)). `CERT` bytes hold the server's certificate chain while it is checked
/// (a P-256 leaf is ~500 bytes; 2 KiB leaves room for an intermediate).
pub struct TlsConnector<'b, T, R, Clk = NoClock, const CERT: usize = 2048> {
    inner: T,
    options: TlsOptions<'b>,
    buffers: &'b [RecordBuffers<'b>],
    rng: RefCell<R>,
    _clock: PhantomData<Clk>,
}

impl<'b, T, R, Clk, const CERT: usize> TlsConnector<'b, T, R, Clk, CERT>
where
    T: TcpConnect,
    R: CryptoRngCore,
    Clk: TlsClock,
{
    /// Wraps `inner`'s connections in TLS with `options`, the record `buffers` (one slot per
    /// connection) and `rng`.
    pub fn new(
        inner: T,
        options: TlsOptions<'b>,
        buffers: &'b [RecordBuffers<'b>],
        rng: R,
    ) -> Result<Self, ConfigError> {
        if options.ca.is_empty() {
            return Err(ConfigError::Ca);
        }
        Ok(Self {
            inner,
            options,
            buffers,
            rng: RefCell::new(rng),
            _clock: PhantomData,
        })
    }

    /// How many record-buffer slots are still unused.
    pub fn buffers_left(&self) -> usize {
        self.buffers.iter().filter(|b| b.available()).count()
    }
}

impl<T, R, Clk, const CERT: usize> fmt::Debug for TlsConnector<'_, T, R, Clk, CERT> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector")
            .field("names", &self.options.names)
            .field("client", &self.options.client)
            .field("slots", &self.buffers.len())
            .finish_non_exhaustive()
    }
}

impl<'b, T, R, Clk, const CERT: usize> TcpConnect for TlsConnector<'b, T, R, Clk, CERT>
where
    T: TcpConnect,
    R: CryptoRngCore,
    Clk: TlsClock,
{
    type Error = TlsError<T::Error>;
    type Connection<'a>
        = TlsStream<'a, T::Connection<'a>, T::Error>
    where
        Self: 'a;

    #[allow(clippy::await_holding_refcell_ref)]
    async fn connect<'a>(
        &'a self,
        remote: SocketAddr,
    ) -> Result<Self::Connection<'a>, Self::Error> {
        let name = self.options.names.name_for(remote);
        let (slot, (read, write)) = self
            .buffers
            .iter()
            .find_map(|b| b.slot.take().map(|pair| (b, pair)))
            .ok_or(TlsError::NoBuffers {
                slots: self.buffers.len(),
            })?;
        let socket = match self.inner.connect(remote).await {
            Ok(socket) => socket,
            Err(e) => {
                // Nothing borrowed them yet: the slot serves the next attempt.
                slot.slot.set(Some((read, write)));
                return Err(TlsError::Connect(e));
            }
        };
        // Borrowed for the handshake with `try_borrow_mut`: a second handshake at the same time
        // gets `RngBusy`, never a panic (hence the allowed lint on this function).
        let Ok(mut rng) = self.rng.try_borrow_mut() else {
            slot.slot.set(Some((read, write)));
            return Err(TlsError::RngBusy);
        };
        let socket = Restartable::new(socket, read);
        let mut tls: TlsConnection<'a, _, Suite> = TlsConnection::new(socket, read, write);
        let config = TlsConfig::new().with_server_name(name);
        let mut provider = Provider::<_, Clk, CERT> {
            rng: &mut *rng,
            verifier: Verifier {
                ca: self.options.ca,
                full: CertVerifier::new(Certificate::X509(self.options.ca)),
                problem: None,
            },
            client: self.options.client.as_ref(),
            certificate_requested: false,
        };
        debug!("TLS handshake with a broker");
        match tls.open(TlsContext::new(&config, &mut provider)).await {
            Ok(()) => Ok(TlsStream {
                tls,
                certificate_requested: provider.certificate_requested,
                certificate_sent: provider.certificate_requested && provider.client.is_some(),
                _error: PhantomData,
            }),
            Err(error) => Err(match provider.verifier.problem {
                Some(problem) => TlsError::Certificate {
                    problem,
                    expected_name: NameBuf::new(name),
                },
                None => TlsError::from_tls(error),
            }),
        }
    }
}

/// A TLS connection to a broker: an `embedded-io-async` stream, as the producer wants.
pub struct TlsStream<'a, S, E>
where
    S: Read + Write + 'a,
{
    tls: TlsConnection<'a, Restartable<S>, Suite>,
    certificate_requested: bool,
    certificate_sent: bool,
    _error: PhantomData<E>,
}

impl<'a, S: Read + Write + 'a, E> TlsStream<'a, S, E> {
    /// An error of the open session: embedded-tls reports any alert but close_notify after the
    /// handshake as `InternalError`. A server that asked for a client certificate and refuses
    /// the session closes the connection right after its alert, so a write can also fail with
    /// a broken pipe or a reset before the alert is read: that is the same refusal.
    fn error(&self, error: embedded_tls::TlsError) -> TlsError<E> {
        use embedded_tls::TlsError::{InternalError, Io};
        let closed = matches!(
            error,
            Io(ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted)
        );
        match error {
            _ if closed && self.certificate_requested => TlsError::AlertAfterHandshake {
                certificate_requested: true,
                certificate_sent: self.certificate_sent,
            },
            InternalError => TlsError::AlertAfterHandshake {
                certificate_requested: self.certificate_requested,
                certificate_sent: self.certificate_sent,
            },
            other => TlsError::from_tls(other),
        }
    }
}

impl<'a, S: Read + Write + 'a, E> fmt::Debug for TlsStream<'a, S, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream").finish_non_exhaustive()
    }
}

impl<'a, S, E> ErrorType for TlsStream<'a, S, E>
where
    S: Read + Write + 'a,
    E: embedded_io_async::Error,
{
    type Error = TlsError<E>;
}

impl<'a, S, E> Read for TlsStream<'a, S, E>
where
    S: Read + Write + 'a,
    E: embedded_io_async::Error,
{
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        match self.tls.read(buf).await {
            Ok(n) => Ok(n),
            // The server's close_notify: the end of the stream, as a TCP close would be.
            Err(embedded_tls::TlsError::ConnectionClosed) => Ok(0),
            Err(e) => Err(self.error(e)),
        }
    }
}

impl<'a, S, E> Write for TlsStream<'a, S, E>
where
    S: Read + Write + 'a,
    E: embedded_io_async::Error,
{
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        match self.tls.write(buf).await {
            Ok(n) => Ok(n),
            Err(e) => Err(self.error(e)),
        }
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        match self.tls.flush().await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.error(e)),
        }
    }
}

/// The length of a TLS record header: type, version, length (RFC 8446, 5.1).
const HEADER: usize = 5;

/// The socket under embedded-tls, which makes its reads restartable, so that a `read` of the
/// [`TlsStream`] dropped half-way (the producer's stray-response drain polls a read once) loses
/// nothing.
///
/// embedded-tls reads a record's 5-byte header into a local array of its read future, then
/// the body into the record buffer, keeping count of the body bytes it holds. A dropped read
/// loses the header bytes it had taken off the socket (the body bytes stay counted), and the
/// next read would take body bytes for a header. So this adapter follows the record stream
/// itself: it keeps the current record's header and hands it out again when embedded-tls asks
/// for a header from its start while this record is not finished; and it never hands out
/// more body bytes than the current record has (embedded-tls, restarted with body bytes
/// counted, asks for the whole length again). A read is a body read when it reads into the
/// record buffer, a header read otherwise; a header read of `n` bytes asks for the header
/// from byte `5 - n` on.
struct Restartable<S> {
    inner: S,
    /// Where the record buffer lies (addresses only: to tell body reads from header reads).
    record_buffer: core::ops::Range<usize>,
    header: [u8; HEADER],
    /// Header bytes of the current record taken off the socket.
    have: usize,
    /// Body bytes of the current record still on the socket, once its header is complete.
    body_left: Option<usize>,
}

impl<S> Restartable<S> {
    fn new(inner: S, record_buffer: &[u8]) -> Self {
        let range = record_buffer.as_ptr_range();
        Self {
            inner,
            record_buffer: range.start.addr()..range.end.addr(),
            header: [0; HEADER],
            have: 0,
            body_left: None,
        }
    }

    fn record_done(&mut self) {
        self.have = 0;
        self.body_left = None;
    }
}

impl<S: ErrorType> ErrorType for Restartable<S> {
    type Error = S::Error;
}

impl<S: Read> Read for Restartable<S> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, S::Error> {
        if self.record_buffer.contains(&buf.as_ptr().addr()) {
            let Some(left) = self.body_left else {
                return self.inner.read(buf).await;
            };
            let want = buf.len().min(left);
            let n = self
                .inner
                .read(buf.get_mut(..want).unwrap_or_default())
                .await?;
            match left.checked_sub(n) {
                Some(0) if n > 0 => self.record_done(),
                Some(rest) => self.body_left = Some(rest),
                None => self.record_done(),
            }
            return Ok(n);
        }
        // A header read: embedded-tls wants the header from byte `from` on.
        let from = HEADER.saturating_sub(buf.len());
        if from < self.have {
            // Hand out again what a dropped read had taken off the socket.
            let saved = self.header.get(from..self.have).unwrap_or_default();
            let n = saved.len().min(buf.len());
            for (to, b) in buf.iter_mut().zip(saved) {
                *to = *b;
            }
            return Ok(n);
        }
        let have = self.have;
        let room = self.header.get_mut(have..).unwrap_or_default();
        let want = room.len().min(buf.len());
        let n = self
            .inner
            .read(room.get_mut(..want).unwrap_or_default())
            .await?;
        for (to, b) in buf
            .iter_mut()
            .zip(self.header.get(have..have + n).unwrap_or_default())
        {
            *to = *b;
        }
        self.have = have + n;
        if self.have == HEADER {
            let [_, _, _, hi, lo] = self.header;
            match usize::from(u16::from_be_bytes([hi, lo])) {
                0 => self.record_done(),
                len => self.body_left = Some(len),
            }
        }
        Ok(n)
    }
}

impl<S: Write> Write for Restartable<S> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, S::Error> {
        self.inner.write(buf).await
    }

    async fn flush(&mut self) -> Result<(), S::Error> {
        self.inner.flush().await
    }
}

/// embedded-tls's crypto provider for one handshake: the caller's RNG, the checking verifier,
/// the client identity.
struct Provider<'p, R, Clk: TlsClock, const CERT: usize> {
    rng: &'p mut R,
    verifier: Verifier<'p, Clk, CERT>,
    client: Option<&'p ClientIdentity<'p>>,
    /// Set when the server asked for a client certificate (embedded-tls then calls
    /// `client_cert`).
    certificate_requested: bool,
}

impl<R: CryptoRngCore, Clk: TlsClock, const CERT: usize> CryptoProvider
    for Provider<'_, R, Clk, CERT>
{
    type CipherSuite = Suite;
    type Signature = DerSignature;

    fn rng(&mut self) -> impl CryptoRngCore {
        &mut *self.rng
    }

    fn verifier(
        &mut self,
    ) -> Result<&mut impl TlsVerifier<Self::CipherSuite>, embedded_tls::TlsError> {
        Ok(&mut self.verifier)
    }

    fn signer(
        &mut self,
    ) -> Result<
        (
            impl p256::ecdsa::signature::SignerMut<Self::Signature>,
            SignatureScheme,
        ),
        embedded_tls::TlsError,
    > {
        let client = self
            .client
            .ok_or(embedded_tls::TlsError::InvalidPrivateKey)?;
        Ok((client.key.clone(), SignatureScheme::EcdsaSecp256r1Sha256))
    }

    fn client_cert(&mut self) -> Option<Certificate<impl AsRef<[u8]>>> {
        self.certificate_requested = true;
        self.client.map(|c| Certificate::X509(c.certificate))
    }
}

/// embedded-tls's `CertVerifier`, which on a refused certificate finds out which check failed.
struct Verifier<'p, Clk: TlsClock, const CERT: usize> {
    ca: &'p [u8],
    full: CertVerifier<'p, Suite, Clk, CERT>,
    problem: Option<CertificateProblem>,
}

type Transcript = <Suite as embedded_tls::TlsCipherSuite>::Hash;

/// A second `CertificateRef` over the same certificate entries (the verifier consumes one).
fn copy_chain<'a>(cert: &CertificateRef<'a>) -> Option<CertificateRef<'a>> {
    let mut copy = CertificateRef::with_context(&[]);
    for entry in &cert.entries {
        let entry = match entry {
            CertificateEntryRef::X509(der) => CertificateEntryRef::X509(der),
            CertificateEntryRef::RawPublicKey(der) => CertificateEntryRef::RawPublicKey(der),
        };
        copy.add(entry).ok()?;
    }
    Some(copy)
}

impl<Clk: TlsClock, const CERT: usize> Verifier<'_, Clk, CERT> {
    /// Which check refused `chain`. embedded-tls checks the chain (signatures, and validity
    /// by the clock) and then the leaf's names, and reports every failure alike; so the chain
    /// is checked again without a clock and under a name the leaf carries (read from its DER
    /// here), then with the clock. Runs only after a refusal: the common path pays nothing.
    /// A check "passes" unless it fails with `InvalidCertificate`.
    fn diagnose(&self, transcript: &Transcript, chain: &CertificateRef<'_>) -> CertificateProblem {
        let refused = |r: Result<(), embedded_tls::TlsError>| {
            matches!(r, Err(embedded_tls::TlsError::InvalidCertificate))
        };
        let leaf = match chain.entries.first() {
            Some(CertificateEntryRef::X509(der)) => *der,
            _ => return CertificateProblem::UnknownIssuer,
        };
        let name = der::leaf_name(leaf).map(ProbeName::new);
        let check = |with_clock: bool| {
            let Some(copy) = copy_chain(chain) else {
                return true;
            };
            let ca = Certificate::X509(self.ca);
            if with_clock {
                let mut v = CertVerifier::<Suite, Clk, 0>::new(ca);
                if let Some(name) = &name {
                    let _ = TlsVerifier::<Suite>::set_hostname_verification(&mut v, name.as_str());
                }
                refused(v.verify_certificate(transcript, copy))
            } else {
                let mut v = CertVerifier::<Suite, NoClock, 0>::new(ca);
                if let Some(name) = &name {
                    let _ = TlsVerifier::<Suite>::set_hostname_verification(&mut v, name.as_str());
                }
                refused(v.verify_certificate(transcript, copy))
            }
        };
        if check(false) {
            CertificateProblem::UnknownIssuer
        } else if check(true) {
            CertificateProblem::NotValidNow
        } else {
            CertificateProblem::WrongHostName
        }
    }
}

impl<Clk: TlsClock, const CERT: usize> TlsVerifier<Suite> for Verifier<'_, Clk, CERT> {
    fn set_hostname_verification(&mut self, hostname: &str) -> Result<(), embedded_tls::TlsError> {
        self.full.set_hostname_verification(hostname)
    }

    fn verify_certificate(
        &mut self,
        transcript: &Transcript,
        cert: CertificateRef,
    ) -> Result<(), embedded_tls::TlsError> {
        let copy = copy_chain(&cert);
        let result = self.full.verify_certificate(transcript, cert);
        if let (Err(embedded_tls::TlsError::InvalidCertificate), Some(copy)) = (&result, copy) {
            self.problem = Some(self.diagnose(transcript, &copy));
        }
        result
    }

    fn verify_signature(
        &mut self,
        verify: CertificateVerifyRef,
    ) -> Result<(), embedded_tls::TlsError> {
        self.full.verify_signature(verify)
    }
}

/// A host name the leaf's own (possibly wildcard) name matches: `*.example.com` becomes
/// `x.example.com` (embedded-tls matches a name against a pattern, and a host name may not
/// hold `*`).
struct ProbeName(NameBuf);

impl ProbeName {
    fn new(name: &str) -> Self {
        let mut buf = NameBuf::new(name);
        if let Some(first) = buf.bytes.first_mut()
            && *first == b'*'
        {
            *first = b'x';
        }
        Self(buf)
    }

    fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// Just enough DER to read an X.509 certificate's first DNS name (RFC 5280, 4.1): its first
/// `dNSName` subject alternative name, else its subject's common name.
mod der {
    /// One tag-length-value: (tag, contents, what follows). Definite lengths of up to 4 bytes.
    fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 {
                return None;
            }
            let (bytes, rest) = rest.split_at_checked(n)?;
            let len = bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (len, rest)
        };
        let (contents, rest) = rest.split_at_checked(len)?;
        Some((tag, contents, rest))
    }

    /// The TLVs of a sequence's contents, in order.
    fn items(mut input: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
        core::iter::from_fn(move || {
            let (tag, contents, rest) = tlv(input)?;
            input = rest;
            Some((tag, contents))
        })
    }

    const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11]; // 2.5.29.17
    const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03]; // 2.5.4.3

    /// The certificate's first DNS name.
    pub(super) fn leaf_name(certificate: &[u8]) -> Option<&str> {
        let (_, certificate, _) = tlv(certificate)?;
        let (_, tbs, _) = tlv(certificate)?;
        let mut fields = items(tbs).peekable();
        // version [0] EXPLICIT, optional
        if fields.peek().is_some_and(|(tag, _)| *tag == 0xa0) {
            fields.next();
        }
        // serialNumber, signature, issuer, validity
        let mut fields = fields.skip(4);
        let (_, subject) = fields.next()?;
        let san = fields
            .find(|(tag, _)| *tag == 0xa3)
            .and_then(|(_, extensions)| san_dns_name(extensions));
        san.or_else(|| common_name(subject))
    }

    fn san_dns_name(extensions: &[u8]) -> Option<&str> {
        let (_, extensions, _) = tlv(extensions)?;
        items(extensions).find_map(|(_, extension)| {
            let mut parts = items(extension);
            let (_, oid) = parts.next()?;
            if oid != SUBJECT_ALT_NAME {
                return None;
            }
            let (_, value) = parts.find(|(tag, _)| *tag == 0x04)?;
            let (_, names, _) = tlv(value)?;
            items(names)
                .find(|(tag, _)| *tag == 0x82)
                .and_then(|(_, name)| core::str::from_utf8(name).ok())
        })
    }

    fn common_name(subject: &[u8]) -> Option<&str> {
        items(subject).find_map(|(_, set)| {
            items(set).find_map(|(_, attribute)| {
                let mut parts = items(attribute);
                let (_, oid) = parts.next()?;
                if oid != COMMON_NAME {
                    return None;
                }
                let (_, value) = parts.next()?;
                core::str::from_utf8(value).ok()
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{IpAddr, Ipv4Addr};
    use std::string::ToString;
    use std::vec::Vec;

    extern crate std;

    fn addr(last: u8, port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)), port)
    }

    #[test]
    fn server_names_by_address_then_default() {
        let table = [
            (addr(1, 9093), "kafka-1.example.com"),
            (addr(2, 9093), "kafka-2.example.com"),
        ];
        let names = ServerNames::table("kafka.example.com", &table);
        assert_eq!(names.name_for(addr(1, 9093)), "kafka-1.example.com");
        assert_eq!(names.name_for(addr(2, 9093)), "kafka-2.example.com");
        assert_eq!(
            names.name_for(addr(2, 9094)),
            "kafka.example.com",
            "another port"
        );
        assert_eq!(ServerNames::all("k").name_for(addr(3, 1)), "k");
    }

    fn certificate(sans: &[&str], cn: Option<&str>) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let sans: Vec<std::string::String> = sans.iter().map(|s| s.to_string()).collect();
        let mut params = rcgen::CertificateParams::new(sans).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(cn) = cn {
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, cn);
        }
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn leaf_name_prefers_the_first_dns_san_then_the_cn() {
        let der = certificate(
            &["10.1.2.3", "broker.example.com", "other"],
            Some("cn.example"),
        );
        assert_eq!(der::leaf_name(&der), Some("broker.example.com"));
        let der = certificate(&[], Some("cn.example"));
        assert_eq!(der::leaf_name(&der), Some("cn.example"));
        let der = certificate(&[], None);
        assert_eq!(der::leaf_name(&der), None);
        // Anything cut short is no name, never a panic.
        let der = certificate(&["broker.example.com"], None);
        for len in 0..der.len() {
            let _ = der::leaf_name(&der[..len]);
        }
        assert_eq!(der::leaf_name(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
    }

    #[test]
    fn a_wildcard_name_probes_with_a_label() {
        assert_eq!(ProbeName::new("*.example.com").as_str(), "x.example.com");
        assert_eq!(ProbeName::new("kafka").as_str(), "kafka");
    }

    #[test]
    fn names_in_errors_are_cut_at_64_bytes_on_a_character_boundary() {
        let long = "é".repeat(40);
        let cut = NameBuf::new(&long);
        assert!(cut.as_str().len() <= 64);
        assert!(long.starts_with(cut.as_str()));
        assert_eq!(cut.as_str().len(), 64);
    }

    #[test]
    fn a_client_key_that_is_not_p256_pkcs8_is_refused_up_front() {
        assert_eq!(
            ClientIdentity::new(b"cert", b"not a key").unwrap_err(),
            ConfigError::ClientKey
        );
        let key = rcgen::KeyPair::generate().unwrap().serialize_der();
        assert!(ClientIdentity::new(b"cert", &key).is_ok());
        assert_eq!(
            ClientIdentity::new(b"", &key).unwrap_err(),
            ConfigError::ClientCertificate
        );
    }
}
