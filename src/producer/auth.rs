//! SASL authentication of a new connection (`security.protocol` SASL_PLAINTEXT or SASL_SSL),
//! right after ApiVersions and before anything else, as Kafka's Java client does it
//! (`SaslClientAuthenticator`): SaslHandshake v1 names `sasl.mechanism` (the broker answers
//! with the mechanisms it has), then one SaslAuthenticate round trip per step of the
//! mechanism: PLAIN's single message; SCRAM's client-first and client-final, the server-final
//! checked so that the broker too has proved it knows the password.
//!
//! Every failure is final ([`Error::is_retriable`] is false): sending the same credentials
//! again would fail the same way, and retrying a login is how accounts get locked.

use core::net::SocketAddr;

use embedded_nal_async::{Dns, TcpConnect};

use super::error::BrokerText;
use super::producer::{Producer, Res};
use super::{Clock, ConfigError, Delay, Error};
use crate::partition::Partitioner;
use crate::protocol::{
    ApiKey, ErrorCode, Request, SaslAuthenticateRequest, SaslHandshakeRequest, VersionError,
    VersionRange,
};
use crate::sasl::{Mechanism, SaslError};

/// The largest SASL message this producer sends: PLAIN's (user name and password with two
/// separators) or SCRAM's client-final (about 200 bytes with SHA-512). Longer credentials are
/// [`SaslError::BufferTooSmall`].
const AUTH_BYTES: usize = 512;

/// Random bytes in a SCRAM nonce: 24 characters in base64, as the Java client's.
#[cfg(feature = "scram")]
const NONCE_RANDOM: usize = 18;

impl<'a, C, K, D, P, const T: usize, const B: usize, const R: usize, N, const L: usize>
    Producer<'a, C, K, D, P, T, B, R, N, L>
