//! LZ4 in the LZ4 frame format, as record batches of magic 2 carry it (codec 3). No heap.
//!
//! ```text
//! magic:u32le = 0x184D2204 | FLG:u8 | BD:u8 | [contentSize:u64le] | [dictId:u32le] | HC:u8 |
//!   ( blockSize:u32le (bit 31: stored uncompressed) | data | [blockChecksum:u32le] )* |
//!   endMark:u32le = 0 | [contentChecksum:u32le]
//! ```
//! FLG: version (bits 7-6, = 01), block independence (5), block checksum (4), content size (3),
//! content checksum (2), dictionary id (0). BD: maximum block size (bits 6-4: 4 = 64 KiB … 7 =
//! 4 MiB). HC: second byte of the xxHash32 of the descriptor (FLG through dictId).
//!
//! We write what Kafka's Java `KafkaLZ4BlockOutputStream` writes (independent blocks of at most
//! 64 KiB, no checksums) plus the content size, which kafka-python (`lz4.frame`) also writes
//! and which lets a reader size its buffer exactly. Independent blocks because Kafka's Java
//! reader refuses dependent ones (kafka-python says so too, `codec.py`). The reader takes any
//! standard frame: dependent blocks (decoded against the output before them), checksums
//! (verified), several frames back to back, skippable frames.
//!
//! Memory: compressing a block puts `lz4_flex`'s hash table on the stack, 8 KiB (4096 `u16`,
//! blocks are kept under 64 KiB so the small table is always the one chosen); decompressing
//! (our own block decoder, [`decode_block`]) needs no table. Nothing is allocated.

use super::{CompressError, DecompressError};

const CODEC: u8 = 3;
const MAGIC: u32 = 0x184D_2204;
/// Skippable frames: magic 0x184D2A50 to 0x184D2A5F.
const SKIPPABLE_MASK: u32 = 0xFFFF_FFF0;
const SKIPPABLE: u32 = 0x184D_2A50;
/// Version 01, independent blocks, content size present.
const FLG_WRITTEN: u8 = 0b0110_1000;
/// 64 KiB maximum block size.
const BD_64K: u8 = 4 << 4;
/// Uncompressed bytes per block: under 65535 so that `lz4_flex` picks its 8 KiB table.
const BLOCK: usize = 65_534;
/// Frame header as written: magic, FLG, BD, content size, HC.
const HEADER_LEN: usize = 4 + 2 + 8 + 1;
const UNCOMPRESSED_BIT: u32 = 1 << 31;

/// Worst case of `lz4_flex`'s block compressor, whose output slot must be this large even
/// though what it writes is never kept when larger than the input (the block is then stored).
const fn block_bound(n: usize) -> usize {
    lz4_flex::block::get_maximum_output_size(n)
}

/// Largest frame [`compress`] can write for `n` bytes of input (and the room it needs).
pub(super) const fn bound(n: usize) -> usize {
    let full = n / BLOCK;
    let last = n % BLOCK;
    let mut total = HEADER_LEN + 4; // header, end mark
    total += full * (4 + block_bound(BLOCK));
    if last > 0 {
        total += 4 + block_bound(last);
    }
    total
}

