//! Standard base64 (RFC 4648, `+/`, padded), the encoding SCRAM puts nonces, salts, proofs and
//! signatures in. Our own few lines rather than a crate's: they have no panic path at all
//! (`scripts/no-panic` links the SCRAM client with a panic handler that cannot exist), and
//! SCRAM needs nothing more.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Why base64 could not be read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Base64Error {
    /// Not base64: a character outside the alphabet, misplaced padding, or a length that is not
    /// a multiple of 4.
    Invalid,
    /// The output buffer is too small; it must hold `needed` bytes.
    TooSmall { needed: usize },
}

/// The encoded length of `n` bytes.
pub(super) const fn encoded_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Encodes `input` at the start of `out`; returns the length written.
pub(super) fn encode(input: &[u8], out: &mut [u8]) -> Result<usize, Base64Error> {
    let needed = encoded_len(input.len());
    let out = out
        .get_mut(..needed)
        .ok_or(Base64Error::TooSmall { needed })?;
    for (chunk, dst) in input.chunks(3).zip(out.chunks_mut(4)) {
        let [a, b, c] = match *chunk {
            [a] => [a, 0, 0],
            [a, b] => [a, b, 0],
            [a, b, c] => [a, b, c],
            _ => [0, 0, 0],
        };
        let n = u32::from(a) << 16 | u32::from(b) << 8 | u32::from(c);
        let sym = |shift: u32| {
            ALPHABET
                .get((n >> shift & 63) as usize)
                .copied()
                .unwrap_or(b'=')
        };
        let quad = [
            sym(18),
            sym(12),
            if chunk.len() > 1 { sym(6) } else { b'=' },
            if chunk.len() > 2 { sym(0) } else { b'=' },
        ];
        for (d, q) in dst.iter_mut().zip(quad) {
            *d = q;
        }
    }
    Ok(needed)
}

fn value(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Decodes `input` at the start of `out`; returns the length written.
pub(super) fn decode(input: &[u8], out: &mut [u8]) -> Result<usize, Base64Error> {
    if !input.len().is_multiple_of(4) {
        return Err(Base64Error::Invalid);
    }
    let quads = input.len() / 4;
    let mut written = 0;
    for (i, quad) in input.chunks_exact(4).enumerate() {
        let last = i + 1 == quads;
        let pad = match quad {
            [.., b'=', b'='] if last => 2,
            [.., b'='] if last => 1,
            _ => 0,
        };
        let mut n = 0u32;
        for (j, &c) in quad.iter().enumerate() {
            let v = if j >= 4 - pad {
                0
            } else {
                value(c).ok_or(Base64Error::Invalid)?
            };
            n = n << 6 | v;
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let take = 3 - pad;
        let needed = written + take;
        let dst = out.get_mut(written..needed).ok_or(Base64Error::TooSmall {
            needed: quads * 3 - pad,
        })?;
        for (d, b) in dst.iter_mut().zip(bytes) {
            *d = b;
        }
        written = needed;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors_both_ways() {
        let vectors: [(&[u8], &[u8]); 7] = [
            (b"", b""),
            (b"f", b"Zg=="),
            (b"fo", b"Zm8="),
            (b"foo", b"Zm9v"),
            (b"foob", b"Zm9vYg=="),
            (b"fooba", b"Zm9vYmE="),
            (b"foobar", b"Zm9vYmFy"),
        ];
        for (plain, coded) in vectors {
            let mut buf = [0u8; 16];
            let n = encode(plain, &mut buf).unwrap();
            assert_eq!(&buf[..n], coded);
            let n = decode(coded, &mut buf).unwrap();
            assert_eq!(&buf[..n], plain);
        }
    }

    #[test]
    fn bad_input_and_short_buffers_are_errors() {
        let mut buf = [0u8; 16];
        for bad in [&b"Zg="[..], b"Z===", b"Zm9v!A==", b"Zg==Zg==", b"=Zg="] {
            assert_eq!(decode(bad, &mut buf), Err(Base64Error::Invalid), "{bad:?}");
        }
        assert_eq!(
            decode(b"Zm9vYmFy", &mut buf[..4]),
            Err(Base64Error::TooSmall { needed: 6 })
        );
        assert_eq!(
            encode(b"foobar", &mut buf[..7]),
            Err(Base64Error::TooSmall { needed: 8 })
        );
    }
}
