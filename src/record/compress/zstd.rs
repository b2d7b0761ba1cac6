//! Zstandard (codec 4, KIP-110) through the `zstd` crate (the reference C library).
//!
//! One frame written with the content size; the reader takes any sequence of frames (Kafka's
//! Java client streams them without a content size) and decodes in one shot into the caller's
//! buffer, which is also the window: a frame claiming a huge window allocates nothing for it.
//!
//! Memory: the C library allocates its contexts on the heap, hence `std`. Measured with
//! `ZSTD_sizeof_*` for a 75 KiB records section: 690 KiB to compress at level 3, 94 KiB to
//! decompress (the output buffer is the window, none is allocated for it).

use super::{CompressError, DecompressError};

const CODEC: u8 = 4;
/// Kafka's default zstd level (`CompressionType.ZSTD`'s default, 3).
const LEVEL: i32 = 3;

pub(super) fn bound(n: usize) -> usize {
    zstd::zstd_safe::compress_bound(n)
}

pub(super) fn compress(input: &[u8], out: &mut [u8]) -> Result<usize, CompressError> {
    let needed = bound(input.len());
    if out.len() < needed {
        return Err(CompressError::BufferTooSmall {
            needed,
            available: out.len(),
        });
    }
    zstd::bulk::compress_to_buffer(input, out, LEVEL)
        .map_err(|_| CompressError::Codec { codec: CODEC })
}

/// The content size of a single frame that records it.
pub(super) fn decompressed_len(input: &[u8]) -> Option<usize> {
    match zstd::zstd_safe::get_frame_content_size(input) {
        Ok(Some(n)) => usize::try_from(n).ok(),
        _ => None,
    }
}

pub(super) fn decompress(input: &[u8], out: &mut [u8]) -> Result<usize, DecompressError> {
    let available = out.len();
    let known = decompressed_len(input);
    if let Some(needed) = known.filter(|&n| n > available) {
        return Err(DecompressError::BufferTooSmall {
            needed: Some(needed),
            available,
        });
    }
    let mut dctx =
        zstd::zstd_safe::DCtx::try_create().ok_or(DecompressError::Codec { codec: CODEC })?;
    match dctx.decompress(out, input) {
        Ok(n) => Ok(n),
        Err(code) => {
            if zstd::zstd_safe::is_error_kind(
                code,
                zstd::zstd_safe::zstd_sys::ZSTD_ErrorCode::ZSTD_error_dstSize_tooSmall,
            ) {
                Err(DecompressError::BufferTooSmall {
                    needed: known,
                    available,
                })
            } else {
                Err(DecompressError::Corrupt {
                    codec: CODEC,
                    what: "invalid zstd frame",
                })
            }
        }
    }
}
