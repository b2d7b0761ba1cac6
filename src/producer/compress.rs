//! Compression at seal time (`compression.type`): a batch is built uncompressed in its buffer,
//! as without compression, and when it is sealed its records are compressed into one scratch
//! buffer shared by the whole producer and copied back over it. From then on the buffer holds
//! the compressed batch, which is sent, and sent again on a retry, as it is: the retry path
//! and the epoch bump's header rewrite (whose CRC then covers the compressed bytes) do not
//! know about compression.
//!
//! RAM: the scratch buffer, one batch buffer's size (`BATCH` bytes) for the whole producer,
//! given by the caller ([`Producer::with_compression_scratch`]); LZ4 also takes an 8 KiB table
//! on the stack while it compresses. The codecs that need `std` (gzip, snappy, zstd) allocate
//! their own state on the heap.
//!
//! The price of compressing in place: a batch stops taking records where its codec's worst
//! case ([`compressed_batch_bound`]) would no longer fit its buffer, so compression never lets
//! more records into a batch, it only makes what is sent (and stored) smaller. For LZ4 the
//! worst case is about 10 % above the input.

use embedded_nal_async::{Dns, TcpConnect};

use super::producer::Producer;
use super::{Clock, ConfigError, Delay};
use crate::partition::Partitioner;
use crate::record::{Compression, compress_batch, compressed_batch_bound};

/// The producer's compression state: the codec, the scratch buffer, and the most bytes an
/// uncompressed batch may take so that its compressed form surely fits its buffer.
pub(super) struct Compressor<'a> {
    pub(super) codec: Compression,
    pub(super) scratch: Option<&'a mut [u8]>,
    /// The size of one batch buffer.
    pub(super) buffer: usize,
    /// The largest uncompressed batch whose worst-case compressed size fits `buffer` (`buffer`
    /// itself without compression).
    pub(super) plain_cap: usize,
}

impl<'a> Compressor<'a> {
    /// The state for `codec` over batch buffers of `buffer` bytes.
    pub(super) fn new(codec: Compression, buffer: usize) -> Self {
        Self {
            codec,
            scratch: None,
            buffer,
            plain_cap: plain_cap(codec, buffer),
        }
    }

    /// Whether batches are compressed.
    pub(super) fn on(&self) -> bool {
        self.codec != Compression::None
    }

    /// Fails if batches are to be compressed and there is no scratch buffer large enough.
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        let available = self.scratch.as_deref().map_or(0, <[u8]>::len);
        if self.on() && available < self.buffer {
            return Err(ConfigError::CompressionScratch {
                codec: self.codec,
                needed: self.buffer,
                available,
            });
        }
        Ok(())
    }

    /// Compresses the finished batch in `buf[..len]` in place (through the scratch buffer) and
    /// returns the length of what `buf` now holds. The batch stays uncompressed when that is
    /// not smaller (incompressible records: the broker takes either), or when compressing
    /// fails (it cannot for a batch within `plain_cap`; sending the records uncompressed
    /// loses none of them).
    pub(super) fn seal(&mut self, buf: &mut [u8], len: usize) -> usize {
        if !self.on() {
            return len;
        }
        let (Some(scratch), Some(plain)) = (self.scratch.as_deref_mut(), buf.get(..len)) else {
            return len;
        };
        match compress_batch(plain, self.codec, scratch) {
            Ok(n) if n < len => {
                if let (Some(dst), Some(src)) = (buf.get_mut(..n), scratch.get(..n)) {
                    dst.copy_from_slice(src);
                    n
                } else {
                    len
                }
            }
            Ok(_) => len,
            Err(e) => {
                warn!("batch sent uncompressed: {}", e);
                len
            }
        }
    }
}

