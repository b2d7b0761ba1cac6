//! SCRAM (RFC 5802) client, as Kafka uses it: no channel binding (`n,,`), no authorization
//! identity, user names escaped (`=` → `=3D`, `,` → `=2C`) but not SASLprep-normalised (the
//! Java client does not normalise either).
//!
//! Nothing is kept but the user's inputs and the signature expected from the server: the auth
//! message (client-first-bare, server-first, client-final-without-proof) is fed to both HMACs
//! piece by piece as it is produced, never assembled.

use hmac::digest::block_api::BlockSizeUser;
use hmac::digest::{Digest, KeyInit, Output};
use hmac::{Mac, SimpleHmac};

use super::base64::{self, Base64Error};
use super::{Cursor, SaslError, ServerError, write_parts};

/// The fewest iterations Kafka's SCRAM mechanisms accept (`ScramMechanism.minIterations`).
pub const MIN_ITERATIONS: u32 = 4096;
/// The most iterations Kafka's SCRAM mechanisms allow (`ScramMechanism.maxIterations`); a
/// server asking for more is refused rather than obeyed, so it cannot stall a small device.
pub const MAX_ITERATIONS: u32 = 16384;
/// The longest salt (decoded) this client accepts: Kafka's are far shorter.
pub const MAX_SALT_LEN: usize = 64;

/// SCRAM-SHA-256 (RFC 7677).
pub type ScramSha256<'a> = Scram<'a, sha2::Sha256>;
/// SCRAM-SHA-512.
pub type ScramSha512<'a> = Scram<'a, sha2::Sha512>;

/// `base64("n,,")`: the GS2 header, no channel binding, no authorization identity.
const CHANNEL_BINDING: &[u8] = b"c=biws";

/// One SCRAM exchange, client side, over the hash `D`. Steps: [`client_first`](Self::client_first),
/// then [`client_final`](Self::client_final) with the server's first message, then
/// [`server_final`](Self::server_final) with its last; only after that is the server known to
/// be genuine.
///
/// The PBKDF2 in `client_final` runs the server's iteration count (4096..=16384) of HMACs:
/// milliseconds on a server, up to seconds on a small microcontroller.
pub struct Scram<'a, D: Digest + BlockSizeUser + Clone> {
    username: &'a str,
    password: &'a str,
    nonce: &'a str,
    state: State<D>,
}

enum State<D: Digest> {
    Start,
    SentFirst,
    SentFinal { server_signature: Output<D> },
    Done,
}

impl<D: Digest + BlockSizeUser + Clone> core::fmt::Debug for Scram<'_, D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never the password.
        f.debug_struct("Scram")
            .field("username", &self.username)
            .field("nonce", &self.nonce)
            .finish_non_exhaustive()
    }
}

fn printable(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && b != b','
}

/// `username` as a SCRAM `saslname` piece by piece (`=` and `,` escaped).
fn escaped(username: &str) -> impl Iterator<Item = &[u8]> {
    username
        .as_bytes()
        .split_inclusive(|&b| b == b'=' || b == b',')
        .flat_map(|piece| {
            let (body, escape): (&[u8], &[u8]) = match piece.split_last() {
                Some((b'=', body)) => (body, b"=3D"),
                Some((b',', body)) => (body, b"=2C"),
                _ => (piece, b""),
            };
            [body, escape]
        })
}

impl<'a, D: Digest + BlockSizeUser + Clone> Scram<'a, D> {
    /// An exchange for `username` with `password`, using `nonce` as the client nonce: random,
    /// unpredictable, printable ASCII without `,` (e.g. 24 random bytes in base64; see
    /// [`nonce_from`](Self::nonce_from)).
    pub fn new(username: &'a str, password: &'a str, nonce: &'a str) -> Result<Self, SaslError> {
        if username.is_empty() {
            return Err(SaslError::InvalidCredentials {
                why: "the SCRAM user name is empty",
            });
        }
        if nonce.len() < 8 || !nonce.bytes().all(printable) {
            return Err(SaslError::InvalidCredentials {
                why: "a SCRAM nonce needs at least 8 printable ASCII characters and no ','",
            });
        }
        Ok(Self {
            username,
            password,
            nonce,
            state: State::Start,
        })
    }

