//! What can go wrong in a SASL exchange, from the client's side.

use core::fmt;

/// Why a SASL step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SaslError {
    /// The output buffer cannot hold the message: it must be `needed` bytes.
    BufferTooSmall {
        /// Bytes the message takes.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// The user name, password or nonce cannot be used as given.
    InvalidCredentials {
        /// What is wrong with them.
        why: &'static str,
    },
    /// A step was called out of order (`client_final` before `client_first`, or twice).
    OutOfOrder {
        /// The step that was called.
        step: &'static str,
        /// The step that was due.
        expected: &'static str,
    },
    /// The server's message is not what the mechanism allows at this step.
    Malformed {
        /// Which message (`"server-first-message"`, `"server-final-message"`).
        message: &'static str,
        /// What was wrong with it.
        why: &'static str,
    },
    /// The server's nonce does not start with ours: the answer is not to this exchange (or
    /// someone in between replays another one).
    NonceMismatch,
    /// The server asks for an iteration count outside what Kafka allows (4096..=16384 for
    /// both SCRAM mechanisms). The upper bound also caps the work a hostile server can make a
    /// small device do.
    IterationCount {
        /// What the server asked for.
        iterations: u32,
        /// The least allowed.
        min: u32,
        /// The most allowed.
        max: u32,
    },
    /// The salt is longer than `MAX_SALT_LEN` bytes (decoded; feature `scram`).
    SaltTooLong {
        /// Its length, decoded.
        len: usize,
        /// The most this client keeps.
        max: usize,
    },
    /// The server said no (`e=` in its final message): most often a wrong user name or
    /// password.
    Server(ServerError),
    /// The server's signature is not the one the password gives: this server does not know
    /// the password, so it is not the server it claims to be. Nothing may be sent on.
    ServerSignatureMismatch,
}

impl fmt::Display for SaslError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferTooSmall { needed, available } => write!(
                f,
                "SASL message does not fit: it needs a {needed}-byte buffer, this one has {available}"
            ),
            Self::InvalidCredentials { why } => write!(f, "unusable SASL credentials: {why}"),
            Self::OutOfOrder { step, expected } => {
                write!(f, "SASL step {step} called out of order: {expected} is due")
            }
            Self::Malformed { message, why } => write!(f, "malformed SCRAM {message}: {why}"),
            Self::NonceMismatch => f.write_str(
                "the server's SCRAM nonce does not extend ours: the answer is not to this exchange",
            ),
            Self::IterationCount {
                iterations,
                min,
                max,
            } => write!(
                f,
                "the server asks for {iterations} SCRAM iterations; Kafka allows {min}..={max}"
            ),
            Self::SaltTooLong { len, max } => {
                write!(
                    f,
                    "the server's SCRAM salt is {len} bytes; at most {max} are kept"
                )
            }
            Self::Server(e) => write!(
                f,
                "authentication failed: the server answered e={} ({})",
                e.name(),
                e.meaning()
            ),
            Self::ServerSignatureMismatch => f.write_str(
                "the server's SCRAM signature is wrong: it does not know the password, so it is \
                 not the server it claims to be",
            ),
        }
    }
}

impl core::error::Error for SaslError {}

/// The `server-error-value`s of RFC 5802 (section 7), as a server sends them in `e=…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[allow(missing_docs)] // each variant is the RFC's value, spelled out in `name`
pub enum ServerError {
    InvalidEncoding,
    ExtensionsNotSupported,
    InvalidProof,
    ChannelBindingsDontMatch,
    ServerDoesSupportChannelBinding,
    ChannelBindingNotSupported,
    UnsupportedChannelBindingType,
    UnknownUser,
    InvalidUsernameEncoding,
    NoResources,
    OtherError,
    /// A value the RFC does not list (servers may add their own).
    Unrecognized,
}

const SERVER_ERRORS: [(ServerError, &str); 11] = [
    (ServerError::InvalidEncoding, "invalid-encoding"),
    (
        ServerError::ExtensionsNotSupported,
        "extensions-not-supported",
    ),
    (ServerError::InvalidProof, "invalid-proof"),
    (
        ServerError::ChannelBindingsDontMatch,
        "channel-bindings-dont-match",
    ),
    (
        ServerError::ServerDoesSupportChannelBinding,
        "server-does-support-channel-binding",
    ),
    (
        ServerError::ChannelBindingNotSupported,
        "channel-binding-not-supported",
    ),
    (
        ServerError::UnsupportedChannelBindingType,
        "unsupported-channel-binding-type",
    ),
    (ServerError::UnknownUser, "unknown-user"),
    (
        ServerError::InvalidUsernameEncoding,
        "invalid-username-encoding",
    ),
    (ServerError::NoResources, "no-resources"),
    (ServerError::OtherError, "other-error"),
];

impl ServerError {
    /// The value as the server spelled it (`"unrecognized"` for one the RFC does not list).
    pub fn name(self) -> &'static str {
        SERVER_ERRORS
            .iter()
            .find(|(e, _)| *e == self)
            .map_or("unrecognized", |(_, n)| n)
    }

    /// What it means for the user.
    pub fn meaning(self) -> &'static str {
        match self {
            Self::InvalidProof => "wrong password",
            Self::UnknownUser => "no such user on this broker",
            Self::InvalidEncoding | Self::InvalidUsernameEncoding => {
                "the broker could not read the client's message"
            }
            Self::NoResources => "the broker is out of resources; try again later",
            _ => "the broker refused the SCRAM exchange",
        }
    }

    /// The error named by `value` (the bytes after `e=`).
    pub fn parse(value: &[u8]) -> Self {
        SERVER_ERRORS
            .iter()
            .find(|(_, n)| n.as_bytes() == value)
            .map_or(Self::Unrecognized, |(e, _)| *e)
    }
}