/// The largest uncompressed batch length whose worst-case compressed size fits `buffer` bytes
/// (the bounds grow with the input, so a binary search finds it).
fn plain_cap(codec: Compression, buffer: usize) -> usize {
    if codec == Compression::None {
        return buffer;
    }
    let fits = |n: usize| compressed_batch_bound(codec, n).is_ok_and(|b| b <= buffer);
    let (mut lo, mut hi) = (0usize, buffer);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

impl<'a, C, K, D, P, const T: usize, const B: usize, const R: usize, N, const L: usize>
    Producer<'a, C, K, D, P, T, B, R, N, L>
where
    C: TcpConnect + 'a,
    K: Clock,
    D: Delay,
    P: Partitioner,
    N: Dns,
{
    /// The same producer, compressing batches (`compression.type`) through `scratch`, which
    /// must hold one batch buffer (`BATCH` bytes; more is not used): the only RAM compression
    /// adds, one buffer for the whole producer, as a batch is compressed when it is sealed and
    /// then kept (and sent again) compressed in its own buffer. Without compression it is not
    /// needed. A producer whose codec has no such scratch fails its first
    /// [`send`](Self::send) with [`ConfigError::CompressionScratch`].
    #[must_use]
    pub fn with_compression_scratch(mut self, scratch: &'a mut [u8]) -> Self {
        self.compress.scratch = Some(scratch);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_cap_is_the_largest_batch_whose_bound_fits() {
        assert_eq!(plain_cap(Compression::None, 1024), 1024);
        #[cfg(feature = "lz4")]
        for buffer in [80, 100, 1024, 4096, 65_536, 200_000] {
            let cap = plain_cap(Compression::Lz4, buffer);
            let bound = |n| compressed_batch_bound(Compression::Lz4, n).unwrap_or(usize::MAX);
            assert!(bound(cap) <= buffer, "{buffer}");
            assert!(bound(cap + 1) > buffer, "{buffer}");
        }
    }

    /// An epoch bump rewrites the producer id, epoch and base sequence of a sealed batch and
    /// its CRC: on a compressed batch the CRC then covers the compressed bytes.
    #[cfg(feature = "lz4")]
    #[test]
    fn a_compressed_batch_takes_an_epoch_bump() {
        use crate::record::{BatchHeader, RecordBatch, RecordBatchBuilder};
        use crate::wire::Status;

        let mut buf = [0u8; 1024];
        let header = BatchHeader {
            producer_id: 7,
            producer_epoch: 0,
            base_sequence: 40,
            ..BatchHeader::default()
        };
        let mut b = RecordBatchBuilder::new(&mut buf, header).unwrap();
        for _ in 0..10 {
            b.append(
                1_700_000_000_000,
                Some(b"k"),
                Some(b"the same value again"),
                &[],
            )
            .unwrap();
        }
        let len = b.len();
        let _ = b.finish().unwrap();
        let mut scratch = [0u8; 1024];
        let mut c = Compressor::new(Compression::Lz4, 1024);
        c.scratch = Some(&mut scratch);
        let n = c.seal(&mut buf, len);
        assert!(n < len);
        super::super::epoch::rewrite_producer_state(&mut buf[..n], 8, 1, 0);
        let Ok(Status::Complete {
            value: batch,
            consumed,
        }) = RecordBatch::parse(&buf[..n])
        else {
            panic!("CRC");
        };
        assert_eq!(consumed, n);
        assert_eq!(batch.attributes().compression(), Compression::Lz4);
        assert_eq!(
            (
                batch.producer_id(),
                batch.producer_epoch(),
                batch.base_sequence()
            ),
            (8, 1, 0)
        );
        let mut out = [0u8; 1024];
        let values: usize = batch
            .records_in(&mut out)
            .unwrap()
            .filter(|r| {
                r.as_ref()
                    .is_ok_and(|r| r.value == Some(&b"the same value again"[..]))
            })
            .count();
        assert_eq!(values, 10);
    }

    /// Records that do not compress (random bytes) are sent as they were built: the
    /// compressed form would be larger, and the broker takes either.
    #[cfg(feature = "lz4")]
    #[test]
    fn an_incompressible_batch_stays_uncompressed() {
        use crate::record::{BatchHeader, RecordBatchBuilder};

        let mut buf = [0u8; 1024];
        let mut value = [0u8; 200];
        let mut x: u32 = 0x9e37_79b9;
        for b in value.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        let mut b = RecordBatchBuilder::new(&mut buf, BatchHeader::default()).unwrap();
        b.append(0, None, Some(&value), &[]).unwrap();
        let len = b.len();
        let mut plain = [0u8; 1024];
        plain[..len].copy_from_slice(b.finish().unwrap());
        let mut scratch = [0u8; 1024];
        let mut c = Compressor::new(Compression::Lz4, 1024);
        c.scratch = Some(&mut scratch);
        assert_eq!(c.seal(&mut buf, len), len);
        assert_eq!(&buf[..len], &plain[..len]);
    }

    /// `compression.type` without its feature is refused by `validate`, naming the feature;
    /// meaningful in every build (with `--no-default-features` all four are off).
    #[test]
    fn a_codec_whose_feature_is_off_is_a_config_error() {
        let servers = [core::net::SocketAddr::from(([127, 0, 0, 1], 9092))];
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let v = super::super::Config::new(&servers)
                .compression(codec)
                .validate();
            assert_eq!(
                v,
                if crate::record::is_supported(codec) {
                    Ok(())
                } else {
                    Err(ConfigError::CompressionUnavailable { codec })
                }
            );
        }
    }
}