    /// Turns `random` bytes (from the device's random number generator) into a nonce in `out`:
    /// their base64 form. 18 random bytes give the 24 characters the Java client uses.
    pub fn nonce_from<'n>(random: &[u8], out: &'n mut [u8]) -> Result<&'n str, SaslError> {
        let available = out.len();
        let n = base64::encode(random, out).map_err(|_| SaslError::BufferTooSmall {
            needed: base64::encoded_len(random.len()),
            available,
        })?;
        let nonce = out.get(..n).unwrap_or_default();
        // base64 is ASCII; `/`, `+` and `=` are all printable and none is ','.
        core::str::from_utf8(nonce).map_err(|_| SaslError::InvalidCredentials {
            why: "nonce is not ASCII",
        })
    }

    /// The client-first-message: `n,,n=USER,r=NONCE`, at the start of `out`.
    pub fn client_first<'b>(&mut self, out: &'b mut [u8]) -> Result<&'b [u8], SaslError> {
        if !matches!(self.state, State::Start) {
            return Err(SaslError::OutOfOrder {
                step: "client_first",
                expected: self.due(),
            });
        }
        let mut c = Cursor::new(out);
        c.put(b"n,,");
        self.client_first_bare(|piece| c.put(piece));
        let msg = c.finish()?;
        self.state = State::SentFirst;
        Ok(msg)
    }

    /// `n=USER,r=NONCE`, piece by piece.
    fn client_first_bare(&self, mut put: impl FnMut(&[u8])) {
        put(b"n=");
        for piece in escaped(self.username) {
            put(piece);
        }
        put(b",r=");
        put(self.nonce.as_bytes());
    }

    /// Reads the server-first-message and writes the client-final-message (with the proof)
    /// at the start of `out`.
    pub fn client_final<'b>(
        &mut self,
        server_first: &[u8],
        out: &'b mut [u8],
    ) -> Result<&'b [u8], SaslError> {
        if !matches!(self.state, State::SentFirst) {
            return Err(SaslError::OutOfOrder {
                step: "client_final",
                expected: self.due(),
            });
        }
        const MSG: &str = "server-first-message";
        if let Some(e) = server_first.strip_prefix(b"e=") {
            self.state = State::Done;
            return Err(SaslError::Server(ServerError::parse(e)));
        }
        let mut attrs = server_first.split(|&b| b == b',');
        let nonce = attr(attrs.next(), b'r', MSG)?;
        let salt_b64 = attr(attrs.next(), b's', MSG)?;
        let iterations = attr(attrs.next(), b'i', MSG)?;
        if !nonce.starts_with(self.nonce.as_bytes()) {
            return Err(SaslError::NonceMismatch);
        }
        if !nonce.iter().copied().all(printable) {
            return Err(malformed(
                MSG,
                "the nonce has characters SCRAM does not allow",
            ));
        }
        let iterations = core::str::from_utf8(iterations)
            .ok()
            .and_then(|s| s.parse::<u32>().ok())
            .ok_or(malformed(MSG, "the iteration count is not a number"))?;
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(SaslError::IterationCount {
                iterations,
                min: MIN_ITERATIONS,
                max: MAX_ITERATIONS,
            });
        }
        let mut salt_buf = [0u8; MAX_SALT_LEN];
        let salt_len = base64::decode(salt_b64, &mut salt_buf).map_err(|e| match e {
            Base64Error::TooSmall { needed } => SaslError::SaltTooLong {
                len: needed,
                max: MAX_SALT_LEN,
            },
            Base64Error::Invalid => malformed(MSG, "the salt is not base64"),
        })?;
        let salt = salt_buf.get(..salt_len).unwrap_or_default();

        let mut salted = Output::<D>::default();
        pbkdf2::pbkdf2::<SimpleHmac<D>>(self.password.as_bytes(), salt, iterations, &mut salted)
            .map_err(|_| SaslError::InvalidCredentials {
                why: "PBKDF2 refused the password",
            })?;
        let client_key = hmac::<D>(&salted, b"Client Key")?;
        let stored_key = D::digest(&client_key);
        let server_key = hmac::<D>(&salted, b"Server Key")?;

        // AuthMessage = client-first-bare "," server-first "," client-final-without-proof
        let mut client_mac = mac::<D>(&stored_key)?;
        let mut server_mac = mac::<D>(&server_key)?;
        let mut feed = |piece: &[u8]| {
            client_mac.update(piece);
            server_mac.update(piece);
        };
        self.client_first_bare(&mut feed);
        for piece in [b",", server_first, b",", CHANNEL_BINDING, b",r=", nonce] {
            feed(piece);
        }
        let mut proof = client_mac.finalize().into_bytes();
        for (p, k) in proof.iter_mut().zip(client_key.iter()) {
            *p ^= k;
        }
        let mut proof_b64 = [0u8; 88]; // base64 of 64 bytes (SHA-512)
        let proof_len = base64::encode(&proof, &mut proof_b64)
            .map_err(|_| malformed(MSG, "hash output too long"))?;
        let msg = write_parts(
            out,
            &[
                CHANNEL_BINDING,
                b",r=",
                nonce,
                b",p=",
                proof_b64.get(..proof_len).unwrap_or_default(),
            ],
        )?;
        self.state = State::SentFinal {
            server_signature: server_mac.finalize().into_bytes(),
        };
        Ok(msg)
    }

    /// Checks the server-final-message. `Ok` means the server knew the password too: the
    /// connection is authenticated both ways.
    pub fn server_final(&mut self, server_final: &[u8]) -> Result<(), SaslError> {
        let State::SentFinal { server_signature } = &self.state else {
            return Err(SaslError::OutOfOrder {
                step: "server_final",
                expected: self.due(),
            });
        };
        const MSG: &str = "server-final-message";
        if let Some(e) = server_final.strip_prefix(b"e=") {
            self.state = State::Done;
            return Err(SaslError::Server(ServerError::parse(
                e.split(|&b| b == b',').next().unwrap_or_default(),
            )));
        }
        let verifier = attr(server_final.split(|&b| b == b',').next(), b'v', MSG)?;
        let mut got = [0u8; 66];
        let len = base64::decode(verifier, &mut got)
            .map_err(|_| malformed(MSG, "the verifier is not base64 of a signature"))?;
        // Every byte compared, whatever the first difference (no timing hint).
        let same = len == server_signature.len()
            && got
                .iter()
                .zip(server_signature.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        self.state = State::Done;
        if same {
            Ok(())
        } else {
            Err(SaslError::ServerSignatureMismatch)
        }
    }

    fn due(&self) -> &'static str {
        match self.state {
            State::Start => "client_first",
            State::SentFirst => "client_final",
            State::SentFinal { .. } => "server_final",
            State::Done => "nothing (the exchange is over)",
        }
    }
}

