//! CRC-32C (Castagnoli), the checksum of Kafka record batches (magic v2, KIP-98).
//!
//! ```text
//! width=32  poly=0x1EDC6F41 (reflected 0x82F63B78)  init=0xFFFFFFFF
//! refin=true  refout=true  xorout=0xFFFFFFFF  check=0xE3069283
//! ```
//!
//! In a record batch the `crc:uint32` field covers every byte from `attributes` to the end of
//! the batch. This is *not* the CRC-32/IEEE of zlib and Ethernet (`crc32fast`), which Kafka's
//! v0/v1 messages used.
//!
//! # Implementations
//!
//! One function, three backends, chosen at compile time where possible:
//!
//! | target | backend | dispatch |
//! | --- | --- | --- |
//! | x86_64 built with `sse4.2` (`-C target-cpu=x86-64-v2` or later, `native`) | `crc32` instruction | static, no check |
//! | x86_64 without static `sse4.2`, feature `std` | `crc32` instruction | `is_x86_feature_detected!` per call (one cached atomic load) |
//! | aarch64 built with `crc` | `crc32cx` instruction | static (untested: no aarch64 toolchain here) |
//! | aarch64 without static `crc`, feature `std` | `crc32cx` instruction | `is_aarch64_feature_detected!` (untested) |
//! | anything else (Cortex-M, RISC-V, no-`std` x86_64 without `sse4.2`) | lookup table | — |
//!
//! The hardware path runs three independent CRC streams over the three thirds of each block,
//! so the instruction's multi-cycle latency overlaps, and joins them by multiplying each
//! stream's CRC by a power of x modulo the polynomial. That multiplication uses a 16-entry
//! table of nibble products and the CRC instruction itself as the reduction, so it needs no
//! `pclmulqdq` (which no x86-64 microarchitecture level includes); its constants take 1.5 KiB
//! of rodata on x86_64/aarch64 only.
//!
//! The table fallback is a trade-off between flash and speed:
//!
//! - without `std` (firmware): one 256-entry table, **1 KiB** of flash, one byte per step.
//!   On a Cortex-M4 that is an estimated 7–9 cycles per byte, tens of MB/s, which a
//!   microcontroller's network link cannot keep up with anyway;
//! - with `std` (a hosted OS; memory is not scarce): slice-by-8, **8 KiB**, 5–6× faster on x86_64.
//!   On x86_64 and aarch64 hosts the table only serves CPUs without CRC instructions.

/// CRC-32C of `data`.
///
/// ```
/// use embedded_kafka::record::crc32c;
/// assert_eq!(crc32c(b"123456789"), 0xE306_9283);
/// assert_eq!(crc32c(b""), 0);
/// ```
#[inline]
#[must_use]
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c_append(0, data)
}

/// Extends `crc`, the CRC-32C of some bytes `a`, to the CRC-32C of `a` followed by `data`.
///
/// `crc32c_append(0, data)` is `crc32c(data)`.
///
/// ```
/// use embedded_kafka::record::{crc32c, crc32c_append};
/// let whole = crc32c(b"123456789");
/// assert_eq!(crc32c_append(crc32c(b"1234"), b"56789"), whole);
/// ```
#[inline]
#[must_use]
pub fn crc32c_append(crc: u32, data: &[u8]) -> u32 {
    !update(!crc, data)
}

/// An incremental CRC-32C, for data that arrives in pieces.
///
/// ```
/// use embedded_kafka::record::{crc32c, Crc32c};
/// let crc = Crc32c::new().update(b"1234").update(b"56789").finish();
/// assert_eq!(crc, crc32c(b"123456789"));
///
/// let mut hasher = Crc32c::new();
/// for piece in [&b"12"[..], b"3456", b"789"] {
///     hasher.update(piece);
/// }
/// assert_eq!(hasher.finish(), 0xE306_9283);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Crc32c {
    /// The CRC-32C of the bytes seen so far (already complemented).
    crc: u32,
}

impl Crc32c {
    /// A hasher that has seen no bytes.
    #[must_use]
    pub const fn new() -> Self {
        Self { crc: 0 }
    }

    /// Feeds `data`; returns `self` so calls can be chained.
    #[inline]
    pub fn update(&mut self, data: &[u8]) -> &mut Self {
        self.crc = crc32c_append(self.crc, data);
        self
    }

    /// The CRC-32C of all bytes fed so far. The hasher stays usable.
    #[must_use]
    pub const fn finish(&self) -> u32 {
        self.crc
    }
}

