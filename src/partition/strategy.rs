//! The built-in partitioning strategies: keyed ([`Murmur2`]) and keyless ([`Sticky`],
//! [`RoundRobin`], [`Random`], [`Fixed`]).
//!
//! They compose: [`Murmur2`] hashes the records that have a key and hands the others to a
//! keyless strategy, so `Murmur2<Sticky<R>>` is the Java client's default
//! ([`DefaultPartitioner`]), `Murmur2<Random<R>>` is kafka-python's `DefaultPartitioner`, and
//! `Murmur2<RoundRobin>` is the Java client's default before KIP-480 (2.4). The keyless
//! strategies used on their own ignore keys, like Java's `UniformStickyPartitioner` and
//! `RoundRobinPartitioner`.
//!
//! Every strategy holds its state inline (a counter, a partition, the caller's RNG): no heap,
//! and `core::mem::size_of` tells what it costs.

use core::num::NonZeroU32;

use rand_core::RngCore;

use super::{Partitioner, partition_for_key_nonzero};

/// A uniformly distributed number in `0..n`, from one 32-bit draw.
///
/// Lemire's multiply-shift rather than Java's `toPositive(nextInt()) % n`: the same (tiny)
/// bias, no division (a Cortex-M0 has no divide instruction) and no panic path. The result is
/// `< n` because `x * n < 2^32 * n`.
#[inline]
fn below<R: RngCore + ?Sized>(rng: &mut R, n: NonZeroU32) -> u32 {
    let wide = u64::from(rng.next_u32()) * u64::from(n.get());
    // The high half of a u64 always fits a u32.
    (wide >> 32) as u32
}

/// Keyed records by Kafka's murmur2, exactly where the Java client puts them; keyless records
/// by the `keyless` strategy `F`.
///
/// A record with a key (even an empty one) goes to
/// [`partition_for_key`](super::partition_for_key)`(key, partitions)`. A record whose key is
/// `None` is handed to `F`, and batch closings are passed on to `F`, so a [`Sticky`] fallback
/// switches exactly as the Java client's does.
///
/// # Example
///
/// ```
/// use core::num::NonZeroU32;
/// use embedded_kafka::partition::{Fixed, Murmur2, Partitioner};
///
/// let mut p = Murmur2::new(Fixed(0));
/// let n = NonZeroU32::new(1_000).unwrap();
/// assert_eq!(p.partition("t", Some(b"foobar"), n), 166);
/// assert_eq!(p.partition("t", Some(b""), n), 681); // an empty key is hashed,
/// assert_eq!(p.partition("t", None, n), 0); // a null key is not
/// ```
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Murmur2<F> {
    keyless: F,
}

impl<F> Murmur2<F> {
    /// Hashes keys, and hands keyless records to `keyless`.
    #[must_use]
    pub const fn new(keyless: F) -> Self {
        Self { keyless }
    }

    /// The strategy for keyless records.
    #[must_use]
    pub const fn keyless(&self) -> &F {
        &self.keyless
    }

    /// The strategy for keyless records, mutably (e.g. to reseed its RNG).
    #[must_use]
    pub const fn keyless_mut(&mut self) -> &mut F {
        &mut self.keyless
    }

    /// The strategy for keyless records, unwrapped.
    #[must_use]
    pub fn into_keyless(self) -> F {
        self.keyless
    }
}

impl<F: Partitioner> Partitioner for Murmur2<F> {
    #[inline]
    fn partition(&mut self, topic: &str, key: Option<&[u8]>, partitions: NonZeroU32) -> u32 {
        match key {
            Some(key) => partition_for_key_nonzero(key, partitions),
            None => self.keyless.partition(topic, None, partitions),
        }
    }

    fn on_batch_closed(&mut self, topic: &str, partition: u32, partitions: NonZeroU32) -> bool {
        self.keyless.on_batch_closed(topic, partition, partitions)
    }
}

