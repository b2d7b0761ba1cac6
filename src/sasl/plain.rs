//! PLAIN (RFC 4616): one message, `authzid NUL authcid NUL passwd`.

use super::{SaslError, write_parts};

/// The PLAIN message for `username` and `password` (no authorization identity, as Kafka's
/// client sends it), written at the start of `out`.
///
/// Neither may contain a NUL byte (it separates the fields): that is
/// [`SaslError::InvalidCredentials`].
///
/// ```
/// let mut buf = [0u8; 64];
/// let msg = embedded_kafka::sasl::plain("alice", "s3cret", &mut buf)?;
/// assert_eq!(msg, b"\0alice\0s3cret");
/// # Ok::<(), embedded_kafka::sasl::SaslError>(())
/// ```
pub fn plain<'b>(username: &str, password: &str, out: &'b mut [u8]) -> Result<&'b [u8], SaslError> {
    if username.is_empty() || username.contains('\0') || password.contains('\0') {
        return Err(SaslError::InvalidCredentials {
            why: "PLAIN needs a non-empty user name, and neither it nor the password may contain NUL",
        });
    }
    write_parts(
        out,
        &[b"\0", username.as_bytes(), b"\0", password.as_bytes()],
    )
}