/// The raw CRC register update (no pre- or post-complement).
#[inline]
fn update(crc: u32, data: &[u8]) -> u32 {
    #[cfg(any(
        all(
            target_arch = "x86_64",
            any(feature = "std", target_feature = "sse4.2")
        ),
        all(target_arch = "aarch64", any(feature = "std", target_feature = "crc"))
    ))]
    if hw::available() {
        // SAFETY: `hw::update` only requires the CPU to implement the target feature it is
        // compiled for (`sse4.2` on x86_64, `crc` on aarch64). `hw::available()` is `true`
        // either because that feature is enabled for the whole build (then every CPU the
        // program may run on has it; the call needs `unsafe` regardless, as rustc does not
        // count `-C target-feature` for this), or because std's cached CPUID / HWCAP query
        // has just reported it.
        #[allow(unsafe_code)]
        return unsafe { hw::update(crc, data) };
    }
    table::update(crc, data)
}

/// Test and benchmark access to each backend. Not part of the API; may change at any time.
#[doc(hidden)]
pub mod backends {
    /// The backend [`crc32c`](super::crc32c) uses on this CPU, for benchmark labels.
    #[must_use]
    pub fn selected() -> &'static str {
        #[cfg(any(
            all(
                target_arch = "x86_64",
                any(feature = "std", target_feature = "sse4.2")
            ),
            all(target_arch = "aarch64", any(feature = "std", target_feature = "crc"))
        ))]
        if super::hw::available() {
            return if cfg!(any(target_feature = "sse4.2", target_feature = "crc")) {
                "hardware, 3 streams (static target feature)"
            } else {
                "hardware, 3 streams (runtime-detected)"
            };
        }
        if cfg!(feature = "std") {
            "table, slice-by-8 (8 KiB)"
        } else {
            "table, bytewise (1 KiB)"
        }
    }

    /// CRC-32C with the single 256-entry table (the no-`std` fallback).
    #[must_use]
    pub fn bytewise(data: &[u8]) -> u32 {
        !super::table::bytewise(!0, data)
    }

    /// CRC-32C with slice-by-8 tables (the `std` fallback).
    #[must_use]
    pub fn slice8(data: &[u8]) -> u32 {
        !super::table::slice8(!0, data)
    }

    /// CRC-32C with whichever table the build's fallback uses.
    #[must_use]
    pub fn table(data: &[u8]) -> u32 {
        !super::table::update(!0, data)
    }
}

/// Portable lookup-table CRC, with tables computed at compile time.
mod table {
    /// The Castagnoli polynomial, bit-reflected.
    pub(super) const POLY: u32 = 0x82F6_3B78;

    /// `N` tables of 256 entries: `T[0][b]` is the CRC register after feeding byte `b` into a
    /// zero register; `T[k][b]` is that value advanced over `k` more zero bytes.
    #[allow(
        clippy::indexing_slicing,
        reason = "const-evaluated; an out-of-bounds index would fail the build"
    )]
    const fn tables<const N: usize>() -> [[u32; 256]; N] {
        let mut t = [[0u32; 256]; N];
        let mut i = 0;
        while i < 256 {
            let mut crc = i as u32;
            let mut bit = 0;
            while bit < 8 {
                crc = (crc >> 1) ^ (POLY & (crc & 1).wrapping_neg());
                bit += 1;
            }
            t[0][i] = crc;
            i += 1;
        }
        let mut k = 1;
        while k < N {
            let mut i = 0;
            while i < 256 {
                let prev = t[k - 1][i];
                t[k][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
                i += 1;
            }
            k += 1;
        }
        t
    }

    /// 1 KiB.
    static BYTEWISE: [[u32; 256]; 1] = tables();
    /// 8 KiB.
    static SLICE8: [[u32; 256]; 8] = tables();

    /// One table entry; a `u8` index cannot be out of bounds, so this compiles to a plain load.
    #[inline(always)]
    #[allow(clippy::indexing_slicing, reason = "a u8 index into 256 entries")]
    fn at(table: &[u32; 256], index: u8) -> u32 {
        table[usize::from(index)]
    }

    /// The build's fallback (see the module docs for the trade-off).
    #[inline]
    pub(super) fn update(crc: u32, data: &[u8]) -> u32 {
        if cfg!(feature = "std") {
            slice8(crc, data)
        } else {
            bytewise(crc, data)
        }
    }

    /// One byte per step, 1 KiB of table.
    pub(super) fn bytewise(crc: u32, data: &[u8]) -> u32 {
        let [t0] = &BYTEWISE;
        data.iter()
            .fold(crc, |crc, &b| (crc >> 8) ^ at(t0, crc.to_le_bytes()[0] ^ b))
    }

    /// Eight bytes per step, 8 KiB of tables.
    pub(super) fn slice8(mut crc: u32, data: &[u8]) -> u32 {
        let [t0, t1, t2, t3, t4, t5, t6, t7] = &SLICE8;
        let (words, tail) = data.as_chunks::<8>();
        for &[b0, b1, b2, b3, b4, b5, b6, b7] in words {
            // The last four bytes do not depend on the register: look them up off the
            // critical path, and combine the register-dependent half as a tree.
            let [c0, c1, c2, c3] = (crc ^ u32::from_le_bytes([b0, b1, b2, b3])).to_le_bytes();
            let ahead = (at(t3, b4) ^ at(t2, b5)) ^ (at(t1, b6) ^ at(t0, b7));
            crc = ahead ^ ((at(t7, c0) ^ at(t6, c1)) ^ (at(t5, c2) ^ at(t4, c3)));
        }
        tail.iter()
            .fold(crc, |crc, &b| (crc >> 8) ^ at(t0, crc.to_le_bytes()[0] ^ b))
    }
}

