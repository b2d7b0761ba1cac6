//! SASL client mechanisms for Kafka's SaslAuthenticate exchange: PLAIN (RFC 4616) and SCRAM
//! (RFC 5802) with SHA-256 and SHA-512 (RFC 7677), as the Java client offers them, with no
//! heap: every message is written into a caller's buffer and read from the broker's bytes in
//! place.
//!
//! The mechanisms only make and check the `auth_bytes` of each step; the exchange itself
//! (SaslHandshake to pick the mechanism, then one SaslAuthenticate round trip per step) is
//! the connection's job.
//!
//! ```
//! # #[cfg(feature = "scram")] {
//! use embedded_kafka::sasl::ScramSha256;
//!
//! // RFC 7677's example exchange (user "user", password "pencil").
//! let mut scram = ScramSha256::new("user", "pencil", "rOprNGfwEbeRWgbNEkqO")?;
//! let mut buf = [0u8; 256];
//! assert_eq!(scram.client_first(&mut buf)?, b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
//! let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
//!                      s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
//! let client_final = scram.client_final(server_first, &mut buf)?;
//! assert_eq!(
//!     client_final,
//!     &b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
//!        p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="[..]
//! );
//! // The server proves it knows the password too.
//! scram.server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")?;
//! # }
//! # Ok::<(), embedded_kafka::sasl::SaslError>(())
//! ```

#[cfg(feature = "scram")]
mod base64;
mod error;
mod plain;
#[cfg(feature = "scram")]
mod scram;

pub use error::{SaslError, ServerError};
pub use plain::plain;
#[cfg(feature = "scram")]
pub use scram::{MAX_ITERATIONS, MAX_SALT_LEN, MIN_ITERATIONS, Scram, ScramSha256, ScramSha512};

/// The mechanisms this crate speaks, by the names Kafka's SaslHandshake uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Mechanism {
    /// `PLAIN`: user name and password in the clear (use it only inside TLS).
    Plain,
    /// `SCRAM-SHA-256`.
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
}

impl Mechanism {
    /// The name as Kafka spells it (`sasl.mechanism`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
        }
    }

    /// The mechanism named `name` (as in `sasl.mechanism`; case matters, as in Kafka).
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Plain, Self::ScramSha256, Self::ScramSha512]
            .into_iter()
            .find(|m| m.name() == name)
    }
}

/// Writes pieces one after the other at the start of a buffer, counting the bytes needed even
/// past its end, so that a short buffer is reported with the size it must have.
struct Cursor<'b> {
    buf: &'b mut [u8],
    needed: usize,
}

impl<'b> Cursor<'b> {
    fn new(buf: &'b mut [u8]) -> Self {
        Self { buf, needed: 0 }
    }

    fn put(&mut self, piece: &[u8]) {
        let end = self.needed + piece.len();
        if let Some(dst) = self.buf.get_mut(self.needed..end) {
            dst.copy_from_slice(piece);
        }
        self.needed = end;
    }

    /// The bytes written, or [`SaslError::BufferTooSmall`] with the size needed.
    fn finish(self) -> Result<&'b [u8], SaslError> {
        let available = self.buf.len();
        match self.buf.get(..self.needed) {
            Some(done) => Ok(done),
            None => Err(SaslError::BufferTooSmall {
                needed: self.needed,
                available,
            }),
        }
    }
}

/// Writes `parts` one after the other at the start of `out`.
fn write_parts<'b>(out: &'b mut [u8], parts: &[&[u8]]) -> Result<&'b [u8], SaslError> {
    let mut c = Cursor::new(out);
    for p in parts {
        c.put(p);
    }
    c.finish()
}