/// The Java client's default partitioning (its `DefaultPartitioner` since 2.4, and the
/// built-in partitioner since 3.3, less its load-adaptive choice): murmur2 for keyed records,
/// [`Sticky`] for keyless ones.
///
/// # Example
///
/// ```
/// # use rand_core::{impls, RngCore};
/// # struct Counter(u32);
/// # impl RngCore for Counter {
/// #     fn next_u32(&mut self) -> u32 { self.0 = self.0.wrapping_add(0x9e37_79b9); self.0 }
/// #     fn next_u64(&mut self) -> u64 { impls::next_u64_via_u32(self) }
/// #     fn fill_bytes(&mut self, dst: &mut [u8]) { impls::fill_bytes_via_next(self, dst) }
/// # }
/// # let rng = Counter(1);
/// use embedded_kafka::partition::{choose_partition, DefaultPartitioner, Murmur2, Sticky};
///
/// // `rng` is any `rand_core::RngCore`: a hardware RNG, a seeded PRNG...
/// let mut p: DefaultPartitioner<_> = Murmur2::new(Sticky::new(rng));
/// assert_eq!(choose_partition(None, "t", Some(b"foobar"), 1_000, &mut p), Ok(166));
/// let first = choose_partition(None, "t", None, 1_000, &mut p).unwrap();
/// assert_eq!(choose_partition(None, "t", None, 1_000, &mut p), Ok(first)); // sticks
/// ```
pub type DefaultPartitioner<R> = Murmur2<Sticky<R>>;

/// Keyless records stick to one partition until the batch being filled for it closes, then
/// move to another one drawn from the caller's RNG (KIP-480, and KIP-794's uniform variant).
///
/// Spreading keyless records over every partition (round-robin, random) fills many batches at
/// once, each with few records, so each is sent late or small. Sticking fills one batch at a
/// time: larger batches, fewer requests, lower latency, and over time the records still spread
/// evenly. The partition is picked the first time it is needed and changes only when
/// [`on_batch_closed`](Partitioner::on_batch_closed) reports that the batch for *that*
/// partition closed; a closing batch of another partition (records with keys or an explicit
/// partition) does not move it. The new partition is a different one whenever the topic has
/// more than one, uniformly among the others.
///
/// It ignores keys (as Java's `UniformStickyPartitioner` does); wrap it in [`Murmur2`] to hash
/// them. It keeps one sticky partition, not one per topic: give each topic its own `Sticky`
/// when a producer writes keyless records to several topics and each should stick on its own.
/// If the partition count drops below the sticky partition (another topic, or stale metadata),
/// it picks afresh.
///
/// Java's built-in partitioner (3.3+) also skips partitions whose leader is unknown and
/// favours partitions with short queues; this type does not (the trait sees only the count).
///
/// # Example
///
/// ```
/// use core::num::NonZeroU32;
/// # use rand_core::{impls, RngCore};
/// # struct Counter(u32);
/// # impl RngCore for Counter {
/// #     fn next_u32(&mut self) -> u32 { self.0 = self.0.wrapping_add(0x9e37_79b9); self.0 }
/// #     fn next_u64(&mut self) -> u64 { impls::next_u64_via_u32(self) }
/// #     fn fill_bytes(&mut self, dst: &mut [u8]) { impls::fill_bytes_via_next(self, dst) }
/// # }
/// # let rng = Counter(1);
/// use embedded_kafka::partition::{Partitioner, Sticky};
///
/// let n = NonZeroU32::new(6).unwrap();
/// let mut sticky = Sticky::new(rng);
/// let first = sticky.partition("t", None, n);
/// assert_eq!(sticky.partition("t", None, n), first);
///
/// sticky.on_batch_closed("t", first, n);
/// let second = sticky.partition("t", None, n);
/// assert_ne!(second, first);
/// assert_eq!(sticky.partition("t", None, n), second);
/// ```
#[derive(Debug, Clone)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Sticky<R> {
    rng: R,
    current: Option<u32>,
}