/// The block structure shared by the x86_64 and aarch64 hardware paths.
///
/// The CRC instruction takes 8 bytes per step but has a latency of about 3 cycles, so one
/// dependency chain uses a third of it. A block is therefore split into three equal lanes
/// `A | B | C` of `n` bytes each, fed as independent streams. With `crc(s, M)` the raw register
/// after feeding `M` from state `s`, which is linear over GF(2):
///
/// ```text
/// crc(s, A|B|C) = crc(s, A)·x^(16n) ⊕ crc(0, B)·x^(8n) ⊕ crc(0, C)          (mod P)
///               = s·x^(24n) ⊕ crc(0, A)·x^(16n) ⊕ crc(0, B)·x^(8n) ⊕ crc(0, C)
/// ```
///
/// Multiplying a register `v` by `x^(8n)` is a carry-less product `v·K` with
/// `K = x^(8n-33) mod P`, a 64-bit value, reduced by feeding it to the CRC instruction from a
/// zero register (which multiplies by `x^32` and reduces; the remaining `x` is the one that a
/// carry-less product of bit-reflected operands gains). The product is formed from a 16-entry
/// table of `K`'s nibble multiples, so only the CRC instruction is needed (no `pclmulqdq`,
/// which no x86-64 microarchitecture level includes).
///
/// - Long inputs go in blocks of three 1 KiB lanes, each block independent of the previous
///   one (second form above), so the combining work overlaps the next block's streams.
/// - What remains (less than 3 KiB) goes in one block of three lanes as long as fit (first
///   form: `A` starts from the register, so two products; the multipliers for that lane
///   length are built on the spot), then the leftover words and bytes one by one. Lanes
///   shorter than `MIN_LANE` words are not worth the multiplications, so inputs under
///   192 bytes take the single stream only.
#[cfg(any(
    all(
        target_arch = "x86_64",
        any(test, feature = "std", target_feature = "sse4.2")
    ),
    all(
        target_arch = "aarch64",
        any(test, feature = "std", target_feature = "crc")
    )
))]
mod interleave {
    use super::table::POLY;

    /// The unit the instruction consumes.
    type Word = [u8; 8];

    /// Words per lane in a long block.
    const LONG_LANE: usize = 128;
    /// Bytes in a long block.
    const LONG_BLOCK: usize = 3 * 8 * LONG_LANE;
    /// The shortest lane, in words, worth a three-lane block. Building and applying the two
    /// multipliers costs about 40 cycles; a single stream costs the instruction latency
    /// (3 cycles on most x86 cores) per word, three streams a third of that.
    const MIN_LANE: usize = 8;

    /// `WORD_POWERS[m - 1]` = `x^(64m - 33) mod P`: the multiplier `K` that advances a register
    /// over `m` words, for `m` in `1..=3 * LONG_LANE` (1.5 KiB).
    static WORD_POWERS: [u32; 3 * LONG_LANE] = word_powers();

