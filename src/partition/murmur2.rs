//! Kafka's murmur2 and the keyed partition it picks.
//!
//! Kafka's Java client hashes a record key with its own transcription of Austin Appleby's
//! MurmurHash2 (`org.apache.kafka.common.utils.Utils.murmur2`): 32-bit, seed `0x9747b28c`,
//! `m = 0x5bd1e995`, `r = 24`, the key read as little-endian 4-byte blocks whatever the
//! platform, the last `len % 4` bytes folded in by a fall-through switch, and two final mixes.
//! Java returns the 32 bits as a signed `int`, and so does [`murmur2`].
//!
//! A keyed record then goes to `Utils.toPositive(murmur2(key)) % numPartitions`, where
//! `toPositive` clears the sign bit (`& 0x7fffffff`; it is not `abs`). Every client that wants
//! its keyed records to land where the Java client puts them (kafka-python, librdkafka's
//! `murmur2` partitioner, Sarama's `NewReferenceHashPartitioner`...) reproduces both steps bit
//! for bit, and so do we: changing either would silently move keys to other partitions.

use core::num::NonZeroU32;

/// The seed the Java client starts from.
const SEED: u32 = 0x9747_b28c;
/// The multiplier of MurmurHash2.
const M: u32 = 0x5bd1_e995;
/// The shift of MurmurHash2's block mix.
const R: u32 = 24;

/// Kafka's murmur2 hash of `data`, exactly as the Java client's `Utils.murmur2` computes it.
///
/// The result is Java's signed `int`. kafka-python's `murmur2` returns the same 32 bits as an
/// unsigned number; `murmur2(key) as u32` is that value.
///
/// The length enters the hash as a 32-bit number, as Java's array length does; a key of
/// 4 GiB or more (which no Kafka record can carry) hashes as if its length were reduced
/// modulo 2³².
///
/// # Example
///
/// ```
/// use embedded_kafka::partition::murmur2;
///
/// // From the Java client's own test (UtilsTest.testMurmur2).
/// assert_eq!(murmur2(b"21"), -973_932_308);
/// assert_eq!(murmur2(b"abc"), 479_470_107);
/// ```
#[must_use]
#[inline]
pub fn murmur2(data: &[u8]) -> i32 {
    // Java's `int h = seed ^ length`: the length as 32 bits, truncated like Java's int would be.
    #[allow(clippy::cast_possible_truncation)]
    let mut h = SEED ^ (data.len() as u32);

    // Whole 4-byte blocks, as arrays: no bounds checks and no panics in the hot loop.
    let (blocks, tail) = data.as_chunks::<4>();
    for block in blocks {
        let mut k = u32::from_le_bytes(*block);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }

    // Java's `switch (length % 4)` with fall-through from case 3 to case 1; the multiply
    // belongs to case 1 only, so it runs for any non-empty tail and never for an empty one.
    match *tail {
        [a, b, c] => {
            h ^= u32::from(c) << 16;
            h ^= u32::from(b) << 8;
            h ^= u32::from(a);
            h = h.wrapping_mul(M);
        }
        [a, b] => {
            h ^= u32::from(b) << 8;
            h ^= u32::from(a);
            h = h.wrapping_mul(M);
        }
        [a] => {
            h ^= u32::from(a);
            h = h.wrapping_mul(M);
        }
        _ => {}
    }

    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;

    // Java's result is the same 32 bits read as a signed int.
    h.cast_signed()
}

/// Java's `Utils.toPositive`: clears the sign bit. Not `abs`: `i32::MIN` becomes 0 and
/// `-1` becomes `0x7fffffff`.
#[inline]
const fn to_positive(hash: i32) -> u32 {
    hash.cast_unsigned() & 0x7fff_ffff
}

/// The partition the Java client's default (and built-in) partitioner picks for a record with
/// this key: `(murmur2(key) & 0x7fffffff) % partitions`.
///
/// `partitions == 0` returns 0 rather than panicking: a topic without partitions has no valid
/// partition, and this function cannot say so. Call [`try_partition_for_key`] (or
/// [`choose_partition`](super::choose_partition)) where zero partitions can happen, which is
/// whenever the count comes from broker metadata.
///
/// # Example
///
/// ```
/// use embedded_kafka::partition::partition_for_key;
///
/// // toPositive(murmur2("foobar")) = toPositive(-790332482) = 1357151166.
/// assert_eq!(partition_for_key(b"foobar", 1_000), 166);
/// assert_eq!(partition_for_key(b"foobar", 0), 0); // no panic
/// ```
#[must_use]
#[inline]
pub fn partition_for_key(key: &[u8], partitions: u32) -> u32 {
    match NonZeroU32::new(partitions) {
        Some(partitions) => partition_for_key_nonzero(key, partitions),
        None => 0,
    }
}

