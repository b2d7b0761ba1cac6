//! Properties of the partitioning functions and strategies, over arbitrary keys, partition
//! counts and RNG seeds.

mod common;

use core::num::NonZeroU32;

use common::XorShift64;
use embedded_kafka::partition::{
    DefaultPartitioner, Murmur2, PartitionError, Partitioner, Random, RoundRobin, Sticky,
    choose_partition, murmur2, partition_for_key, partition_for_key_nonzero, try_partition_for_key,
};
use proptest::prelude::*;

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("nonzero")
}

/// Partition counts: small ones (where off-by-ones show) and any up to u32::MAX.
fn partition_count() -> impl Strategy<Value = u32> {
    prop_oneof![1u32..=16, 1u32..=100_000, 1u32..=u32::MAX]
}

proptest! {
    #[test]
    fn partition_for_key_is_in_range(key in prop::collection::vec(any::<u8>(), 0..300), n in partition_count()) {
        let p = partition_for_key(&key, n);
        prop_assert!(p < n);
        prop_assert_eq!(try_partition_for_key(&key, n), Some(p));
        prop_assert_eq!(partition_for_key_nonzero(&key, nz(n)), p);
        // It is Java's toPositive(murmur2(key)) % n.
        prop_assert_eq!(p, (murmur2(&key).cast_unsigned() & 0x7fff_ffff) % n);
    }

    #[test]
    fn zero_partitions_never_panic(key in prop::collection::vec(any::<u8>(), 0..64)) {
        prop_assert_eq!(partition_for_key(&key, 0), 0);
        prop_assert_eq!(try_partition_for_key(&key, 0), None);
        prop_assert_eq!(
            choose_partition(None, "t", Some(&key), 0, &mut Murmur2::new(RoundRobin::new())),
            Err(PartitionError::NoPartitions)
        );
    }

    #[test]
    fn explicit_partition_wins_or_is_out_of_range(explicit in any::<u32>(), n in partition_count(), key in prop::option::of(prop::collection::vec(any::<u8>(), 0..16))) {
        let mut rr = RoundRobin::new();
        let got = choose_partition(Some(explicit), "t", key.as_deref(), n, &mut rr);
        if explicit < n {
            prop_assert_eq!(got, Ok(explicit));
        } else {
            prop_assert_eq!(got, Err(PartitionError::OutOfRange { partition: explicit, partitions: n }));
        }
        // The partitioner was not consulted.
        prop_assert_eq!(rr, RoundRobin::new());
    }

    /// Sticky: every keyless record of a batch goes to one partition; when that batch closes
    /// the next batch goes elsewhere (if there is elsewhere); closings of other partitions'
    /// batches, and keyed records in between, change nothing.
    #[test]
    fn sticky_stays_until_its_batch_closes_then_moves(
        seed in any::<u64>(),
        n in prop_oneof![1u32..=8, 1u32..=10_000],
        batches in prop::collection::vec(1usize..20, 1..30),
    ) {
        let mut p: DefaultPartitioner<_> = Murmur2::new(Sticky::new(XorShift64::new(seed)));
        let mut previous: Option<u32> = None;
        for (b, records) in batches.into_iter().enumerate() {
            let current = p.partition("t", None, nz(n));
            prop_assert!(current < n);
            if let Some(previous) = previous {
                if n > 1 {
                    prop_assert_ne!(current, previous, "batch {} did not move", b);
                } else {
                    prop_assert_eq!(current, 0);
                }
            }
            for r in 0..records {
                prop_assert_eq!(p.partition("t", None, nz(n)), current);
                // A keyed record and the closing of its (other) partition's batch.
                let keyed = p.partition("t", Some(&r.to_le_bytes()), nz(n));
                if keyed != current {
                    p.on_batch_closed("t", keyed, nz(n));
                }
                prop_assert_eq!(p.partition("t", None, nz(n)), current);
            }
            p.on_batch_closed("t", current, nz(n));
            previous = Some(current);
        }
    }

    /// Round robin visits every partition once in any n consecutive records.
    #[test]
    fn round_robin_cycles_through_all(n in 1u32..=2_000, skip in 0u32..5_000) {
        let mut rr = RoundRobin::new();
        for _ in 0..skip {
            rr.partition("t", None, nz(n));
        }
        let mut seen = vec![false; n as usize];
        for _ in 0..n {
            let p = rr.partition("t", Some(b"ignored"), nz(n));
            prop_assert!(p < n);
            prop_assert!(!seen[p as usize], "partition {} twice in one cycle", p);
            seen[p as usize] = true;
        }
        prop_assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn random_stays_in_range(seed in any::<u64>(), n in partition_count()) {
        let mut random = Random::new(XorShift64::new(seed));
        for _ in 0..64 {
            prop_assert!(random.partition("t", None, nz(n)) < n);
        }
    }

    /// With a closure as partitioner, whatever it returns is range-checked, never trusted.
    #[test]
    fn a_closure_partitioner_is_range_checked(answer in any::<u32>(), n in partition_count()) {
        let mut f = |_: &str, _: Option<&[u8]>, _: NonZeroU32| answer;
        let got = choose_partition(None, "t", None, n, &mut f);
        if answer < n {
            prop_assert_eq!(got, Ok(answer));
        } else {
            prop_assert_eq!(got, Err(PartitionError::PartitionerOutOfRange { partition: answer, partitions: n }));
        }
    }
}

/// Keyless records spread evenly under Sticky and Random over many batches (a coarse check
/// that the "different partition" draw is not biased towards a neighbour).
#[test]
fn keyless_strategies_spread_evenly() {
    let n = nz(8);
    let mut sticky = Sticky::new(XorShift64::new(1));
    let mut random = Random::new(XorShift64::new(2));
    let mut sticky_counts = [0u32; 8];
    let mut random_counts = [0u32; 8];
    for _ in 0..80_000 {
        let s = sticky.partition("t", None, n);
        sticky_counts[s as usize] += 1;
        sticky.on_batch_closed("t", s, n);
        random_counts[random.partition("t", None, n) as usize] += 1;
    }
    for counts in [sticky_counts, random_counts] {
        for c in counts {
            assert!((9_000..11_000).contains(&c), "uneven: {counts:?}");
        }
    }
}
