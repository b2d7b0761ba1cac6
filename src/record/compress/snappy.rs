//! Snappy in the xerial framing (codec 2), as Kafka's Java client (snappy-java's
//! `SnappyOutputStream`) and kafka-python (`codec.snappy_encode`) write it.
//!
//! ```text
//! 82 'S' 'N' 'A' 'P' 'P' 'Y' 00 | version:i32 = 1 | compatible:i32 = 1 |
//!   ( blockLength:i32 | raw snappy block )*
//! ```
//! Blocks are at most 32 KiB uncompressed (xerial's default block size). A stream without the
//! xerial header is read as one raw snappy block, as kafka-python and snappy-java also accept.
//!
//! Memory: `snap`'s raw encoder is 2 KiB and, for blocks over 1 KiB, puts a 32 KiB hash table
//! on the heap, hence `std`; the decoder allocates nothing and writes straight into the
//! caller's buffer.

use super::{CompressError, DecompressError};

const CODEC: u8 = 2;
const MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const HEADER_LEN: usize = 16;
const BLOCK: usize = 32 * 1024;

/// Largest stream [`compress`] can write for `n` bytes of input.
pub(super) fn bound(n: usize) -> usize {
    let full = n / BLOCK;
    let last = n % BLOCK;
    let mut total = HEADER_LEN + full * (4 + snap::raw::max_compress_len(BLOCK));
    if last > 0 {
        total += 4 + snap::raw::max_compress_len(last);
    }
    total
}

pub(super) fn compress(input: &[u8], out: &mut [u8]) -> Result<usize, CompressError> {
    let needed = bound(input.len());
    if out.len() < needed {
        return Err(CompressError::BufferTooSmall {
            needed,
            available: out.len(),
        });
    }
    let fail = CompressError::Codec { codec: CODEC };
    let header = out.get_mut(..HEADER_LEN).ok_or(fail)?;
    let (magic, versions) = header.split_at_mut(MAGIC.len());
    magic.copy_from_slice(&MAGIC);
    versions.copy_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
    let mut pos = HEADER_LEN;
    let mut encoder = snap::raw::Encoder::new();
    for chunk in input.chunks(BLOCK) {
        let dst = out.get_mut(pos + 4..).ok_or(fail)?;
        let n = encoder.compress(chunk, dst).map_err(|_| fail)?;
        out.get_mut(pos..pos + 4)
            .ok_or(fail)?
            .copy_from_slice(&(n as i32).to_be_bytes());
        pos += 4 + n;
    }
    Ok(pos)
}

fn corrupt(what: &'static str) -> DecompressError {
    DecompressError::Corrupt { codec: CODEC, what }
}

/// The blocks of a xerial stream, or the whole input as one raw block.
fn blocks(input: &[u8]) -> impl Iterator<Item = Result<&[u8], DecompressError>> {
    let xerial = input.len() >= HEADER_LEN && input.starts_with(&MAGIC);
    let mut rest = if xerial {
        input.get(HEADER_LEN..).unwrap_or_default()
    } else {
        input
    };
    let mut raw_pending = !xerial;
    core::iter::from_fn(move || {
        if raw_pending {
            raw_pending = false;
            let block = rest;
            rest = &[];
            return Some(Ok(block));
        }
        if rest.is_empty() {
            return None;
        }
        let Some(len) = rest.first_chunk::<4>().map(|b| i32::from_be_bytes(*b)) else {
            rest = &[];
            return Some(Err(corrupt("block length cut short")));
        };
        let block = usize::try_from(len)
            .ok()
            .and_then(|len| rest.get(4..4 + len));
        match block {
            Some(block) => {
                rest = rest.get(4 + block.len()..).unwrap_or_default();
                Some(Ok(block))
            }
            None => {
                rest = &[];
                Some(Err(corrupt("block cut short")))
            }
        }
    })
}

/// The exact decompressed size: the sum of the blocks' own length headers.
pub(super) fn decompressed_len(input: &[u8]) -> Option<usize> {
    blocks(input).try_fold(0usize, |total, block| {
        total.checked_add(snap::raw::decompress_len(block.ok()?).ok()?)
    })
}

pub(super) fn decompress(input: &[u8], out: &mut [u8]) -> Result<usize, DecompressError> {
    let available = out.len();
    if let Some(needed) = decompressed_len(input).filter(|&n| n > available) {
        return Err(DecompressError::BufferTooSmall {
            needed: Some(needed),
            available,
        });
    }
    let mut decoder = snap::raw::Decoder::new();
    let mut written = 0usize;
    for block in blocks(input) {
        let block = block?;
        let dst = out.get_mut(written..).unwrap_or_default();
        // The decoder checks the block's claimed length against `dst` before writing.
        let n = decoder
            .decompress(block, dst)
            .map_err(|_| corrupt("invalid snappy block"))?;
        written += n;
    }
    Ok(written)
}