    #[allow(
        clippy::indexing_slicing,
        reason = "const-evaluated; an out-of-bounds index would fail the build"
    )]
    const fn word_powers() -> [u32; 3 * LONG_LANE] {
        /// `v·x^n mod P`, bit-reflected: multiplying by x is a right shift that folds the
        /// dropped coefficient back in with the polynomial.
        const fn mul_x_pow(mut v: u32, n: usize) -> u32 {
            let mut i = 0;
            while i < n {
                v = (v >> 1) ^ (POLY & (v & 1).wrapping_neg());
                i += 1;
            }
            v
        }
        let mut powers = [0; 3 * LONG_LANE];
        // x^31: in the reflected representation x^0 is the top bit.
        powers[0] = mul_x_pow(1 << 31, 31);
        let mut m = 1;
        while m < powers.len() {
            powers[m] = mul_x_pow(powers[m - 1], 64);
            m += 1;
        }
        powers
    }

    /// Multiplication by one `K`: the carry-less products of `K` with the 16 nibble values.
    struct Mul([u64; 16]);

    impl Mul {
        /// Advances a register over `words` words; `words` is in `1..=3 * LONG_LANE`.
        #[inline(always)]
        #[allow(
            clippy::indexing_slicing,
            reason = "callers pass at most 3 * LONG_LANE; the table indices are constants"
        )]
        fn by_words(words: usize) -> Self {
            let k = u64::from(WORD_POWERS[words - 1]);
            let mut t = [0; 16];
            t[1] = k;
            t[2] = k << 1;
            t[3] = t[2] ^ k;
            t[4] = k << 2;
            t[5] = t[4] ^ k;
            t[6] = t[4] ^ t[2];
            t[7] = t[6] ^ k;
            t[8] = k << 3;
            t[9] = t[8] ^ k;
            t[10] = t[8] ^ t[2];
            t[11] = t[10] ^ k;
            t[12] = t[8] ^ t[4];
            t[13] = t[12] ^ k;
            t[14] = t[12] ^ t[2];
            t[15] = t[14] ^ k;
            Self(t)
        }

        /// The carry-less product `v·K`, nibble by nibble.
        #[inline(always)]
        #[allow(clippy::indexing_slicing, reason = "a nibble indexes 16 entries")]
        fn product(&self, v: u64) -> u64 {
            let mut acc = 0;
            let mut i = 0;
            while i < 8 {
                acc ^= self.0[((v >> (4 * i)) & 0xF) as usize] << (4 * i);
                i += 1;
            }
            acc
        }
    }

    /// Three streams over three lanes; returns their registers.
    #[inline(always)]
    fn streams(
        init: u64,
        [a, b, c]: [&[Word]; 3],
        word: impl Fn(u64, u64) -> u64 + Copy,
    ) -> [u64; 3] {
        let (mut ca, mut cb, mut cc) = (init, 0, 0);
        for ((wa, wb), wc) in a.iter().zip(b).zip(c) {
            ca = word(ca, u64::from_le_bytes(*wa));
            cb = word(cb, u64::from_le_bytes(*wb));
            cc = word(cc, u64::from_le_bytes(*wc));
        }
        [ca, cb, cc]
    }

    /// `words` split into three lanes of `lane` words and the rest; `None` if too short.
    #[inline(always)]
    fn lanes(words: &[Word], lane: usize) -> Option<([&[Word]; 3], &[Word])> {
        let (a, rest) = words.split_at_checked(lane)?;
        let (b, rest) = rest.split_at_checked(lane)?;
        let (c, rest) = rest.split_at_checked(lane)?;
        Some(([a, b, c], rest))
    }

    /// Feeds `data` to the raw register `crc` with the CPU's 8-byte step `word` (and 1-byte step
    /// `byte` for the tail). The register is carried in a `u64` whose upper half stays zero, as
    /// the x86_64 instruction wants it. Must be inlined into a `#[target_feature]` function so
    /// the instructions are available.
    #[inline(always)]
    pub(super) fn update(
        crc: u32,
        data: &[u8],
        word: impl Fn(u64, u64) -> u64 + Copy,
        byte: impl Fn(u64, u8) -> u64,
    ) -> u32 {
        let mut crc = u64::from(crc);
        let (blocks, rest) = data.as_chunks::<LONG_BLOCK>();
        if !blocks.is_empty() {
            let by_1 = Mul::by_words(LONG_LANE);
            let by_2 = Mul::by_words(2 * LONG_LANE);
            let by_3 = Mul::by_words(3 * LONG_LANE);
            for block in blocks {
                let (words, _) = block.as_chunks::<8>();
                if let Some((lanes, _)) = lanes(words, LONG_LANE) {
                    let [ca, cb, cc] = streams(0, lanes, word);
                    crc = word(0, by_3.product(crc) ^ by_2.product(ca) ^ by_1.product(cb)) ^ cc;
                }
            }
        }

        let (mut words, tail) = rest.as_chunks::<8>();
        let lane = words.len() / 3;
        if lane >= MIN_LANE
            && let Some((lanes, rest)) = lanes(words, lane)
        {
            let [ca, cb, cc] = streams(crc, lanes, word);
            let by_1 = Mul::by_words(lane);
            let by_2 = Mul::by_words(2 * lane);
            crc = word(0, by_2.product(ca) ^ by_1.product(cb)) ^ cc;
            words = rest;
        }
        let crc = words
            .iter()
            .fold(crc, |crc, w| word(crc, u64::from_le_bytes(*w)));
        // The CRC instructions leave the upper half zero.
        tail.iter().fold(crc, |crc, &b| byte(crc, b)) as u32
    }
}