/// Compresses `input` into one LZ4 frame at the start of `out` (at least [`bound`] bytes).
pub(super) fn compress(input: &[u8], out: &mut [u8]) -> Result<usize, CompressError> {
    let needed = bound(input.len());
    if out.len() < needed {
        return Err(CompressError::BufferTooSmall {
            needed,
            available: out.len(),
        });
    }
    let mut header = [0u8; HEADER_LEN];
    let (magic, rest) = header.split_at_mut(4);
    magic.copy_from_slice(&MAGIC.to_le_bytes());
    let (descriptor, hc) = rest.split_at_mut(10);
    let [flg, bd, size @ ..] = descriptor else {
        return Err(CompressError::Codec { codec: CODEC });
    };
    *flg = FLG_WRITTEN;
    *bd = BD_64K;
    size.copy_from_slice(&(input.len() as u64).to_le_bytes());
    let check = header_checksum(descriptor);
    if let Some(hc) = hc.first_mut() {
        *hc = check;
    }
    let mut pos = put(out, 0, &header)?;
    for chunk in input.chunks(BLOCK) {
        let size_at = pos;
        pos += 4;
        let slot = out
            .get_mut(pos..pos + block_bound(chunk.len()))
            .ok_or(CompressError::Codec { codec: CODEC })?;
        let n = lz4_flex::block::compress_into(chunk, slot)
            .map_err(|_| CompressError::Codec { codec: CODEC })?;
        let word = if n < chunk.len() {
            n as u32
        } else {
            // Incompressible: store the block as it is, which never grows it.
            put(out, pos, chunk)?;
            chunk.len() as u32 | UNCOMPRESSED_BIT
        };
        put(out, size_at, &word.to_le_bytes())?;
        pos += (word & !UNCOMPRESSED_BIT) as usize;
    }
    put(out, pos, &0u32.to_le_bytes())
}

fn put(out: &mut [u8], at: usize, bytes: &[u8]) -> Result<usize, CompressError> {
    let end = at + bytes.len();
    out.get_mut(at..end)
        .ok_or(CompressError::Codec { codec: CODEC })?
        .copy_from_slice(bytes);
    Ok(end)
}

fn header_checksum(descriptor: &[u8]) -> u8 {
    (xxh32(descriptor, 0) >> 8) as u8
}

fn corrupt(what: &'static str) -> DecompressError {
    DecompressError::Corrupt { codec: CODEC, what }
}

/// A little-endian `u32` at `at`, or the frame is cut short.
fn le32(input: &[u8], at: usize) -> Result<u32, DecompressError> {
    input
        .get(at..)
        .and_then(<[u8]>::first_chunk::<4>)
        .map(|b| u32::from_le_bytes(*b))
        .ok_or(corrupt("frame cut short"))
}

/// A parsed frame descriptor.
struct Descriptor {
    block_checksum: bool,
    content_checksum: bool,
    content_size: Option<u64>,
    max_block: usize,
    /// Bytes up to and including HC.
    len: usize,
}

fn descriptor(input: &[u8]) -> Result<Descriptor, DecompressError> {
    let flg = *input.get(4).ok_or(corrupt("frame cut short"))?;
    let bd = *input.get(5).ok_or(corrupt("frame cut short"))?;
    if flg >> 6 != 0b01 {
        return Err(corrupt("frame version is not 01"));
    }
    if flg & 0b10 != 0 || bd & 0x8F != 0 {
        return Err(corrupt("reserved descriptor bits set"));
    }
    if flg & 0b1 != 0 {
        return Err(corrupt("dictionary id: no dictionary is known"));
    }
    let max_block = match (bd >> 4) & 0x07 {
        4 => 64 << 10,
        5 => 256 << 10,
        6 => 1 << 20,
        7 => 4 << 20,
        _ => return Err(corrupt("block maximum size")),
    };
    let mut len = 6;
    let content_size = if flg & 0b1000 != 0 {
        let b = input
            .get(6..14)
            .and_then(<[u8]>::first_chunk::<8>)
            .ok_or(corrupt("frame cut short"))?;
        len += 8;
        Some(u64::from_le_bytes(*b))
    } else {
        None
    };
    let hc = *input.get(len).ok_or(corrupt("frame cut short"))?;
    let computed = header_checksum(input.get(4..len).unwrap_or_default());
    if hc != computed {
        return Err(DecompressError::ChecksumMismatch {
            codec: CODEC,
            stored: hc.into(),
            computed: computed.into(),
        });
    }
    Ok(Descriptor {
        block_checksum: flg & 0b1_0000 != 0,
        content_checksum: flg & 0b100 != 0,
        content_size,
        max_block,
        len: len + 1,
    })
}