/// [`partition_for_key`], or `None` when the topic has no partitions.
///
/// # Example
///
/// ```
/// use embedded_kafka::partition::try_partition_for_key;
///
/// assert_eq!(try_partition_for_key(b"foobar", 1_000), Some(166));
/// assert_eq!(try_partition_for_key(b"foobar", 0), None);
/// ```
#[must_use]
#[inline]
pub fn try_partition_for_key(key: &[u8], partitions: u32) -> Option<u32> {
    NonZeroU32::new(partitions).map(|partitions| partition_for_key_nonzero(key, partitions))
}

/// [`partition_for_key`] for a partition count that is known not to be zero (the form the
/// [`Partitioner`](super::Partitioner) trait hands its implementations). `u32 % NonZeroU32`
/// cannot divide by zero, so this has no panic path at all.
///
/// # Example
///
/// ```
/// use core::num::NonZeroU32;
/// use embedded_kafka::partition::partition_for_key_nonzero;
///
/// let partitions = NonZeroU32::new(1_000).unwrap();
/// assert_eq!(partition_for_key_nonzero(b"foobar", partitions), 166);
/// ```
#[must_use]
#[inline]
pub fn partition_for_key_nonzero(key: &[u8], partitions: NonZeroU32) -> u32 {
    to_positive(murmur2(key)) % partitions
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors of the Java client's `UtilsTest.testMurmur2`, as `hex(key) expected`; the
    /// file says where they come from.
    const JAVA_VECTORS: &str = include_str!("../../tests/vectors/murmur2_java.txt");

    fn java_vectors() -> impl Iterator<Item = (std::vec::Vec<u8>, i32)> {
        JAVA_VECTORS
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| {
                let mut fields = line.split_whitespace();
                let hex = fields.next().unwrap();
                let expected = fields.next().unwrap().parse::<i32>().unwrap();
                let key = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                    .collect();
                (key, expected)
            })
    }

    extern crate std;

    #[test]
    fn java_utils_test_vectors() {
        let mut count = 0;
        for (key, expected) in java_vectors() {
            assert_eq!(
                murmur2(&key),
                expected,
                "key {:?}",
                std::str::from_utf8(&key)
            );
            count += 1;
        }
        // UtilsTest.testMurmur2 has six cases; a parse slip must not make this pass vacuously.
        assert_eq!(count, 6);
    }

    #[test]
    fn partition_is_to_positive_then_modulo() {
        for (key, expected) in java_vectors() {
            let positive = (expected & 0x7fff_ffff) as u32;
            for n in [1, 2, 3, 7, 16, 100, 1000, u32::MAX] {
                assert_eq!(partition_for_key(&key, n), positive % n);
                assert_eq!(try_partition_for_key(&key, n), Some(positive % n));
            }
        }
    }

    #[test]
    fn to_positive_is_not_abs() {
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-1), 0x7fff_ffff);
        assert_eq!(to_positive(-10), 0x7fff_fff6);
        assert_eq!(to_positive(10), 10);
    }

    #[test]
    fn zero_partitions_do_not_panic() {
        assert_eq!(partition_for_key(b"", 0), 0);
        assert_eq!(partition_for_key(b"key", 0), 0);
        assert_eq!(try_partition_for_key(b"key", 0), None);
    }

    /// A straight transcription of the Java loop (index arithmetic, `i32` wrapping ops and
    /// logical shifts), kept here only as an oracle for the block/tail rewrite above.
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
    fn java_transcription(data: &[u8]) -> i32 {
        let length = data.len() as i32;
        let m = 0x5bd1_e995_i32;
        let mut h = (SEED as i32) ^ length;
        let b = |i: usize| i32::from(data[i]);
        for i in 0..(length / 4) as usize {
            let i4 = i * 4;
            let mut k = b(i4)
                .wrapping_add(b(i4 + 1) << 8)
                .wrapping_add(b(i4 + 2) << 16)
                .wrapping_add(b(i4 + 3) << 24);
            k = k.wrapping_mul(m);
            k ^= ((k as u32) >> 24) as i32;
            k = k.wrapping_mul(m);
            h = h.wrapping_mul(m);
            h ^= k;
        }
        let base = data.len() & !3;
        let rem = length % 4;
        if rem >= 3 {
            h ^= b(base + 2) << 16;
        }
        if rem >= 2 {
            h ^= b(base + 1) << 8;
        }
        if rem >= 1 {
            h ^= b(base);
            h = h.wrapping_mul(m);
        }
        h ^= ((h as u32) >> 13) as i32;
        h = h.wrapping_mul(m);
        h ^= ((h as u32) >> 15) as i32;
        h
    }

    #[test]
    fn agrees_with_a_literal_transcription_of_the_java_loop() {
        let mut x: u64 = 0x243f_6a88_85a3_08d3;
        let mut buf = [0u8; 67];
        for len in 0..=buf.len() {
            for _ in 0..64 {
                for byte in buf.iter_mut() {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    *byte = (x >> 56) as u8;
                }
                let key = &buf[..len];
                assert_eq!(murmur2(key), java_transcription(key), "len {len}");
            }
            let ff = [0xffu8; 67];
            assert_eq!(murmur2(&ff[..len]), java_transcription(&ff[..len]));
        }
    }
}
