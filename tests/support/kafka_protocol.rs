//! What the differential tests need around the kafka-protocol crate: the building blocks of the
//! generated strategies for its types and of the generated `same_<struct>` comparisons
//! (`tests/generated/kafka_protocol.rs`), and its encoder and decoder behind plain functions.
//!
//! Include it next to `support` as `kp_support`:
//!
//! ```ignore
//! #[macro_use]
//! mod support;
//! #[path = "support/kafka_protocol.rs"]
//! mod kp_support;
//! #[path = "generated/kafka_protocol.rs"]
//! mod kp_generated;
//! ```
#![allow(dead_code)]

use super::support as s;
use bytes::{Buf, Bytes};
use embedded_kafka::protocol::{Array, ArrayItem};
use embedded_kafka::wire::decode::TaggedFields;
use kafka_protocol::messages::{BrokerId, ProducerId, TopicName, TransactionalId};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::collections::BTreeMap;
use std::fmt::Debug;

// ---------------------------------------------------------------------------------------------
// Strategies: the same shapes and sizes as ours (`support`), in kafka-protocol's types.

/// Strings as [`support::string`](s::string) draws them.
pub fn string() -> BoxedStrategy<StrBytes> {
    s::string().prop_map(StrBytes::from_static_str).boxed()
}

/// Bytes as [`support::bytes`](s::bytes) draws them.
pub fn bytes() -> BoxedStrategy<Bytes> {
    s::bytes().prop_map(Bytes::from_static).boxed()
}

/// Any uuid (kafka-protocol, like Kafka, does not care about the version bits).
pub fn uuid() -> BoxedStrategy<uuid::Uuid> {
    any::<[u8; 16]>().prop_map(uuid::Uuid::from_bytes).boxed()
}

/// Arrays of 0 to 3 elements.
pub fn array<T: Debug + 'static>(element: BoxedStrategy<T>) -> BoxedStrategy<Vec<T>> {
    proptest::collection::vec(element, 0..4).boxed()
}

/// `None` one time in four.
pub fn nullable<T: Debug + Clone + 'static>(s: BoxedStrategy<T>) -> BoxedStrategy<Option<T>> {
    proptest::option::weighted(0.75, s).boxed()
}

/// Always `Some`.
pub fn some<T: Debug + Clone + 'static>(s: BoxedStrategy<T>) -> BoxedStrategy<Option<T>> {
    s.prop_map(Some).boxed()
}

/// `Some` of a value of the field when the version has it, `None` (keep the default) when not.
pub fn when<T: Debug + Clone + 'static>(
    present: bool,
    s: BoxedStrategy<T>,
) -> BoxedStrategy<Option<T>> {
    if present {
        s.prop_map(Some).boxed()
    } else {
        Just(None).boxed()
    }
}

/// Unknown tagged fields with tags from `first` up, usually none (the generator passes the
/// first tag that no version of the struct knows).
pub fn unknown_tags(first: u32) -> BoxedStrategy<BTreeMap<i32, Bytes>> {
    s::raw_tags(first)
        .prop_map(|fields| {
            fields
                .into_iter()
                .map(|(tag, data)| (tag as i32, Bytes::from(data)))
                .collect()
        })
        .boxed()
}

// ---------------------------------------------------------------------------------------------
// Comparisons: each side's value in one plain form.

/// A value of either crate as a plain Rust value: strings as `String`, bytes as `Vec<u8>`,
/// uuids as `[u8; 16]`, kafka-protocol's newtypes as what they wrap, arrays as `Vec`.
pub trait Canon {
    /// The plain form.
    type C: PartialEq + Debug;
    /// This value in the plain form.
    fn canon(&self) -> Self::C;
}

macro_rules! canon_as_is {
    ($($t:ty),*) => {$(
        impl Canon for $t {
            type C = $t;
            fn canon(&self) -> $t {
                *self
            }
        }
    )*};
}

canon_as_is!(i8, i16, i32, i64, u16, u32, bool, [u8; 16]);

impl Canon for &str {
    type C = String;
    fn canon(&self) -> String {
        (*self).to_owned()
    }
}

impl Canon for &[u8] {
    type C = Vec<u8>;
    fn canon(&self) -> Vec<u8> {
        self.to_vec()
    }
}

impl Canon for StrBytes {
    type C = String;
    fn canon(&self) -> String {
        self.as_str().to_owned()
    }
}

impl Canon for TopicName {
    type C = String;
    fn canon(&self) -> String {
        self.0.canon()
    }
}

impl Canon for TransactionalId {
    type C = String;
    fn canon(&self) -> String {
        self.0.canon()
    }
}

impl Canon for BrokerId {
    type C = i32;
    fn canon(&self) -> i32 {
        self.0
    }
}

impl Canon for ProducerId {
    type C = i64;
    fn canon(&self) -> i64 {
        self.0
    }
}

impl Canon for Bytes {
    type C = Vec<u8>;
    fn canon(&self) -> Vec<u8> {
        self.to_vec()
    }
}