impl<R: RngCore> Sticky<R> {
    /// A sticky partitioner drawing its partitions from `rng`. It has no partition yet: the
    /// first keyless record picks one.
    #[must_use]
    pub const fn new(rng: R) -> Self {
        Self { rng, current: None }
    }

    /// The partition keyless records currently go to, if one has been picked.
    #[must_use]
    pub const fn current(&self) -> Option<u32> {
        self.current
    }

    /// The RNG, unwrapped.
    #[must_use]
    pub fn into_rng(self) -> R {
        self.rng
    }

    /// Picks the sticky partition afresh, different from `avoid` when there is a choice.
    fn pick(&mut self, avoid: Option<u32>, partitions: NonZeroU32) -> u32 {
        let next = match (avoid, NonZeroU32::new(partitions.get() - 1)) {
            // Draw among the n - 1 others and skip over `avoid`: uniform, one draw.
            (Some(avoid), Some(others)) if avoid < partitions.get() => {
                let r = below(&mut self.rng, others);
                if r >= avoid { r + 1 } else { r }
            }
            _ => below(&mut self.rng, partitions),
        };
        debug!("sticky partition {:?} -> {}", avoid, next);
        self.current = Some(next);
        next
    }
}

impl<R: RngCore> Partitioner for Sticky<R> {
    #[inline]
    fn partition(&mut self, _topic: &str, _key: Option<&[u8]>, partitions: NonZeroU32) -> u32 {
        match self.current {
            Some(current) if current < partitions.get() => current,
            stale => self.pick(stale, partitions),
        }
    }

    /// Moves on (and says so) when the batch closed is the sticky partition's.
    fn on_batch_closed(&mut self, _topic: &str, partition: u32, partitions: NonZeroU32) -> bool {
        if self.current == Some(partition) {
            self.pick(Some(partition), partitions);
            true
        } else {
            false
        }
    }
}

/// Each record to the next partition in turn: 0, 1, ..., n - 1, 0, ... (Java's
/// `RoundRobinPartitioner`).
///
/// It ignores keys, as Java's does; wrap it in [`Murmur2`] to hash them. One counter serves
/// every topic (Java keeps one per topic): with several topics, each still gets every
/// partition in turn in the long run, but not in strict rotation. The counter is a `u32`, so
/// the rotation restarts at 0 after 2³² records, like Java's wrapping `int`.
///
/// # Example
///
/// ```
/// use core::num::NonZeroU32;
/// use embedded_kafka::partition::{Partitioner, RoundRobin};
///
/// let n = NonZeroU32::new(3).unwrap();
/// let mut rr = RoundRobin::new();
/// let picks: [u32; 5] = core::array::from_fn(|_| rr.partition("t", Some(b"key"), n));
/// assert_eq!(picks, [0, 1, 2, 0, 1]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RoundRobin {
    next: u32,
}

impl RoundRobin {
    /// Starts at partition 0.
    #[must_use]
    pub const fn new() -> Self {
        Self { next: 0 }
    }
}

impl Partitioner for RoundRobin {
    #[inline]
    fn partition(&mut self, _topic: &str, _key: Option<&[u8]>, partitions: NonZeroU32) -> u32 {
        let partition = self.next % partitions;
        self.next = self.next.wrapping_add(1);
        partition
    }
}

/// Each record to a partition drawn uniformly from the caller's RNG (kafka-python's
/// `DefaultPartitioner` does this for keyless records).
///
/// It ignores keys; wrap it in [`Murmur2`] to hash them. The RNG is any
/// [`rand_core::RngCore`]: a microcontroller's hardware RNG, or a seeded PRNG in tests
/// (`&mut R` works too, to share one).
///
/// # Example
///
/// ```
/// use core::num::NonZeroU32;
/// # use rand_core::{impls, RngCore};
/// # struct Counter(u32);
/// # impl RngCore for Counter {
/// #     fn next_u32(&mut self) -> u32 { self.0 = self.0.wrapping_add(0x9e37_79b9); self.0 }
/// #     fn next_u64(&mut self) -> u64 { impls::next_u64_via_u32(self) }
/// #     fn fill_bytes(&mut self, dst: &mut [u8]) { impls::fill_bytes_via_next(self, dst) }
/// # }
/// # let rng = Counter(1);
/// use embedded_kafka::partition::{Partitioner, Random};
///
/// let n = NonZeroU32::new(10).unwrap();
/// let mut random = Random::new(rng);
/// assert!(random.partition("t", None, n) < 10);
/// ```
#[derive(Debug, Clone)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Random<R> {
    rng: R,
}

