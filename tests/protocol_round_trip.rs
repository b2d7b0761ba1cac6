//! Every generated message, every version in scope, both directions: random values valid at
//! the version (strategies generated from the specs, `tests/generated/`) go through
//! `check_round_trip!` (exact `encoded_len`, decode(encode(x)) == x, re-encoding the decoded
//! value gives the same bytes, every proper prefix is `Truncated`, a trailing byte is
//! `TrailingBytes`). Random bytes fed to every decoder at every version must never panic.

#[macro_use]
mod support;
mod generated;

use embedded_kafka::protocol::messages::*;
use embedded_kafka::protocol::{Decode, Encode, RequestHeader, ResponseHeader};
use embedded_kafka::wire::{DecodeError, EncodeError};
use proptest::prelude::*;

/// Cases per version: each test draws the version too, so a message with more versions gets
/// proportionally more cases.
const CASES_PER_VERSION: u32 = 96;

macro_rules! round_trip_tests {
    ($strategy:ident, $ty:ident, $lo:expr, $hi:expr) => {
        mod $strategy {
            use super::*;

            proptest! {
                #![proptest_config(ProptestConfig {
                    cases: CASES_PER_VERSION * ($hi - $lo + 1) as u32,
                    ..ProptestConfig::default()
                })]

                #[test]
                fn round_trip(
                    (version, value) in ($lo..=$hi as i16)
                        .prop_flat_map(|v| (Just(v), generated::$strategy(v)))
                ) {
                    check_round_trip!($ty, value, version);
                }

                /// Corrupted encodings: decoding never panics, and whatever decodes is a value
                /// valid at the version: it re-encodes, and that encoding decodes to it again.
                #[test]
                fn corrupted_bytes(
                    (version, value) in ($lo..=$hi as i16)
                        .prop_flat_map(|v| (Just(v), generated::$strategy(v))),
                    flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..), 1..4),
                ) {
                    let mut bytes = vec![0u8; value.encoded_len(version)];
                    value.encode_to_slice(&mut bytes, version).unwrap();
                    if bytes.is_empty() {
                        return Ok(());
                    }
                    for (at, x) in &flips {
                        let i = at.index(bytes.len());
                        bytes[i] ^= x;
                    }
                    if let Ok(decoded) = <$ty>::decode_exact(&bytes, version) {
                        let mut again = vec![0u8; decoded.encoded_len(version)];
                        let n = decoded.encode_to_slice(&mut again, version).expect("re-encodes");
                        prop_assert_eq!(n, again.len());
                        prop_assert_eq!(<$ty>::decode_exact(&again, version).unwrap(), decoded);
                    }
                }

                /// A value valid at one version, written at another: either a version-rule
                /// error (a field the target lacks, a null it cannot express, raw tagged fields
                /// where it has none or whose tags it knows) or bytes that decode at the target
                /// version.
                #[test]
                fn across_versions(
                    (from, value) in ($lo..=$hi as i16)
                        .prop_flat_map(|v| (Just(v), generated::$strategy(v))),
                    to in $lo..=$hi as i16,
                ) {
                    let _ = from;
                    let mut buf = vec![0u8; value.encoded_len(to)];
                    match value.encode_to_slice(&mut buf, to) {
                        Ok(n) => {
                            prop_assert_eq!(n, buf.len());
                            let decoded = <$ty>::decode_exact(&buf, to).expect("decodes");
                            if from == to {
                                prop_assert_eq!(decoded, value);
                            }
                        }
                        Err(EncodeError::FieldNotInVersion { version, .. })
                        | Err(EncodeError::UnexpectedNull { version, .. }) => {
                            prop_assert_eq!(version, to);
                        }
                        // Raw tagged fields kept at a version that did not know their tags.
                        Err(EncodeError::DuplicateTag { .. }) => prop_assert!(from < to),
                        Err(e) => prop_assert!(false, "{:?}", e),
                    }
                }

                #[test]
                fn random_bytes_never_panic(
                    version in ($lo - 1)..=($hi + 1) as i16,
                    bytes in proptest::collection::vec(any::<u8>(), 0..64),
                ) {
                    let _ = <$ty>::decode_exact(&bytes, version);
                }
            }

            #[test]
            fn versions_outside_scope_are_refused() {
                let value = <$ty>::default();
                let mut buf = [0u8; 256];
                for version in [$lo - 1, $hi + 1] {
                    assert!(matches!(
                        value.encode_to_slice(&mut buf, version),
                        Err(EncodeError::UnsupportedVersion { version: v, .. }) if v == version
                    ));
                    assert!(matches!(
                        <$ty>::decode_exact(&buf, version),
                        Err(DecodeError::UnsupportedVersion { version: v, .. }) if v == version
                    ));
                }
                // The default value encodes at every version in scope.
                for version in $lo..=$hi {
                    let n = value.encode_to_slice(&mut buf, version).expect("default encodes");
                    assert_eq!(n, value.encoded_len(version));
                    assert_eq!(<$ty>::decode_exact(&buf[..n], version), Ok(value));
                }
            }
        }
    };
}

for_each_message!(round_trip_tests);