/// The total decompressed size when every frame records its content size.
pub(super) fn decompressed_len(mut input: &[u8]) -> Option<usize> {
    let mut total = 0usize;
    while !input.is_empty() {
        let magic = le32(input, 0).ok()?;
        if magic & SKIPPABLE_MASK == SKIPPABLE {
            let n = le32(input, 4).ok()? as usize;
            input = input.get(8usize.checked_add(n)?..)?;
            continue;
        }
        if magic != MAGIC {
            return None;
        }
        let d = descriptor(input).ok()?;
        total = total.checked_add(usize::try_from(d.content_size?).ok()?)?;
        // Walk the blocks to find the next frame.
        let mut pos = d.len;
        loop {
            let word = le32(input, pos).ok()?;
            pos += 4;
            if word == 0 {
                break;
            }
            pos = pos.checked_add((word & !UNCOMPRESSED_BIT) as usize)?;
            if d.block_checksum {
                pos += 4;
            }
        }
        if d.content_checksum {
            pos += 4;
        }
        input = input.get(pos..)?;
    }
    Some(total)
}

/// Decompresses every frame of `input` into `out`; the output is bounded by `out.len()`.
pub(super) fn decompress(mut input: &[u8], out: &mut [u8]) -> Result<usize, DecompressError> {
    let mut written = 0usize;
    let available = out.len();
    let too_small = |needed: Option<usize>| DecompressError::BufferTooSmall { needed, available };
    let needed_total = decompressed_len(input);
    if let Some(n) = needed_total.filter(|&n| n > available) {
        return Err(too_small(Some(n)));
    }
    if input.is_empty() {
        return Err(corrupt("no frame"));
    }
    while !input.is_empty() {
        let magic = le32(input, 0)?;
        if magic & SKIPPABLE_MASK == SKIPPABLE {
            let n = le32(input, 4)? as usize;
            input = input
                .get(n.saturating_add(8)..)
                .ok_or(corrupt("skippable frame cut short"))?;
            continue;
        }
        if magic != MAGIC {
            return Err(corrupt("not an LZ4 frame (magic)"));
        }
        let d = descriptor(input)?;
        let frame_start = written;
        let mut pos = d.len;
        loop {
            let word = le32(input, pos)?;
            pos += 4;
            if word == 0 {
                break;
            }
            let len = (word & !UNCOMPRESSED_BIT) as usize;
            if len > d.max_block {
                return Err(corrupt("block larger than the frame's maximum"));
            }
            let data = input
                .get(pos..pos + len)
                .ok_or(corrupt("block cut short"))?;
            pos += len;
            if d.block_checksum {
                let stored = le32(input, pos)?;
                pos += 4;
                let computed = xxh32(data, 0);
                if stored != computed {
                    return Err(DecompressError::ChecksumMismatch {
                        codec: CODEC,
                        stored,
                        computed,
                    });
                }
            }
            let n = if word & UNCOMPRESSED_BIT != 0 {
                let dst = written
                    .checked_add(len)
                    .and_then(|end| out.get_mut(written..end))
                    .ok_or(too_small(needed_total))?;
                dst.copy_from_slice(data);
                len
            } else {
                // A block may not grow past the frame's maximum: a smaller window caps what a
                // hostile block can make us write.
                let limit = available.min(written.saturating_add(d.max_block));
                let window = out.get_mut(..limit).unwrap_or_default();
                match decode_block(data, window, frame_start, written) {
                    Ok(end) => end - written,
                    Err(BlockError::OutputFull) if limit == available => {
                        return Err(too_small(needed_total));
                    }
                    Err(BlockError::OutputFull) => {
                        return Err(corrupt("block larger than the frame's maximum"));
                    }
                    Err(BlockError::Corrupt(what)) => return Err(corrupt(what)),
                }
            };
            written += n;
        }
        let content = out.get(frame_start..written).unwrap_or_default();
        if d.content_size
            .is_some_and(|size| size != content.len() as u64)
        {
            return Err(corrupt("content size does not match the blocks"));
        }
        if d.content_checksum {
            let stored = le32(input, pos)?;
            pos += 4;
            let computed = xxh32(content, 0);
            if stored != computed {
                return Err(DecompressError::ChecksumMismatch {
                    codec: CODEC,
                    stored,
                    computed,
                });
            }
        }
        input = input.get(pos..).unwrap_or_default();
    }
    Ok(written)
}