impl<R: RngCore> Random<R> {
    /// A partitioner drawing every partition from `rng`.
    #[must_use]
    pub const fn new(rng: R) -> Self {
        Self { rng }
    }

    /// The RNG, unwrapped.
    #[must_use]
    pub fn into_rng(self) -> R {
        self.rng
    }
}

impl<R: RngCore> Partitioner for Random<R> {
    #[inline]
    fn partition(&mut self, _topic: &str, _key: Option<&[u8]>, partitions: NonZeroU32) -> u32 {
        below(&mut self.rng, partitions)
    }
}

/// Every record to one fixed partition, whatever its key.
///
/// For a per-record choice use the explicit partition of `send` instead (see
/// [`choose_partition`](super::choose_partition)). A fixed partition the topic does not have
/// is reported by `choose_partition` as
/// [`PartitionerOutOfRange`](super::PartitionError::PartitionerOutOfRange), not clamped.
///
/// # Example
///
/// ```
/// use embedded_kafka::partition::{choose_partition, Fixed, PartitionError};
///
/// assert_eq!(choose_partition(None, "t", Some(b"k"), 4, &mut Fixed(2)), Ok(2));
/// assert_eq!(
///     choose_partition(None, "t", None, 2, &mut Fixed(2)),
///     Err(PartitionError::PartitionerOutOfRange { partition: 2, partitions: 2 })
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Fixed(pub u32);

impl Partitioner for Fixed {
    #[inline]
    fn partition(&mut self, _topic: &str, _key: Option<&[u8]>, _partitions: NonZeroU32) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition::{PartitionError, choose_partition};

    /// xorshift64*, enough to drive the strategies deterministically.
    struct XorShift(u64);

    impl RngCore for XorShift {
        fn next_u32(&mut self) -> u32 {
            (self.next_u64() >> 32) as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn fill_bytes(&mut self, dst: &mut [u8]) {
            rand_core::impls::fill_bytes_via_next(self, dst);
        }
    }

    /// An RNG that returns the same word forever: the worst case for "pick another".
    struct Constant(u32);

    impl RngCore for Constant {
        fn next_u32(&mut self) -> u32 {
            self.0
        }
        fn next_u64(&mut self) -> u64 {
            u64::from(self.0)
        }
        fn fill_bytes(&mut self, dst: &mut [u8]) {
            rand_core::impls::fill_bytes_via_next(self, dst);
        }
    }

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[test]
    fn below_covers_the_range_and_stays_in_it() {
        for n in [1, 2, 3, 7, 1000, u32::MAX] {
            assert_eq!(below(&mut Constant(0), nz(n)), 0);
            assert_eq!(below(&mut Constant(u32::MAX), nz(n)), n - 1);
        }
    }

    #[test]
    fn murmur2_hashes_keys_and_delegates_null_keys() {
        let mut p = Murmur2::new(Fixed(5));
        assert_eq!(p.partition("t", Some(b"foobar"), nz(1000)), 166);
        // Java: toPositive(murmur2("")) % 1000; murmur2("") = 275646681.
        assert_eq!(p.partition("t", Some(b""), nz(1000)), 275_646_681 % 1000);
        assert_eq!(p.partition("t", None, nz(1000)), 5);
    }

