//! Building blocks of the generated proptest strategies (`tests/generated/mod.rs`) and the
//! round-trip check every protocol test runs.
//!
//! The messages borrow (`&str`, `&[u8]`, [`Array`] over slices), so the strategies leak the
//! little they allocate to obtain `'static` values; a test process is short-lived.
#![allow(dead_code)]

use embedded_kafka::protocol::{Array, ArrayItem};
use embedded_kafka::wire::Writer;
use embedded_kafka::wire::decode::{self, TaggedFields};
use proptest::prelude::*;
use std::cell::Cell;
use std::fmt::Debug;

/// Arbitrary UTF-8 strings (multi-byte characters included), short.
pub fn string() -> BoxedStrategy<&'static str> {
    prop_oneof![
        3 => "[a-z0-9._-]{0,12}",
        1 => "\\PC{0,6}",
    ]
    .prop_map(|s: String| &*s.leak())
    .boxed()
}

/// Arbitrary bytes, short.
pub fn bytes() -> BoxedStrategy<&'static [u8]> {
    proptest::collection::vec(any::<u8>(), 0..24)
        .prop_map(|v| &*v.leak())
        .boxed()
}

/// Arrays of 0 to 3 elements.
pub fn array<T>(element: BoxedStrategy<T>) -> BoxedStrategy<Array<'static, T>>
where
    T: ArrayItem<'static> + Debug + 'static,
{
    proptest::collection::vec(element, 0..4)
        .prop_map(|v| Array::new(v.leak()))
        .boxed()
}

/// `None` one time in four.
pub fn nullable<T: Debug + Clone + 'static>(s: BoxedStrategy<T>) -> BoxedStrategy<Option<T>> {
    proptest::option::weighted(0.75, s).boxed()
}

/// Always `Some`.
pub fn some<T: Debug + Clone + 'static>(s: BoxedStrategy<T>) -> BoxedStrategy<Option<T>> {
    s.prop_map(Some).boxed()
}

/// Raw tagged fields with tags from `first` up (those the struct does not know at this
/// version), usually none. `never_known` is the first tag that no version of the struct knows:
/// after [`avoid_tags_known_in_other_versions`], tags start there.
pub fn unknown_tags(first: u32, never_known: u32) -> BoxedStrategy<TaggedFields<'static>> {
    let first = if AVOID_TAGS_KNOWN_IN_OTHER_VERSIONS.get() {
        first.max(never_known)
    } else {
        first
    };
    raw_tags(first)
        .prop_map(|tagged| {
            let refs: Vec<(u32, &[u8])> = tagged.iter().map(|(t, d)| (*t, &d[..])).collect();
            let buf: &'static mut [u8] = vec![0u8; 4096].leak();
            let mut w = Writer::new(buf);
            w.put_tagged_fields(&refs).expect("fits");
            let n = w.position();
            let bytes: &'static [u8] = &w.into_written()[..n];
            decode::tagged_fields(bytes).expect("valid").1
        })
        .boxed()
}

/// Tags (ascending, from `first` up) and data of raw tagged fields, usually none: what
/// [`unknown_tags`] is made of, and kafka-protocol's unknown tags in the differential tests.
pub fn raw_tags(first: u32) -> BoxedStrategy<Vec<(u32, Vec<u8>)>> {
    let field = (1u32..300, proptest::collection::vec(any::<u8>(), 0..8));
    prop_oneof![
        3 => Just(Vec::new()),
        1 => proptest::collection::vec(field, 1..4).prop_map(move |fields| {
            let mut tag = first;
            let mut tagged = Vec::new();
            for (i, (step, data)) in fields.into_iter().enumerate() {
                tag += if i == 0 { step % 3 } else { step };
                tagged.push((tag, data));
            }
            tagged
        }),
    ]
    .boxed()
}

thread_local! {
    static AVOID_TAGS_KNOWN_IN_OTHER_VERSIONS: Cell<bool> = const { Cell::new(false) };
}

/// Makes the strategies built after it on this thread draw unknown tags only from the tags no
/// version of the struct knows. By default a struct's raw tags at a version may include a tag
/// that a later version knows (tag 0 of `PartitionProduceResponse` at v9, where only v10 knows
/// it): this crate keeps such a field raw, but Kafka's Java decoder and kafka-protocol refuse it
/// ("Tag 0 is not valid for version 9"), so the differential tests leave those out (and show
/// the difference in a test of its own).
pub fn avoid_tags_known_in_other_versions() {
    AVOID_TAGS_KNOWN_IN_OTHER_VERSIONS.set(true);
}

/// The checks every generated value goes through at `version`:
///
/// - `encoded_len` is exactly what `encode` writes, and a buffer one byte short is refused
///   with `BufferTooSmall` and nothing left behind;
/// - decoding the bytes gives the value back and consumes them all, and encoding the decoded
///   value (whose arrays are lazy views) gives the same bytes;
/// - every proper prefix is `Truncated` and one byte more is `TrailingBytes`, never a panic.
#[macro_export]
macro_rules! check_round_trip {
    ($ty:ident, $value:expr, $version:expr) => {{
        use embedded_kafka::protocol::{Decode, Encode};
        use embedded_kafka::wire::{DecodeError, EncodeError};
        let value = $value;
        let version: i16 = $version;
        let len = value.encoded_len(version);
        let mut buf = vec![0xa5u8; len];
        let n = value.encode_to_slice(&mut buf, version).expect("encodes");
        prop_assert_eq!(n, len, "encoded_len");
        if len > 0 {
            let mut small = vec![0u8; len - 1];
            let err = value.encode_to_slice(&mut small, version).expect_err("one byte short");
            prop_assert!(
                matches!(err, EncodeError::BufferTooSmall { available, .. } if available == len - 1),
                "{:?}",
                err
            );
        }
        let decoded = <$ty>::decode_exact(&buf, version).expect("decodes");
        prop_assert_eq!(&decoded, &value);
        prop_assert_eq!(decoded.encoded_len(version), len);
        let mut again = vec![0u8; len];
        decoded.encode_to_slice(&mut again, version).expect("re-encodes");
        prop_assert_eq!(&again, &buf, "re-encoding the decoded value");
        for cut in 0..len {
            match <$ty>::decode_exact(&buf[..cut], version) {
                Err(DecodeError::Truncated { .. } | DecodeError::TooManyEntries { .. }) => {}
                other => prop_assert!(false, "prefix {}/{}: {:?}", cut, len, other),
            }
        }
        let mut longer = buf.clone();
        longer.push(0);
        prop_assert_eq!(
            <$ty>::decode_exact(&longer, version),
            Err(DecodeError::TrailingBytes { what: "message", count: 1 })
        );
    }};
}
