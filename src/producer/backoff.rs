//! Retry back-off with KIP-580's jitter, without heap or a platform RNG: a xorshift32
//! generator seeded from the monotonic clock.
//!
//! The Java client (`ExponentialBackoff` with multiplier 2 and jitter 0.2) waits
//! `min(retry.backoff.max.ms, factor * retry.backoff.ms * 2^(attempt - 1))`, `factor` drawn
//! uniformly from [0.8, 1.2), the exponent capped where the term reaches the maximum. The
//! jitter spreads the retries of many clients that failed together (a broker restart) so that
//! they do not all come back at the same instant. Quality of randomness does not matter here;
//! only that devices started at different times draw differently.

/// A non-zero generator state from `seed` (xorshift32 never leaves zero).
pub(super) fn seed(seed: u64) -> u32 {
    let mixed = (seed ^ (seed >> 32)) as u32 ^ 0x9e37_79b9;
    if mixed == 0 { 0x9e37_79b9 } else { mixed }
}

/// The next value of the xorshift32 generator in `state`.
pub(super) fn next(state: &mut u32) -> u32 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    x
}

/// `term` (the exponential back-off before jitter) times a factor in [0.8, 1.2) chosen by
/// `random`, in steps of 1/1000, then capped at `max`.
pub(super) fn jittered(term: u32, max: u32, random: u32) -> u32 {
    let permille = 800 + u64::from(random % 400);
    let value = u64::from(term) * permille / 1000;
    u32::try_from(value).unwrap_or(u32::MAX).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_0_8_and_1_2_of_the_term_and_under_the_max() {
        let mut state = seed(12_345);
        let (mut low, mut high) = (u32::MAX, 0);
        for _ in 0..100_000 {
            let v = jittered(1_000, 10_000, next(&mut state));
            assert!((800..1_200).contains(&v), "{v}");
            low = low.min(v);
            high = high.max(v);
        }
        // The whole range is used, not one end of it.
        assert!(low < 810 && high > 1_190, "{low}..{high}");
        for _ in 0..1_000 {
            let v = jittered(1_000, 1_000, next(&mut state));
            assert!((800..=1_000).contains(&v), "{v}");
        }
        assert_eq!(jittered(u32::MAX, u32::MAX, 399), u32::MAX);
        assert_eq!(jittered(0, 100, 7), 0);
    }

    #[test]
    fn seeds_never_stick_at_zero_and_differ_with_the_clock() {
        for s in [0, 1, u64::MAX, 0x9e37_79b9, 0x9e37_79b9_0000_0000] {
            let mut state = seed(s);
            assert_ne!(state, 0);
            assert_ne!(next(&mut state), 0);
        }
        assert_ne!(seed(1), seed(2));
    }
}