#[cfg(all(
    target_arch = "x86_64",
    any(test, feature = "std", target_feature = "sse4.2")
))]
mod hw {
    use core::arch::x86_64::{_mm_crc32_u8, _mm_crc32_u64};

    /// The raw register update with SSE4.2 `crc32`.
    #[target_feature(enable = "sse4.2")]
    pub(super) fn update(crc: u32, data: &[u8]) -> u32 {
        super::interleave::update(
            crc,
            data,
            // `crc32 r64` zero-extends its 32-bit result, so the register stays a u64.
            |crc, w| _mm_crc32_u64(crc, w),
            |crc, b| u64::from(_mm_crc32_u8(crc as u32, b)),
        )
    }

    /// Whether the CPU has SSE4.2: known at compile time, or asked through std (which caches
    /// the CPUID answer, so this is one atomic load).
    #[cfg(any(feature = "std", target_feature = "sse4.2"))]
    #[inline(always)]
    pub(super) fn available() -> bool {
        #[cfg(target_feature = "sse4.2")]
        let available = true;
        #[cfg(not(target_feature = "sse4.2"))]
        let available = std::is_x86_feature_detected!("sse4.2");
        available
    }
}

// Untested: this machine has no aarch64 toolchain. `__crc32cd`/`__crc32cb` are the ACLE CRC-32C
// intrinsics (CRC32CX / CRC32CB), stable in `core::arch::aarch64`.
#[cfg(all(
    target_arch = "aarch64",
    any(test, feature = "std", target_feature = "crc")
))]
mod hw {
    use core::arch::aarch64::{__crc32cb, __crc32cd};

    /// The raw register update with the ARMv8 CRC extension.
    #[target_feature(enable = "crc")]
    pub(super) fn update(crc: u32, data: &[u8]) -> u32 {
        super::interleave::update(
            crc,
            data,
            |crc, w| u64::from(__crc32cd(crc as u32, w)),
            |crc, b| u64::from(__crc32cb(crc as u32, b)),
        )
    }

    /// Whether the CPU has the CRC extension: known at compile time, or asked through std
    /// (which caches the HWCAP answer).
    #[cfg(any(feature = "std", target_feature = "crc"))]
    #[inline(always)]
    pub(super) fn available() -> bool {
        #[cfg(target_feature = "crc")]
        let available = true;
        #[cfg(not(target_feature = "crc"))]
        let available = std::arch::is_aarch64_feature_detected!("crc");
        available
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec::Vec;

    use proptest::prelude::*;

    use super::{Crc32c, backends, crc32c, crc32c_append};

    /// Bit-at-a-time reference, straight from the definition.
    fn bitwise(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ super::table::POLY
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// Every implementation this build has, by name.
    fn all(data: &[u8]) -> [(&'static str, u32); 5] {
        [
            ("crc32c", crc32c(data)),
            ("bytewise", backends::bytewise(data)),
            ("slice8", backends::slice8(data)),
            ("table", backends::table(data)),
            ("hardware", hardware(data)),
        ]
    }

    /// The hardware path directly, when this CPU has it (else the dispatching function).
    fn hardware(data: &[u8]) -> u32 {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("sse4.2") {
            // SAFETY: the CPU has just reported SSE4.2.
            #[allow(unsafe_code)]
            return !unsafe { super::hw::update(!0, data) };
        }
        crc32c(data)
    }

    fn assert_all(data: &[u8], expected: u32) {
        for (name, got) in all(data) {
            assert_eq!(
                got,
                expected,
                "{name}, len {}: {got:#010x} != {expected:#010x}",
                data.len()
            );
        }
    }

    /// Pseudo-random bytes (xorshift), so tests need no RNG crate.
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut s = seed | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s.to_le_bytes()[3]
            })
            .collect()
    }