where
    C: TcpConnect + 'a,
    K: Clock,
    D: Delay,
    P: Partitioner,
    N: Dns,
{
    /// Authenticates connection `ci` with `sasl.mechanism`.
    pub(super) async fn authenticate(&mut self, ci: usize, broker: SocketAddr) -> Res<'a, (), C> {
        let mechanism = self.config.sasl_mechanism;
        let handshake = self.version(ci, ApiKey::SaslHandshake)?;
        if handshake < 1 {
            // v0 carries the SASL tokens raw, outside Kafka's framing (brokers before 1.0):
            // not spoken here.
            let broker = self
                .conns
                .get(ci)
                .and_then(Option::as_ref)
                .and_then(|c| c.versions.as_ref())
                .and_then(|v| v.broker_range(ApiKey::SaslHandshake))
                .unwrap_or(VersionRange::new(0, 0));
            return Err(Error::Version(VersionError::NoCommonVersion {
                api: ApiKey::SaslHandshake,
                ours: VersionRange::new(1, 1),
                broker,
            }));
        }
        let request = SaslHandshakeRequest {
            mechanism: mechanism.name(),
        };
        self.round_trip(ci, &request, handshake).await?;
        let answer = match self.reader.frame() {
            Some(frame) => match SaslHandshakeRequest::decode_response(frame, handshake) {
                Ok((_, r)) => {
                    let code = ErrorCode::from_code(r.error_code);
                    if code == ErrorCode::UnsupportedSaslMechanism {
                        Err(Error::SaslMechanism {
                            broker,
                            mechanism,
                            offered: BrokerText::join(r.mechanisms.iter(), ", "),
                        })
                    } else if code.is_error() {
                        Err(Error::Broker {
                            api: ApiKey::SaslHandshake,
                            code,
                            topic: None,
                            partition: None,
                        })
                    } else {
                        Ok(())
                    }
                }
                Err(error) => Err(Error::Decode {
                    api: ApiKey::SaslHandshake,
                    broker,
                    error,
                }),
            },
            None => Err(Error::NoBroker { tried: 1 }),
        };
        self.reader.consume();
        answer?;
        let version = self.version(ci, ApiKey::SaslAuthenticate)?;
        let sasl = |error: SaslError| Error::Sasl {
            broker,
            mechanism,
            error,
        };
        let mut out = [0u8; AUTH_BYTES];
        match mechanism {
            Mechanism::Plain => {
                let (user, password) = (self.config.sasl_username, self.config.sasl_password);
                let message = crate::sasl::plain(user, password, &mut out).map_err(sasl)?;
                self.sasl_step(ci, broker, version, message).await?;
                self.reader.consume();
                Ok(())
            }
            #[cfg(feature = "scram")]
            Mechanism::ScramSha256 => {
                self.scram::<sha2::Sha256>(ci, broker, version, &mut out)
                    .await
            }
            #[cfg(feature = "scram")]
            Mechanism::ScramSha512 => {
                self.scram::<sha2::Sha512>(ci, broker, version, &mut out)
                    .await
            }
            #[cfg(not(feature = "scram"))]
            Mechanism::ScramSha256 | Mechanism::ScramSha512 => {
                Err(Error::Config(ConfigError::SaslMechanismUnavailable {
                    mechanism,
                }))
            }
        }
    }

    /// SCRAM (RFC 5802) over SaslAuthenticate: client-first, server-first, client-final,
    /// server-final checked.
    #[cfg(feature = "scram")]
    async fn scram<H>(
        &mut self,
        ci: usize,
        broker: SocketAddr,
        version: i16,
        out: &mut [u8],
    ) -> Res<'a, (), C>
    where
        H: sha2::Digest + hmac::digest::block_api::BlockSizeUser + Clone,
    {
        let mechanism = self.config.sasl_mechanism;
        let sasl = |error: SaslError| Error::Sasl {
            broker,
            mechanism,
            error,
        };
        let Some(rng) = self.sasl_rng.as_mut() else {
            return Err(Error::Config(ConfigError::ScramWithoutRng));
        };
        let mut random = [0u8; NONCE_RANDOM];
        rng.fill_bytes(&mut random);
        let mut nonce_buf = [0u8; 32];
        let nonce = crate::sasl::Scram::<H>::nonce_from(&random, &mut nonce_buf).map_err(sasl)?;
        let (user, password) = (self.config.sasl_username, self.config.sasl_password);
        let mut scram = crate::sasl::Scram::<H>::new(user, password, nonce).map_err(sasl)?;
        let first = scram.client_first(out).map_err(sasl)?;
        self.sasl_step(ci, broker, version, first).await?;
        // The server-first message is in the receive buffer: the client-final is computed
        // from it there, into `out`, before the buffer is reused.
        let mut spare = [0u8; AUTH_BYTES];
        let computed = match self.server_bytes(broker, version) {
            Ok(server_first) => scram
                .client_final(server_first, &mut spare)
                .map(<[u8]>::len),
            Err(e) => {
                self.reader.consume();
                return Err(e);
            }
        };
        self.reader.consume();
        let n = computed.map_err(sasl)?;
        let last = spare.get(..n).unwrap_or_default();
        self.sasl_step(ci, broker, version, last).await?;
        let verified = match self.server_bytes(broker, version) {
            Ok(server_final) => scram.server_final(server_final).map_err(sasl),
            Err(e) => Err(e),
        };
        self.reader.consume();
        verified
    }

    /// One SaslAuthenticate round trip carrying `auth_bytes`; its response is left in the
    /// reader (the caller consumes it) when the broker took the step.
    async fn sasl_step(
        &mut self,
        ci: usize,
        broker: SocketAddr,
        version: i16,
        auth_bytes: &[u8],
    ) -> Res<'a, (), C> {
        let request = SaslAuthenticateRequest {
            auth_bytes,
            ..Default::default()
        };
        self.round_trip(ci, &request, version).await?;
        let mechanism = self.config.sasl_mechanism;
        let failed = match self
            .reader
            .frame()
            .map(|frame| SaslAuthenticateRequest::decode_response(frame, version))
        {
            Some(Ok((_, r))) => {
                let code = ErrorCode::from_code(r.error_code);
                code.is_error().then(|| Error::SaslAuthentication {
                    broker,
                    mechanism,
                    code,
                    message: BrokerText::new(r.error_message.unwrap_or_default()),
                })
            }
            Some(Err(error)) => Some(Error::Decode {
                api: ApiKey::SaslAuthenticate,
                broker,
                error,
            }),
            None => Some(Error::NoBroker { tried: 1 }),
        };
        match failed {
            Some(e) => {
                self.reader.consume();
                Err(e)
            }
            None => Ok(()),
        }
    }

    /// The server's `auth_bytes` in the SaslAuthenticate response in the reader.
    #[cfg(feature = "scram")]
    fn server_bytes(&self, broker: SocketAddr, version: i16) -> Res<'a, &[u8], C> {
        match self
            .reader
            .frame()
            .map(|frame| SaslAuthenticateRequest::decode_response(frame, version))
        {
            Some(Ok((_, r))) => Ok(r.auth_bytes),
            Some(Err(error)) => Err(Error::Decode {
                api: ApiKey::SaslAuthenticate,
                broker,
                error,
            }),
            None => Err(Error::NoBroker { tried: 1 }),
        }
    }
}