fn malformed(message: &'static str, why: &'static str) -> SaslError {
    SaslError::Malformed { message, why }
}

/// The value of attribute `name` (`name=value`), which must be this one.
fn attr<'m>(
    field: Option<&'m [u8]>,
    name: u8,
    message: &'static str,
) -> Result<&'m [u8], SaslError> {
    match field {
        Some([n, b'=', value @ ..]) if *n == name => Ok(value),
        Some([b'm', b'=', ..]) => Err(malformed(
            message,
            "a mandatory extension (m=) this client does not know",
        )),
        _ => Err(malformed(
            message,
            match name {
                b'r' => "it must start with the nonce (r=)",
                b's' => "the salt (s=) must follow the nonce",
                b'i' => "the iteration count (i=) must follow the salt",
                _ => "the verifier (v=) or an error (e=) is due",
            },
        )),
    }
}

fn mac<D: Digest + BlockSizeUser + Clone>(key: &[u8]) -> Result<SimpleHmac<D>, SaslError> {
    // HMAC takes keys of any length, so this never fails; no panic path either way.
    <SimpleHmac<D> as KeyInit>::new_from_slice(key).map_err(|_| SaslError::InvalidCredentials {
        why: "HMAC refused the key",
    })
}

fn hmac<D: Digest + BlockSizeUser + Clone>(
    key: &[u8],
    data: &[u8],
) -> Result<Output<D>, SaslError> {
    let mut m = mac::<D>(key)?;
    m.update(data);
    Ok(m.finalize().into_bytes())
}