    /// With `std` (or a static target feature) an SSE4.2 CPU must get the hardware path.
    #[test]
    #[cfg(all(
        target_arch = "x86_64",
        any(feature = "std", target_feature = "sse4.2")
    ))]
    fn dispatch_picks_hardware() {
        if std::is_x86_feature_detected!("sse4.2") {
            assert!(backends::selected().starts_with("hardware"));
        }
    }

    #[test]
    fn check_value() {
        assert_all(b"123456789", 0xE306_9283);
        assert_eq!(bitwise(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn empty() {
        assert_all(b"", 0);
        assert_eq!(crc32c_append(0x1234_5678, b""), 0x1234_5678);
        assert_eq!(Crc32c::new().finish(), 0);
        assert_eq!(Crc32c::default(), Crc32c::new());
    }

    /// RFC 3720 (iSCSI), appendix B.4.
    #[test]
    fn rfc3720_b4() {
        assert_all(&[0x00; 32], 0x8A91_36AA);
        assert_all(&[0xFF; 32], 0x62A8_AB43);
        let incrementing: Vec<u8> = (0..32).collect();
        assert_all(&incrementing, 0x46DD_794E);
        let decrementing: Vec<u8> = (0..32).rev().collect();
        assert_all(&decrementing, 0x113F_DB5C);
        let read_command_pdu: [u8; 48] = [
            0x01, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14,
            0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        assert_all(&read_command_pdu, 0xD996_3A56);
    }

    /// Lengths around the hardware path's seams: 3 KiB long blocks, the shortest three-lane
    /// remainder (8-word lanes, 192 bytes), the longest one (3071 bytes) and the word tail.
    #[test]
    fn block_boundaries() {
        let data = noise(4 * 3072 + 8, 7);
        for len in [
            184,
            191,
            192,
            193,
            199,
            200,
            207,
            3064,
            3071,
            3072,
            3073,
            3072 + 191,
            3072 + 192,
            6143,
            6144,
            6145,
            9216 + 3071,
            12288,
            12296,
        ] {
            let data = &data[..len];
            assert_all(data, bitwise(data));
        }
    }

    /// All lengths 0..=4096 at all eight offsets modulo a word: the implementations agree.
    #[test]
    fn all_lengths_and_offsets() {
        let data = noise(4096 + 8, 42);
        for offset in 0..8 {
            for len in 0..=4096 {
                let slice = &data[offset..offset + len];
                let expected = backends::bytewise(slice);
                for (name, got) in all(slice) {
                    assert_eq!(got, expected, "{name}, offset {offset}, len {len}");
                }
            }
        }
    }

    #[test]
    fn every_split_of_a_long_input() {
        let data = noise(700, 3);
        let whole = crc32c(&data);
        for at in 0..=data.len() {
            let (a, b) = data.split_at(at);
            assert_eq!(Crc32c::new().update(a).update(b).finish(), whole, "{at}");
            assert_eq!(crc32c_append(crc32c(a), b), whole, "{at}");
        }
    }

    proptest! {
        #[test]
        fn implementations_agree(
            data in proptest::collection::vec(any::<u8>(), 0..=4096 + 64),
            offset in 0usize..64,
        ) {
            let slice = data.get(offset..).unwrap_or_default();
            let expected = bitwise(slice);
            for (name, got) in all(slice) {
                prop_assert_eq!(got, expected, "{}", name);
            }
        }

        #[test]
        fn incremental_equals_one_shot(
            data in proptest::collection::vec(any::<u8>(), 0..=4096),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
            cuts.sort_unstable();
            let mut hasher = Crc32c::new();
            let mut appended = 0;
            let mut start = 0;
            for &cut in cuts.iter().chain([data.len()].iter()) {
                hasher.update(&data[start..cut]);
                appended = crc32c_append(appended, &data[start..cut]);
                start = cut;
            }
            prop_assert_eq!(hasher.finish(), crc32c(&data));
            prop_assert_eq!(appended, crc32c(&data));
        }
    }
}