impl Canon for uuid::Uuid {
    type C = [u8; 16];
    fn canon(&self) -> [u8; 16] {
        *self.as_bytes()
    }
}

impl<T: Canon> Canon for Option<T> {
    type C = Option<T::C>;
    fn canon(&self) -> Option<T::C> {
        self.as_ref().map(Canon::canon)
    }
}

impl<T: Canon> Canon for Vec<T> {
    type C = Vec<T::C>;
    fn canon(&self) -> Vec<T::C> {
        self.iter().map(Canon::canon).collect()
    }
}

impl<'a, T: ArrayItem<'a> + Canon> Canon for Array<'a, T> {
    type C = Vec<T::C>;
    fn canon(&self) -> Vec<T::C> {
        self.iter().map(|item| item.canon()).collect()
    }
}

/// Our raw tagged fields, in wire order.
impl Canon for TaggedFields<'_> {
    type C = Vec<(u32, Vec<u8>)>;
    fn canon(&self) -> Self::C {
        self.iter()
            .map(|(tag, data)| (tag, data.to_vec()))
            .collect()
    }
}

/// kafka-protocol's unknown tagged fields, in tag order (which is how both crates write them).
impl Canon for BTreeMap<i32, Bytes> {
    type C = Vec<(u32, Vec<u8>)>;
    fn canon(&self) -> Self::C {
        self.iter()
            .map(|(&tag, data)| (tag as u32, data.to_vec()))
            .collect()
    }
}

fn differ(path: &str, field: &str, ours: &dyn Debug, theirs: &dyn Debug) -> TestCaseError {
    TestCaseError::fail(format!(
        "{path}.{field}: ours is {ours:?}, kafka-protocol's is {theirs:?}"
    ))
}

/// A field that is a plain value (or an array or option of plain values) holds the same on
/// both sides.
pub fn same<O: Canon, T: Canon<C = O::C>>(
    ours: &O,
    theirs: &T,
    path: &str,
    field: &str,
) -> Result<(), TestCaseError> {
    let (o, t) = (ours.canon(), theirs.canon());
    if o == t {
        Ok(())
    } else {
        Err(differ(path, field, &o, &t))
    }
}

/// The unknown tagged fields are the same, in the same order.
pub fn same_tags(
    ours: &TaggedFields<'_>,
    theirs: &BTreeMap<i32, Bytes>,
    path: &str,
) -> Result<(), TestCaseError> {
    same(ours, theirs, path, "unknown_tagged_fields")
}

/// An array of structs has as many elements on both sides, and `same` holds for each pair.
pub fn same_structs<'a, O: ArrayItem<'a>, T>(
    ours: &Array<'a, O>,
    theirs: &[T],
    path: &str,
    field: &str,
    same: impl Fn(O, &T, &str) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    if ours.len() != theirs.len() {
        return Err(differ(
            path,
            &format!("{field}.len()"),
            &ours.len(),
            &theirs.len(),
        ));
    }
    for (i, (o, t)) in ours.iter().zip(theirs).enumerate() {
        same(o, t, &format!("{path}.{field}[{i}]"))?;
    }
    Ok(())
}

/// A nullable array of structs is null on both sides, or [`same_structs`].
pub fn same_nullable_structs<'a, O: ArrayItem<'a>, T>(
    ours: &Option<Array<'a, O>>,
    theirs: &Option<Vec<T>>,
    path: &str,
    field: &str,
    same: impl Fn(O, &T, &str) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    match (ours, theirs) {
        (None, None) => Ok(()),
        (Some(o), Some(t)) => same_structs(o, t, path, field, same),
        (o, t) => Err(differ(
            path,
            field,
            &o.map(|_| "[..]"),
            &t.as_ref().map(|_| "[..]"),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// kafka-protocol's codec, errors as strings.

/// kafka-protocol's encoding of `value` at `version`.
pub fn encode<T: Encodable>(value: &T, version: i16) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    value
        .encode(&mut out, version)
        .map_err(|e| format!("kafka-protocol cannot encode v{version}: {e:#}"))?;
    Ok(out)
}

/// kafka-protocol's `compute_size`.
pub fn size<T: Encodable>(value: &T, version: i16) -> Result<usize, String> {
    value
        .compute_size(version)
        .map_err(|e| format!("kafka-protocol cannot size v{version}: {e:#}"))
}

/// kafka-protocol's decoding of all of `bytes` at `version` (leftover bytes are an error, as
/// in our `decode_exact`).
pub fn decode<T: Decodable>(bytes: &[u8], version: i16) -> Result<T, String> {
    let mut buf = Bytes::copy_from_slice(bytes);
    let value = T::decode(&mut buf, version)
        .map_err(|e| format!("kafka-protocol cannot decode v{version}: {e:#}"))?;
    if buf.has_remaining() {
        return Err(format!(
            "kafka-protocol left {} of {} bytes undecoded at v{version}",
            buf.remaining(),
            bytes.len()
        ));
    }
    Ok(value)
}
