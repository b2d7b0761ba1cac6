//! gzip (RFC 1952) around raw deflate from `miniz_oxide` (codec 1), as Kafka's Java client
//! (`GZIPOutputStream`) and kafka-python (`gzip`) write it.
//!
//! ```text
//! 1f 8b | CM=8 | FLG | MTIME:u32le | XFL | OS | [FEXTRA] [FNAME\0] [FCOMMENT\0] [FHCRC] |
//!   deflate | CRC32:u32le | ISIZE:u32le   (members may follow one another)
//! ```
//!
//! Memory (measured with `size_of` on x86_64): the compressor, `miniz_oxide`'s
//! `CompressorOxide`, is 64 KiB on the stack and boxes about 310 KiB more (a 32 KiB window, hash
//! chains, code and output buffers), hence `std`. The decompressor (`DecompressorOxide`,
//! 10.3 KiB) lives on the stack and writes straight into the caller's buffer, allocating
//! nothing: gzip reading could drop `std` (only the feature ties it to compression).

use super::{CompressError, DecompressError};
use miniz_oxide::deflate::core::{
    CompressorOxide, TDEFLFlush, TDEFLStatus, compress as deflate,
    create_comp_flags_from_zip_params,
};
use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress as inflate, inflate_flags};

const CODEC: u8 = 1;
/// The level Kafka's Java client uses by default (`Deflater.DEFAULT_COMPRESSION`, i.e. 6).
const LEVEL: i32 = 6;
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
const TRAILER_LEN: usize = 8;

/// Largest gzip member [`compress`] can write for `n` bytes of input: deflate's stored-block
/// worst case (5 bytes per 16 KiB, as zlib's `deflateBound` counts it, plus slack) with the
/// header and trailer.
pub(super) const fn bound(n: usize) -> usize {
    HEADER.len() + n + 5 * (n / 16_383 + 1) + 64 + TRAILER_LEN
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
    let (head, body) = out.split_at_mut(HEADER.len());
    head.copy_from_slice(&HEADER);
    // Negative window bits: raw deflate, the gzip framing is ours.
    let mut c = CompressorOxide::new(create_comp_flags_from_zip_params(LEVEL, -15, 0));
    let room = body.len().saturating_sub(TRAILER_LEN);
    let dst = body.get_mut(..room).ok_or(fail)?;
    let (status, consumed, n) = deflate(&mut c, input, dst, TDEFLFlush::Finish);
    if status != TDEFLStatus::Done || consumed != input.len() {
        return Err(fail);
    }
    let trailer = body.get_mut(n..n + TRAILER_LEN).ok_or(fail)?;
    let (crc, size) = trailer.split_at_mut(4);
    crc.copy_from_slice(&crc32fast::hash(input).to_le_bytes());
    size.copy_from_slice(&(input.len() as u32).to_le_bytes());
    Ok(HEADER.len() + n + TRAILER_LEN)
}

fn corrupt(what: &'static str) -> DecompressError {
    DecompressError::Corrupt { codec: CODEC, what }
}

/// Length of the member header at the start of `input`.
fn header_len(input: &[u8]) -> Result<usize, DecompressError> {
    let fixed = input
        .first_chunk::<10>()
        .ok_or(corrupt("header cut short"))?;
    if fixed[0] != 0x1f || fixed[1] != 0x8b {
        return Err(corrupt("not gzip (magic)"));
    }
    if fixed[2] != 8 {
        return Err(corrupt("compression method is not deflate"));
    }
    let flg = fixed[3];
    let mut pos = 10usize;
    if flg & 0x04 != 0 {
        let xlen = input
            .get(pos..pos + 2)
            .and_then(<[u8]>::first_chunk::<2>)
            .map(|b| u16::from_le_bytes(*b))
            .ok_or(corrupt("header cut short"))?;
        pos += 2 + usize::from(xlen);
    }
    for bit in [0x08, 0x10] {
        if flg & bit != 0 {
            let rest = input.get(pos..).ok_or(corrupt("header cut short"))?;
            let nul = rest
                .iter()
                .position(|&b| b == 0)
                .ok_or(corrupt("header cut short"))?;
            pos += nul + 1;
        }
    }
    if flg & 0x02 != 0 {
        pos += 2;
    }
    if pos > input.len() {
        return Err(corrupt("header cut short"));
    }
    Ok(pos)
}

/// ISIZE of a single-member stream: the exact size when there is one member under 4 GiB.
pub(super) fn decompressed_len(input: &[u8]) -> Option<usize> {
    let start = input.len().checked_sub(4)?;
    let b = input.get(start..)?.first_chunk::<4>()?;
    Some(u32::from_le_bytes(*b) as usize)
}

pub(super) fn decompress(mut input: &[u8], out: &mut [u8]) -> Result<usize, DecompressError> {
    let available = out.len();
    if input.is_empty() {
        return Err(corrupt("no member"));
    }
    let mut written = 0usize;
    let mut state = DecompressorOxide::new();
    while !input.is_empty() {
        let start = header_len(input)?;
        let body = input.get(start..).unwrap_or_default();
        state.init();
        let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
        let (status, consumed, n) = inflate(&mut state, body, out, written, flags);
        match status {
            TINFLStatus::Done => {}
            TINFLStatus::HasMoreOutput => {
                let needed = decompressed_len(input).filter(|&n| n > available);
                return Err(DecompressError::BufferTooSmall { needed, available });
            }
            TINFLStatus::NeedsMoreInput | TINFLStatus::FailedCannotMakeProgress => {
                return Err(corrupt("deflate stream cut short"));
            }
            _ => return Err(corrupt("invalid deflate stream")),
        }
        let member = out.get(written..written + n).unwrap_or_default();
        let trailer = body
            .get(consumed..consumed + TRAILER_LEN)
            .ok_or(corrupt("trailer cut short"))?;
        let mut crc = [0u8; 4];
        crc.copy_from_slice(trailer.get(..4).unwrap_or_default());
        let stored = u32::from_le_bytes(crc);
        let computed = crc32fast::hash(member);
        if stored != computed {
            return Err(DecompressError::ChecksumMismatch {
                codec: CODEC,
                stored,
                computed,
            });
        }
        let mut size = [0u8; 4];
        size.copy_from_slice(trailer.get(4..).unwrap_or_default());
        if u32::from_le_bytes(size) != n as u32 {
            return Err(corrupt("ISIZE does not match the data"));
        }
        written += n;
        input = body.get(consumed + TRAILER_LEN..).unwrap_or_default();
    }
    Ok(written)
}
