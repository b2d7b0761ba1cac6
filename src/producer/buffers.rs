//! [`Buffers`]: the caller's memory a producer works in.

/// The memory a producer works in, sized at compile time: `RX` bytes for a response, `TX` for
/// requests other than the batches (ApiVersions, Metadata, Produce headers), and `B` batch
/// buffers of `BATCH` bytes, one per partition with records waiting.
///
/// `core::mem::size_of::<Buffers<RX, TX, BATCH, B>>()` is their RAM. Metadata responses are
/// the largest a producer reads: a few hundred bytes per topic and broker; `RX` = 1 KiB serves
/// a topic of a few dozen partitions on a small cluster.
#[derive(Debug)]
pub struct Buffers<const RX: usize, const TX: usize, const BATCH: usize, const B: usize> {
    pub(super) rx: [u8; RX],
    pub(super) tx: [u8; TX],
    pub(super) batches: [[u8; BATCH]; B],
}

impl<const RX: usize, const TX: usize, const BATCH: usize, const B: usize> Default
    for Buffers<RX, TX, BATCH, B>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const RX: usize, const TX: usize, const BATCH: usize, const B: usize>
    Buffers<RX, TX, BATCH, B>
{
    /// Zeroed buffers (`const`, so they can live in a `static`).
    pub const fn new() -> Self {
        Self {
            rx: [0; RX],
            tx: [0; TX],
            batches: [[0; BATCH]; B],
        }
    }
}