/// Why a block could not be decoded.
enum BlockError {
    /// The output ends before the block does.
    OutputFull,
    /// The block is malformed.
    Corrupt(&'static str),
}

/// Decodes one LZ4 block (the block format: sequences of a token, literals, a 16-bit offset
/// and a match) from `input` into `out` starting at `pos`, returning where the output ends.
/// Matches may reach back to `floor`, the start of the frame's output: that is what makes
/// dependent blocks work (they refer into the blocks before them, all in `out`).
///
/// Ours rather than `lz4_flex`'s decoder because every access here is checked with `get`, so
/// hostile bytes have no panic path at all (`scripts/no-panic` links it with a panic handler
/// that cannot link); `lz4_flex`'s safe decoder keeps bounds checks the optimiser cannot
/// remove.
fn decode_block(
    input: &[u8],
    out: &mut [u8],
    floor: usize,
    mut pos: usize,
) -> Result<usize, BlockError> {
    const CUT: BlockError = BlockError::Corrupt("block cut short");
    let mut i = 0usize;
    loop {
        let token = *input.get(i).ok_or(CUT)?;
        i += 1;
        let literals = extended_len(input, &mut i, usize::from(token >> 4))?;
        // Short literals (the common case) with room to spare on both sides: copy a fixed 16
        // bytes, no length-dependent `memcpy`; what lands past them is overwritten next.
        if let (true, Some(src), Some(dst)) = (
            literals <= 16,
            input.get(i..).and_then(<[u8]>::first_chunk::<16>),
            out.get_mut(pos..).and_then(<[u8]>::first_chunk_mut::<16>),
        ) {
            *dst = *src;
            i += literals;
            pos += literals;
        } else {
            let src = i
                .checked_add(literals)
                .and_then(|end| input.get(i..end))
                .ok_or(CUT)?;
            let dst = pos
                .checked_add(literals)
                .and_then(|end| out.get_mut(pos..end))
                .ok_or(BlockError::OutputFull)?;
            dst.copy_from_slice(src);
            i += literals;
            pos += literals;
        }
        if i == input.len() {
            // The last sequence has literals only.
            return Ok(pos);
        }
        let offset = match input.get(i..i + 2) {
            Some(&[lo, hi]) => usize::from(u16::from_le_bytes([lo, hi])),
            _ => return Err(CUT),
        };
        i += 2;
        if offset == 0 || offset > pos.saturating_sub(floor) {
            return Err(BlockError::Corrupt(
                "match offset before the frame's output",
            ));
        }
        let len = extended_len(input, &mut i, usize::from(token & 0x0F))?.saturating_add(4);
        if out.len().saturating_sub(pos) < len {
            return Err(BlockError::OutputFull);
        }
        // A short match far enough back not to overlap a 16-byte copy: one fixed copy.
        if len <= 16
            && offset >= 16
            && let Some((history, tail)) = out.split_at_mut_checked(pos)
        {
            let from = pos.checked_sub(offset).ok_or(CUT)?;
            if let (Some(src), Some(dst)) = (
                history.get(from..).and_then(<[u8]>::first_chunk::<16>),
                tail.first_chunk_mut::<16>(),
            ) {
                *dst = *src;
                pos += len;
                continue;
            }
        }
        // The match may overlap what it writes (a run): copy it in pieces of at most `offset`
        // bytes, each of which lies wholly before its destination.
        let mut left = len;
        while left > 0 {
            let n = left.min(offset);
            let (history, tail) = out
                .split_at_mut_checked(pos)
                .ok_or(BlockError::OutputFull)?;
            let from = pos.checked_sub(offset).ok_or(CUT)?;
            let src = from
                .checked_add(n)
                .and_then(|end| history.get(from..end))
                .ok_or(CUT)?;
            tail.get_mut(..n)
                .ok_or(BlockError::OutputFull)?
                .copy_from_slice(src);
            pos += n;
            left -= n;
        }
    }
}

/// A 4-bit length from a token, extended by the bytes that follow it when it is 15 (each 255
/// adds 255 and continues).
fn extended_len(input: &[u8], i: &mut usize, nibble: usize) -> Result<usize, BlockError> {
    let mut len = nibble;
    if nibble == 15 {
        loop {
            let b = *input
                .get(*i)
                .ok_or(BlockError::Corrupt("block cut short"))?;
            *i += 1;
            len = len.saturating_add(usize::from(b));
            if b != 255 {
                break;
            }
        }
    }
    Ok(len)
}

const P1: u32 = 0x9E37_79B1;
const P2: u32 = 0x85EB_CA77;
const P3: u32 = 0xC2B2_AE3D;
const P4: u32 = 0x27D4_EB2F;
const P5: u32 = 0x1656_67B1;

#[inline]
fn round(acc: u32, lane: u32) -> u32 {
    acc.wrapping_add(lane.wrapping_mul(P2))
        .rotate_left(13)
        .wrapping_mul(P1)
}

/// xxHash32 (the LZ4 frame format's checksum), written from its specification.
pub(crate) fn xxh32(input: &[u8], seed: u32) -> u32 {
    let (stripes, tail) = input.as_chunks::<16>();
    let mut acc = if stripes.is_empty() {
        seed.wrapping_add(P5)
    } else {
        let mut v = [
            seed.wrapping_add(P1).wrapping_add(P2),
            seed.wrapping_add(P2),
            seed,
            seed.wrapping_sub(P1),
        ];
        for stripe in stripes {
            for (v, lane) in v.iter_mut().zip(stripe.as_chunks::<4>().0) {
                *v = round(*v, u32::from_le_bytes(*lane));
            }
        }
        let [a, b, c, d] = v;
        a.rotate_left(1)
            .wrapping_add(b.rotate_left(7))
            .wrapping_add(c.rotate_left(12))
            .wrapping_add(d.rotate_left(18))
    };
    acc = acc.wrapping_add(input.len() as u32);
    let (words, bytes) = tail.as_chunks::<4>();
    for word in words {
        acc = acc
            .wrapping_add(u32::from_le_bytes(*word).wrapping_mul(P3))
            .rotate_left(17)
            .wrapping_mul(P4);
    }
    for &byte in bytes {
        acc = acc
            .wrapping_add(u32::from(byte).wrapping_mul(P5))
            .rotate_left(11)
            .wrapping_mul(P1);
    }
    acc ^= acc >> 15;
    acc = acc.wrapping_mul(P2);
    acc ^= acc >> 13;
    acc = acc.wrapping_mul(P3);
    acc ^ (acc >> 16)
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::{vec, vec::Vec};

    #[test]
    fn xxh32_reference_values() {
        // From the xxHash repository's sanity checks and the `xxhsum` tool.
        assert_eq!(xxh32(b"", 0), 0x02CC_5D05);
        assert_eq!(xxh32(b"a", 0), 0x550D_7456);
        assert_eq!(xxh32(b"abc", 0), 0x32D1_53FF);
        assert_eq!(
            xxh32(b"Nobody inspects the spammish repetition", 0),
            0xE229_3B2F
        );
    }

    /// A frame around one compressed block, as [`compress`] writes frames (no content size
    /// unless given).
    fn frame(block: &[u8], content_size: Option<u64>) -> Vec<u8> {
        let mut f = MAGIC.to_le_bytes().to_vec();
        let flg = 0b0110_0000 | if content_size.is_some() { 0b1000 } else { 0 };
        f.extend([flg, BD_64K]);
        if let Some(n) = content_size {
            f.extend(n.to_le_bytes());
        }
        let hc = header_checksum(&f[4..]);
        f.push(hc);
        f.extend((block.len() as u32).to_le_bytes());
        f.extend(block);
        f.extend(0u32.to_le_bytes());
        f
    }

    #[test]
    fn a_bomb_stops_at_the_buffer() {
        // One literal, then a match of offset 1 whose length runs on for 4000 × 255 bytes:
        // 1 MiB out of 4 KiB in.
        let mut block = vec![0x1F, b'x', 1, 0];
        block.extend(core::iter::repeat_n(255u8, 4000));
        block.push(0);
        let mut out = vec![0u8; 8192];
        assert_eq!(
            decompress(&frame(&block, None), &mut out[..4096]),
            Err(DecompressError::BufferTooSmall {
                needed: None,
                available: 4096
            })
        );
        assert!(
            out[4096..].iter().all(|&b| b == 0),
            "nothing past the buffer"
        );
        // Past the frame's 64 KiB block maximum it is corrupt, whatever the buffer.
        let mut big = vec![0u8; 2 << 20];
        assert_eq!(
            decompress(&frame(&block, None), &mut big),
            Err(corrupt("block larger than the frame's maximum"))
        );
        // A frame that claims a size larger than the buffer is refused before decoding.
        assert_eq!(
            decompress(&frame(&block, Some(1 << 40)), &mut out),
            Err(DecompressError::BufferTooSmall {
                needed: Some(1 << 40),
                available: 8192
            })
        );
    }

    #[test]
    fn hostile_blocks_are_errors() {
        let mut out = [0u8; 256];
        // Offset 0, and an offset reaching before the output.
        for block in [&[0x10, b'a', 0, 0][..], &[0x10, b'a', 2, 0]] {
            assert_eq!(
                decompress(&frame(block, None), &mut out),
                Err(corrupt("match offset before the frame's output"))
            );
        }
        // Cut inside the literals, inside the offset, inside a length extension.
        for block in [&[0x50, b'a'][..], &[0x10, b'a', 1], &[0xF0, 255]] {
            assert_eq!(
                decompress(&frame(block, None), &mut out),
                Err(corrupt("block cut short"))
            );
        }
        // A wrong header checksum, a wrong version, a dictionary id.
        let mut f = frame(&[0x10, b'a'], None);
        f[6] ^= 1;
        assert!(matches!(
            decompress(&f, &mut out),
            Err(DecompressError::ChecksumMismatch { codec: 3, .. })
        ));
        let mut f = frame(&[0x10, b'a'], None);
        f[4] = 0b1010_0000;
        assert_eq!(
            decompress(&f, &mut out),
            Err(corrupt("frame version is not 01"))
        );
        // A run (offset 1): 1 literal and a 4-byte match copying it, then the closing
        // literals-only sequence (here empty); without that closing sequence the block is cut.
        assert_eq!(
            decompress(&frame(&[0x10, b'a', 1, 0, 0x00], None), &mut out),
            Ok(5)
        );
        assert_eq!(&out[..5], b"aaaaa");
        assert_eq!(
            decompress(&frame(&[0x10, b'a', 1, 0], None), &mut out),
            Err(corrupt("block cut short"))
        );
    }

    #[test]
    fn round_trip_across_blocks_and_bound_holds() {
        for len in [
            0usize,
            1,
            15,
            16,
            100,
            BLOCK - 1,
            BLOCK,
            BLOCK + 1,
            3 * BLOCK + 7,
        ] {
            let input: Vec<u8> = (0..len)
                .map(|i| (i * 7 % 251) as u8 ^ (i >> 9) as u8)
                .collect();
            let mut out = vec![0u8; bound(len)];
            let n = compress(&input, &mut out).expect("fits the bound");
            assert!(n <= bound(len));
            assert_eq!(decompressed_len(&out[..n]), Some(len));
            let mut back = vec![0u8; len];
            assert_eq!(decompress(&out[..n], &mut back), Ok(len));
            assert_eq!(back, input);
            if len > 0 {
                let mut short = vec![0u8; len - 1];
                assert_eq!(
                    decompress(&out[..n], &mut short),
                    Err(DecompressError::BufferTooSmall {
                        needed: Some(len),
                        available: len - 1
                    })
                );
            }
        }
    }
}