    #[test]
    fn sticky_switches_only_when_its_own_batch_closes() {
        let n = nz(8);
        let mut s = Sticky::new(XorShift(0x1234_5678));
        assert_eq!(s.current(), None);
        let first = s.partition("t", None, n);
        assert_eq!(s.current(), Some(first));
        // Another partition's batch closing (keyed records) does not move it.
        s.on_batch_closed("t", (first + 1) % 8, n);
        assert_eq!(s.partition("t", Some(b"k"), n), first);
        s.on_batch_closed("t", first, n);
        let second = s.partition("t", None, n);
        assert_ne!(second, first);
    }

    #[test]
    fn sticky_moves_even_when_the_rng_is_stuck() {
        for word in [0, u32::MAX / 2, u32::MAX] {
            for n in 2..10 {
                let mut s = Sticky::new(Constant(word));
                let mut previous = s.partition("t", None, nz(n));
                for _ in 0..20 {
                    s.on_batch_closed("t", previous, nz(n));
                    let next = s.partition("t", None, nz(n));
                    assert_ne!(next, previous, "n = {n}, word = {word:#x}");
                    assert!(next < n);
                    previous = next;
                }
            }
        }
    }

    #[test]
    fn sticky_with_one_partition_stays_on_it() {
        let mut s = Sticky::new(XorShift(7));
        assert_eq!(s.partition("t", None, nz(1)), 0);
        s.on_batch_closed("t", 0, nz(1));
        assert_eq!(s.partition("t", None, nz(1)), 0);
    }

    #[test]
    fn sticky_repicks_when_the_partition_count_shrinks() {
        let mut s = Sticky::new(Constant(u32::MAX));
        assert_eq!(s.partition("t", None, nz(10)), 9);
        let p = s.partition("t", None, nz(4));
        assert!(p < 4);
        assert_eq!(s.partition("t", None, nz(4)), p);
    }

    #[test]
    fn default_partitioner_forwards_batch_closings_to_sticky() {
        let n = nz(16);
        let mut p: DefaultPartitioner<_> = Murmur2::new(Sticky::new(XorShift(99)));
        let first = p.partition("t", None, n);
        p.on_batch_closed("t", first, n);
        assert_ne!(p.partition("t", None, n), first);
    }

    #[test]
    fn round_robin_cycles_and_wraps() {
        let mut rr = RoundRobin::new();
        for i in 0..20 {
            assert_eq!(rr.partition("t", None, nz(7)), i % 7);
        }
        let mut rr = RoundRobin { next: u32::MAX };
        assert_eq!(rr.partition("t", None, nz(7)), u32::MAX % 7);
        assert_eq!(rr.partition("t", None, nz(7)), 0);
    }

    #[test]
    fn random_stays_in_range_and_reaches_every_partition() {
        let mut r = Random::new(XorShift(42));
        let mut seen = [false; 5];
        for _ in 0..1000 {
            let p = r.partition("t", None, nz(5));
            seen[p as usize] = true;
        }
        assert_eq!(seen, [true; 5]);
    }

    #[test]
    fn explicit_partition_wins_and_leaves_the_partitioner_alone() {
        let mut rr = RoundRobin::new();
        assert_eq!(choose_partition(Some(2), "t", None, 3, &mut rr), Ok(2));
        assert_eq!(rr, RoundRobin::new());
        assert_eq!(
            choose_partition(Some(3), "t", None, 3, &mut rr),
            Err(PartitionError::OutOfRange {
                partition: 3,
                partitions: 3
            })
        );
        assert_eq!(
            choose_partition(Some(0), "t", None, 0, &mut rr),
            Err(PartitionError::NoPartitions)
        );
        assert_eq!(rr, RoundRobin::new());
    }

    #[test]
    fn works_through_dyn() {
        let mut keyed = Murmur2::new(RoundRobin::new());
        let mut fixed = Fixed(1);
        let p: &mut dyn Partitioner = &mut keyed;
        assert_eq!(
            choose_partition(None, "t", Some(b"foobar"), 1000, p),
            Ok(166)
        );
        let p: &mut dyn Partitioner = &mut fixed;
        assert_eq!(choose_partition(None, "t", None, 2, p), Ok(1));
    }
}
