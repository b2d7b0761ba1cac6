//! What the generated messages are made of: the [`Encode`] and [`Decode`] traits, the lazy
//! [`Array`], the [`Request`] and [`Response`] traits that frame a message with its header, and
//! the helpers the generated code calls.
//!
//! Every message is a borrowing repr: strings are `&str`, bytes `&[u8]`, nullable fields
//! `Option`, arrays [`Array`]. An encoder builds one from slices; a decoder returns one whose
//! strings, bytes and arrays point into the receive buffer. Nothing is copied or collected,
//! so a Metadata response listing ten thousand partitions decodes in a few hundred bytes of
//! stack.

use super::api::{ApiKey, VersionRange};
use super::header::{RequestHeader, ResponseHeader};
use crate::wire::decode::{self, TaggedFieldIter, TaggedFields, within};
use crate::wire::{DecodeError, EncodeError, Writer, varint};
use core::fmt;
use core::iter::{FusedIterator, Peekable};

/// A value that can be written at a given version of its message.
pub trait Encode {
    /// Exactly how many bytes [`encode`](Self::encode) writes for `version` (meaningful only
    /// for a version and value that `encode` accepts).
    fn encoded_len(&self, version: i16) -> usize;

    /// Writes the value as `version` lays it out. On error nothing is left in `w` past the
    /// position it had.
    fn encode(&self, w: &mut Writer<'_>, version: i16) -> Result<(), EncodeError>;

    /// Writes the value at the start of `out` and returns how many bytes it took.
    fn encode_to_slice(&self, out: &mut [u8], version: i16) -> Result<usize, EncodeError> {
        let mut w = Writer::new(out);
        self.encode(&mut w, version)?;
        Ok(w.position())
    }
}

/// A value that can be read, borrowing from the input, at a given version of its message.
pub trait Decode<'a>: Sized {
    /// Reads the value from the start of `input` and returns the bytes after it. Input that
    /// ends inside the value is [`DecodeError::Truncated`].
    fn decode(input: &'a [u8], version: i16) -> Result<(&'a [u8], Self), DecodeError>;

    /// Reads a value that must take all of `input` (a message body whose size the frame gave):
    /// leftover bytes are [`DecodeError::TrailingBytes`].
    fn decode_exact(input: &'a [u8], version: i16) -> Result<Self, DecodeError> {
        let (rest, value) = Self::decode(input, version)?;
        if rest.is_empty() {
            Ok(value)
        } else {
            Err(DecodeError::TrailingBytes {
                what: "message",
                count: rest.len(),
            })
        }
    }
}

/// The request header version a request of `api` at `version` uses: 2 for flexible versions,
/// else 1. (Kafka's header v0, without a client id, is used only by ControlledShutdown v0,
/// which this crate does not speak.)
pub const fn request_header_version(api: ApiKey, version: i16) -> i16 {
    match api.flexible_from() {
        Some(f) if version >= f => 2,
        _ => 1,
    }
}

/// The response header version a response of `api` at `version` uses: 1 for flexible
/// versions, else 0 — except ApiVersions, whose response header is always v0 (a client that
/// does not know the broker's versions yet must still be able to read it).
pub const fn response_header_version(api: ApiKey, version: i16) -> i16 {
    match (api, api.flexible_from()) {
        (ApiKey::ApiVersions, _) => 0,
        (_, Some(f)) if version >= f => 1,
        _ => 0,
    }
}

/// A request message: it knows its API key and the type of the response to it, and frames
/// itself (size, header, body) for the wire.
///
/// ```
/// use embedded_kafka::protocol::{
///     Array, MetadataRequest, MetadataRequestTopic, Request, RequestHeader,
/// };
///
/// let topics = [MetadataRequestTopic { name: Some("sensors"), ..Default::default() }];
/// let request = MetadataRequest { topics: Some(Array::from(&topics)), ..Default::default() };
/// let mut frame = [0u8; 64];
/// let n = request.encode_request(&RequestHeader::new(7, Some("node-1")), &mut frame, 12)?;
/// // size, then header v2: api key 3, version 12, correlation id 7, client id, no tags.
/// assert_eq!(&frame[..4], &((n - 4) as i32).to_be_bytes());
/// assert_eq!(&frame[4..12], b"\x00\x03\x00\x0c\x00\x00\x00\x07");
/// # Ok::<(), embedded_kafka::wire::EncodeError>(())
/// ```
pub trait Request: Encode {
    /// The API this request belongs to.
    const API_KEY: ApiKey;

    /// The response a broker sends back.
    type Response<'b>: crate::protocol::codec::Response<'b>;

    /// The versions this crate implements for the API.
    fn versions() -> VersionRange {
        supported(Self::API_KEY)
    }

    /// The request header version used with `version` of this request.
    fn request_header_version(version: i16) -> i16 {
        request_header_version(Self::API_KEY, version)
    }

    /// The response header version used with `version` of the response.
    fn response_header_version(version: i16) -> i16 {
        response_header_version(Self::API_KEY, version)
    }

    /// Writes the whole frame — 4-byte size, request header, body — at the start of `out` and
    /// returns its length. The header's API key and version are taken from `Self` and
    /// `version`, whatever `header` holds; its correlation id, client id and tagged fields
    /// are used as given.
    ///
    /// Nothing is written unless everything fits: a short buffer is
    /// [`EncodeError::BufferTooSmall`] with the frame's full size as `needed`.
    fn encode_request(
        &self,
        header: &RequestHeader<'_>,
        out: &mut [u8],
        version: i16,
    ) -> Result<usize, EncodeError> {
        check_encode_version(Self::API_KEY, version)?;
        let header = RequestHeader {
            request_api_key: Self::API_KEY.key(),
            request_api_version: version,
            ..*header
        };
        encode_frame(
            out,
            &header,
            Self::request_header_version(version),
            self,
            version,
        )
    }

    /// Reads a request frame as a broker would: `frame` is everything after the 4-byte size.
    /// The header must name this API and a supported version; the body must fill the rest.
    fn decode_request<'b>(frame: &'b [u8]) -> Result<(RequestHeader<'b>, Self), DecodeError>
    where
        Self: Decode<'b>,
    {
        let (body, header) = decode_request_header(frame)?;
        if header.request_api_key != Self::API_KEY.key() {
            return Err(DecodeError::InvalidValue {
                what: "request api key",
                found: header.request_api_key.into(),
            });
        }
        let body = Self::decode_exact(body, header.request_api_version)?;
        Ok((header, body))
    }

    /// Reads the response to a request sent at `version`: `frame` is everything after the
    /// 4-byte size (response header, then body).
    fn decode_response<'b>(
        frame: &'b [u8],
        version: i16,
    ) -> Result<(ResponseHeader<'b>, Self::Response<'b>), DecodeError> {
        decode_response_frame::<Self::Response<'b>>(frame, version)
    }
}

/// A response message: it frames itself (size, header, body) as a broker would send it.
pub trait Response<'a>: Encode + Decode<'a> {
    /// The API this response belongs to.
    const API_KEY: ApiKey;

    /// The response header version used with `version` of this response.
    fn response_header_version(version: i16) -> i16 {
        response_header_version(Self::API_KEY, version)
    }

    /// Writes the whole frame — 4-byte size, response header, body — at the start of `out` and
    /// returns its length; a short buffer is [`EncodeError::BufferTooSmall`] with the full size.
    fn encode_response(
        &self,
        header: &ResponseHeader<'_>,
        out: &mut [u8],
        version: i16,
    ) -> Result<usize, EncodeError> {
        check_encode_version(Self::API_KEY, version)?;
        encode_frame(
            out,
            header,
            Self::response_header_version(version),
            self,
            version,
        )
    }

    /// Reads a response frame: `frame` is everything after the 4-byte size.
    fn decode_response(
        frame: &'a [u8],
        version: i16,
    ) -> Result<(ResponseHeader<'a>, Self), DecodeError> {
        decode_response_frame::<Self>(frame, version)
    }
}

fn decode_response_frame<'b, R: Response<'b>>(
    frame: &'b [u8],
    version: i16,
) -> Result<(ResponseHeader<'b>, R), DecodeError> {
    check_decode_version(R::API_KEY, version)?;
    let (body, header) = ResponseHeader::decode(frame, R::response_header_version(version))?;
    let body = R::decode_exact(body, version)?;
    Ok((header, body))
}

/// Reads the request header at the start of a request frame (everything after the 4-byte
/// size), choosing the header version from the API key and version it starts with, and
/// returns the body after it. This is where a broker or proxy starts dispatching.
pub fn decode_request_header(frame: &[u8]) -> Result<(&[u8], RequestHeader<'_>), DecodeError> {
    let (rest, api) = within("request header", decode::i16(frame))?;
    let (_, version) = within("request header", decode::i16(rest))?;
    let api = ApiKey::from_key(api);
    check_decode_version(api, version)?;
    RequestHeader::decode(frame, request_header_version(api, version))
}

fn supported(api: ApiKey) -> VersionRange {
    match api.supported() {
        Some(range) => range,
        None => VersionRange::new(0, -1),
    }
}

fn check_encode_version(api: ApiKey, version: i16) -> Result<(), EncodeError> {
    if supported(api).contains(version) {
        Ok(())
    } else {
        Err(EncodeError::UnsupportedVersion {
            api: api.key(),
            version,
        })
    }
}

fn check_decode_version(api: ApiKey, version: i16) -> Result<(), DecodeError> {
    if supported(api).contains(version) {
        Ok(())
    } else {
        Err(DecodeError::UnsupportedVersion {
            api: api.key(),
            version,
        })
    }
}

/// Writes size + header + body, checking first that it all fits.
fn encode_frame<H: Encode + ?Sized, B: Encode + ?Sized>(
    out: &mut [u8],
    header: &H,
    header_version: i16,
    body: &B,
    version: i16,
) -> Result<usize, EncodeError> {
    let size = header
        .encoded_len(header_version)
        .saturating_add(body.encoded_len(version));
    if size > i32::MAX as usize {
        return Err(EncodeError::TooLong {
            what: "frame",
            len: size,
            max: i32::MAX as usize,
        });
    }
    let total = size + 4;
    if out.len() < total {
        return Err(EncodeError::BufferTooSmall {
            needed: total,
            available: out.len(),
        });
    }
    let mut w = Writer::new(out);
    let gap = w.reserve::<4>()?;
    header.encode(&mut w, header_version)?;
    body.encode(&mut w, version)?;
    let written = w.position() - gap.end();
    w.patch_i32(gap, written as i32)?;
    Ok(w.position())
}

impl<'a> RequestHeader<'a> {
    /// A header with a correlation id and client id; the API key and version are filled in
    /// by [`Request::encode_request`].
    pub const fn new(correlation_id: i32, client_id: Option<&'a str>) -> Self {
        Self {
            request_api_key: 0,
            request_api_version: 0,
            correlation_id,
            client_id,
            unknown_tagged_fields: TaggedFields::EMPTY,
        }
    }
}

impl ResponseHeader<'_> {
    /// A header with a correlation id.
    pub const fn new(correlation_id: i32) -> Self {
        Self {
            correlation_id,
            unknown_tagged_fields: TaggedFields::EMPTY,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Arrays

/// An element type of an [`Array`]: the generated structs, and Kafka's primitive element types
/// (`i8`…`i64`, `u16`, `u32`, `bool`, a uuid as `[u8; 16]`, `&str`, `&[u8]`).
///
/// Primitive elements are laid out differently in flexible versions (compact strings), so the
/// methods take that as a flag; a struct knows it from the version.
pub trait ArrayItem<'a>: Sized + Copy {
    /// The size of every element, when they all have the same one (fixed-width integers).
    const FIXED_LEN: Option<usize> = None;

    /// Encoded size of this element.
    fn item_len(&self, version: i16, flexible: bool) -> usize;

    /// Writes this element.
    fn encode_item(
        &self,
        w: &mut Writer<'_>,
        version: i16,
        flexible: bool,
    ) -> Result<(), EncodeError>;

    /// Reads one element.
    fn decode_item(
        input: &'a [u8],
        version: i16,
        flexible: bool,
    ) -> Result<(&'a [u8], Self), DecodeError>;

    /// Checks one element as [`decode_item`](Self::decode_item) would and returns the input
    /// after it: what validating a decoded array walks. A struct does it without building
    /// the element (its generated `skip_fast`), so that iterating the array later is the only
    /// time its elements are built.
    #[inline]
    fn skip_item(input: &'a [u8], version: i16, flexible: bool) -> Result<&'a [u8], DecodeError> {
        Self::decode_item(input, version, flexible).map(|(rest, _)| rest)
    }
}

macro_rules! fixed_items {
    ($($ty:ty, $len:expr, $put:ident, $get:path;)*) => {$(
        impl<'a> ArrayItem<'a> for $ty {
            const FIXED_LEN: Option<usize> = Some($len);
            #[inline]
            fn item_len(&self, _version: i16, _flexible: bool) -> usize {
                $len
            }
            #[inline]
            fn encode_item(
                &self,
                w: &mut Writer<'_>,
                _version: i16,
                _flexible: bool,
            ) -> Result<(), EncodeError> {
                w.$put(*self)
            }
            #[inline]
            fn decode_item(
                input: &'a [u8],
                _version: i16,
                _flexible: bool,
            ) -> Result<(&'a [u8], Self), DecodeError> {
                within("array element", $get(input))
            }
        }
    )*};
}

fixed_items! {
    i8, 1, put_i8, decode::i8;
    i16, 2, put_i16, decode::i16;
    i32, 4, put_i32, decode::i32;
    i64, 8, put_i64, decode::i64;
    u16, 2, put_u16, decode::u16;
    u32, 4, put_u32, decode::u32;
    bool, 1, put_bool, decode::bool;
}

impl<'a> ArrayItem<'a> for [u8; 16] {
    const FIXED_LEN: Option<usize> = Some(16);
    #[inline]
    fn item_len(&self, _version: i16, _flexible: bool) -> usize {
        16
    }
    #[inline]
    fn encode_item(
        &self,
        w: &mut Writer<'_>,
        _version: i16,
        _flexible: bool,
    ) -> Result<(), EncodeError> {
        w.put_uuid(self)
    }
    #[inline]
    fn decode_item(
        input: &'a [u8],
        _version: i16,
        _flexible: bool,
    ) -> Result<(&'a [u8], Self), DecodeError> {
        within("array element", decode::uuid(input))
    }
}

impl<'a> ArrayItem<'a> for &'a str {
    fn item_len(&self, _version: i16, flexible: bool) -> usize {
        string_len(self, flexible)
    }
    fn encode_item(
        &self,
        w: &mut Writer<'_>,
        _version: i16,
        flexible: bool,
    ) -> Result<(), EncodeError> {
        put_string(w, self, flexible)
    }
    fn decode_item(
        input: &'a [u8],
        _version: i16,
        flexible: bool,
    ) -> Result<(&'a [u8], Self), DecodeError> {
        string(input, flexible, "array element")
    }
}

impl<'a> ArrayItem<'a> for &'a [u8] {
    fn item_len(&self, _version: i16, flexible: bool) -> usize {
        bytes_len(self, flexible)
    }
    fn encode_item(
        &self,
        w: &mut Writer<'_>,
        _version: i16,
        flexible: bool,
    ) -> Result<(), EncodeError> {
        put_bytes(w, self, flexible)
    }
    fn decode_item(
        input: &'a [u8],
        _version: i16,
        flexible: bool,
    ) -> Result<(&'a [u8], Self), DecodeError> {
        bytes(input, flexible, "array element")
    }
}

/// Implements [`ArrayItem`] for a generated struct by way of its [`Encode`] and [`Decode`].
macro_rules! struct_array_item {
    ($($ty:ident),* $(,)?) => {$(
        impl<'a> $crate::protocol::codec::ArrayItem<'a> for $ty<'a> {
            #[inline]
            fn item_len(&self, version: i16, _flexible: bool) -> usize {
                $crate::protocol::codec::Encode::encoded_len(self, version)
            }
            #[inline]
            fn encode_item(
                &self,
                w: &mut $crate::wire::Writer<'_>,
                version: i16,
                _flexible: bool,
            ) -> Result<(), $crate::wire::EncodeError> {
                $crate::protocol::codec::Encode::encode(self, w, version)
            }
            #[inline]
            fn decode_item(
                input: &'a [u8],
                version: i16,
                _flexible: bool,
            ) -> Result<(&'a [u8], Self), $crate::wire::DecodeError> {
                <Self as $crate::protocol::codec::Decode<'a>>::decode(input, version)
            }
            #[inline]
            fn skip_item(
                input: &'a [u8],
                version: i16,
                _flexible: bool,
            ) -> Result<&'a [u8], $crate::wire::DecodeError> {
                match Self::skip_fast(input, version) {
                    Some(rest) => Ok(rest),
                    // An error (named as `decode` names it) or what the fast walk leaves to
                    // `decode`.
                    None => <Self as $crate::protocol::codec::Decode<'a>>::decode(input, version)
                        .map(|(rest, _)| rest),
                }
            }
        }
    )*};
}
pub(crate) use struct_array_item;

/// A Kafka array: either a slice the caller lent (what an encoder builds) or a view of the
/// elements still in wire format (what a decoder returns), decoded one by one as they are
/// iterated.
///
/// A decoder checks every element when it decodes the enclosing message, so iterating a
/// decoded array cannot fail: the iterator yields `T`, not `Result`. Nothing is collected,
/// so an array of any length costs a few words. Two arrays are equal when their elements are,
/// whichever form each is in: a decoded value equals the value it was encoded from.
///
/// ```
/// use embedded_kafka::protocol::Array;
///
/// let ids = [1, 2, 3];
/// let a: Array<'_, i32> = Array::from(&ids);
/// assert_eq!(a.len(), 3);
/// assert_eq!(a.iter().sum::<i32>(), 6);
/// assert_eq!(a, Array::from(&[1, 2, 3][..]));
/// ```
pub struct Array<'a, T> {
    repr: Repr<'a, T>,
}

enum Repr<'a, T> {
    Slice(&'a [T]),
    Wire(WireArray<'a>),
}

#[derive(Clone, Copy)]
struct WireArray<'a> {
    len: usize,
    /// The encoded elements, without the count prefix.
    bytes: &'a [u8],
    version: i16,
    flexible: bool,
}

impl<T> Clone for Repr<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Repr<'_, T> {}

impl<T> Clone for Array<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Array<'_, T> {}

impl<'a, T> Array<'a, T> {
    /// The empty array.
    pub const EMPTY: Self = Self::new(&[]);

    /// An array over a slice.
    pub const fn new(items: &'a [T]) -> Self {
        Self {
            repr: Repr::Slice(items),
        }
    }

    /// Number of elements.
    pub const fn len(&self) -> usize {
        match self.repr {
            Repr::Slice(s) => s.len(),
            Repr::Wire(w) => w.len,
        }
    }

    /// Whether there are no elements.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements as a slice, if this array was built from one.
    pub const fn as_slice(&self) -> Option<&'a [T]> {
        match self.repr {
            Repr::Slice(s) => Some(s),
            Repr::Wire(_) => None,
        }
    }

    /// The encoded elements (without the count prefix), if this array was decoded, and the
    /// version they were decoded at: what a proxy forwarding them unchanged needs.
    pub const fn wire_bytes(&self) -> Option<(&'a [u8], i16)> {
        match self.repr {
            Repr::Slice(_) => None,
            Repr::Wire(w) => Some((w.bytes, w.version)),
        }
    }
}

impl<'a, T: ArrayItem<'a>> Array<'a, T> {
    /// Iterates over the elements.
    pub fn iter(&self) -> ArrayIter<'a, T> {
        ArrayIter {
            repr: match self.repr {
                Repr::Slice(s) => IterRepr::Slice(s.iter()),
                Repr::Wire(w) => IterRepr::Wire(w),
            },
        }
    }

    /// The element at `index`, if there is one. Decoded arrays are walked from the start.
    pub fn get(&self, index: usize) -> Option<T> {
        match self.repr {
            Repr::Slice(s) => s.get(index).copied(),
            Repr::Wire(_) => self.iter().nth(index),
        }
    }

    /// Encoded size at `version`: count prefix and elements.
    fn wire_len(&self, version: i16, flexible: bool) -> usize {
        let prefix = count_len(self.len(), flexible);
        let items = match T::FIXED_LEN {
            Some(n) => n.saturating_mul(self.len()),
            None => self.iter().fold(0usize, |n, item| {
                n.saturating_add(item.item_len(version, flexible))
            }),
        };
        prefix.saturating_add(items)
    }

    fn put(&self, w: &mut Writer<'_>, version: i16, flexible: bool) -> Result<(), EncodeError> {
        if flexible {
            w.put_compact_array_len(self.len())?;
        } else {
            w.put_array_len(self.len())?;
        }
        for item in self.iter() {
            item.encode_item(w, version, flexible)?;
        }
        Ok(())
    }
}

/// An array element with a key, the field the spec marks `mapKey` (a broker's node id, a
/// topic's name, an API's key): what [`Array::find`] looks elements up by.
pub trait Keyed<'a> {
    /// The key's type.
    type Key: PartialEq + Copy;
    /// The key of this element.
    fn key(&self) -> Self::Key;
}

impl<'a, T: ArrayItem<'a> + Keyed<'a>> Array<'a, T> {
    /// The first element whose key (the spec's `mapKey` field) is `key`. A linear walk: these
    /// arrays are short, or walked once anyway. (A string key must be borrowed for as long as
    /// the array's data, as a literal is; otherwise compare in `iter().find(…)`.)
    ///
    /// ```
    /// use embedded_kafka::protocol::{Array, MetadataResponseBroker};
    ///
    /// let brokers = [
    ///     MetadataResponseBroker { node_id: 1, host: "b1", port: 9092, ..Default::default() },
    ///     MetadataResponseBroker { node_id: 2, host: "b2", port: 9093, ..Default::default() },
    /// ];
    /// let brokers = Array::from(&brokers);
    /// assert_eq!(brokers.find(2).map(|b| (b.host, b.port)), Some(("b2", 9093)));
    /// assert!(brokers.find(3).is_none());
    /// ```
    pub fn find(&self, key: T::Key) -> Option<T> {
        self.iter().find(|item| item.key() == key)
    }
}

impl<T> Array<'_, T> {
    /// What [`array`] decodes from an empty array on the wire: a wire view of no elements.
    #[inline]
    fn wire_empty(version: i16, flexible: bool) -> Self {
        Array {
            repr: Repr::Wire(WireArray {
                len: 0,
                bytes: &[],
                version,
                flexible,
            }),
        }
    }
}

impl<T> Default for Array<'_, T> {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl<'a, T> From<&'a [T]> for Array<'a, T> {
    fn from(items: &'a [T]) -> Self {
        Self::new(items)
    }
}

impl<'a, T, const N: usize> From<&'a [T; N]> for Array<'a, T> {
    fn from(items: &'a [T; N]) -> Self {
        Self::new(items)
    }
}

impl<'a, T: ArrayItem<'a> + PartialEq> PartialEq for Array<'a, T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<'a, T: ArrayItem<'a> + Eq> Eq for Array<'a, T> {}

impl<'a, T: ArrayItem<'a> + fmt::Debug> fmt::Debug for Array<'a, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(feature = "defmt")]
impl<'a, T: ArrayItem<'a> + defmt::Format> defmt::Format for Array<'a, T> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "[");
        for (i, item) in self.iter().enumerate() {
            if i > 0 {
                defmt::write!(f, ", ");
            }
            defmt::write!(f, "{}", item);
        }
        defmt::write!(f, "]");
    }
}

impl<'a, T: ArrayItem<'a>> IntoIterator for Array<'a, T> {
    type Item = T;
    type IntoIter = ArrayIter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, T: ArrayItem<'a>> IntoIterator for &Array<'a, T> {
    type Item = T;
    type IntoIter = ArrayIter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over an [`Array`]'s elements, by value.
#[derive(Clone)]
pub struct ArrayIter<'a, T> {
    repr: IterRepr<'a, T>,
}

#[derive(Clone)]
enum IterRepr<'a, T> {
    Slice(core::slice::Iter<'a, T>),
    Wire(WireArray<'a>),
}

impl<'a, T: ArrayItem<'a>> Iterator for ArrayIter<'a, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        match &mut self.repr {
            IterRepr::Slice(it) => it.next().copied(),
            IterRepr::Wire(w) => {
                w.len = w.len.checked_sub(1)?;
                match T::decode_item(w.bytes, w.version, w.flexible) {
                    Ok((rest, item)) => {
                        w.bytes = rest;
                        Some(item)
                    }
                    // The array was validated when it was decoded, so this does not happen;
                    // if it somehow did, the iteration ends.
                    Err(_) => {
                        w.len = 0;
                        None
                    }
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = match &self.repr {
            IterRepr::Slice(it) => it.len(),
            IterRepr::Wire(w) => w.len,
        };
        (n, Some(n))
    }
}

impl<'a, T: ArrayItem<'a>> ExactSizeIterator for ArrayIter<'a, T> {}
impl<'a, T: ArrayItem<'a>> FusedIterator for ArrayIter<'a, T> {}

impl<T> fmt::Debug for ArrayIter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = match &self.repr {
            IterRepr::Slice(it) => it.len(),
            IterRepr::Wire(w) => w.len,
        };
        f.debug_struct("ArrayIter").field("remaining", &n).finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers for the generated code. Decoders run inside a body whose size the frame fixed, so
// running out of input is `Truncated`, named after the field.

pub(crate) type Decoded<'a, T> = Result<(&'a [u8], T), DecodeError>;

#[inline]
fn count_len(len: usize, flexible: bool) -> usize {
    if flexible {
        varint::uvarint_len((len as u32).saturating_add(1))
    } else {
        4
    }
}

#[inline]
fn var_len(len: usize, flexible: bool, classic_prefix: usize) -> usize {
    if flexible {
        varint::uvarint_len((len as u32).saturating_add(1)) + len
    } else {
        classic_prefix + len
    }
}

/// Encoded size of a string.
#[inline]
pub(crate) fn string_len(s: &str, flexible: bool) -> usize {
    var_len(s.len(), flexible, 2)
}

/// Encoded size of a nullable string.
#[inline]
pub(crate) fn nullable_string_len(s: Option<&str>, flexible: bool) -> usize {
    match s {
        Some(s) => string_len(s, flexible),
        None if flexible => 1,
        None => 2,
    }
}

/// Encoded size of bytes.
#[inline]
pub(crate) fn bytes_len(b: &[u8], flexible: bool) -> usize {
    var_len(b.len(), flexible, 4)
}

/// Encoded size of nullable bytes (and of `records`).
#[inline]
pub(crate) fn nullable_bytes_len(b: Option<&[u8]>, flexible: bool) -> usize {
    match b {
        Some(b) => bytes_len(b, flexible),
        None if flexible => 1,
        None => 4,
    }
}

/// Encoded size of an array.
#[inline]
pub(crate) fn array_len<'a, T: ArrayItem<'a>>(
    a: &Array<'a, T>,
    version: i16,
    flexible: bool,
) -> usize {
    a.wire_len(version, flexible)
}

/// Encoded size of a nullable array.
#[inline]
pub(crate) fn nullable_array_len<'a, T: ArrayItem<'a>>(
    a: &Option<Array<'a, T>>,
    version: i16,
    flexible: bool,
) -> usize {
    match a {
        Some(a) => a.wire_len(version, flexible),
        None => count_len(0, flexible),
    }
}

#[inline]
pub(crate) fn put_string(w: &mut Writer<'_>, s: &str, flexible: bool) -> Result<(), EncodeError> {
    if flexible {
        w.put_compact_string(s)
    } else {
        w.put_string(s)
    }
}

/// Writes a nullable string; `nullable` says whether this version can express null.
#[inline]
pub(crate) fn put_nullable_string(
    w: &mut Writer<'_>,
    s: Option<&str>,
    flexible: bool,
    nullable: bool,
    field: &'static str,
    version: i16,
) -> Result<(), EncodeError> {
    match (s, flexible) {
        (Some(s), _) => put_string(w, s, flexible),
        (None, _) if !nullable => Err(EncodeError::UnexpectedNull { field, version }),
        (None, true) => w.put_compact_nullable_string(None),
        (None, false) => w.put_nullable_string(None),
    }
}

#[inline]
pub(crate) fn put_bytes(w: &mut Writer<'_>, b: &[u8], flexible: bool) -> Result<(), EncodeError> {
    if flexible {
        w.put_compact_bytes(b)
    } else {
        w.put_bytes(b)
    }
}

/// Writes nullable bytes (or `records`); `nullable` says whether this version can express null.
#[inline]
pub(crate) fn put_nullable_bytes(
    w: &mut Writer<'_>,
    b: Option<&[u8]>,
    flexible: bool,
    nullable: bool,
    field: &'static str,
    version: i16,
) -> Result<(), EncodeError> {
    match (b, flexible) {
        (Some(b), _) => put_bytes(w, b, flexible),
        (None, _) if !nullable => Err(EncodeError::UnexpectedNull { field, version }),
        (None, true) => w.put_compact_nullable_bytes(None),
        (None, false) => w.put_nullable_bytes(None),
    }
}

#[inline]
pub(crate) fn put_array<'a, T: ArrayItem<'a>>(
    w: &mut Writer<'_>,
    a: &Array<'a, T>,
    version: i16,
    flexible: bool,
) -> Result<(), EncodeError> {
    a.put(w, version, flexible)
}

/// Writes a nullable array; `nullable` says whether this version can express null.
#[inline]
pub(crate) fn put_nullable_array<'a, T: ArrayItem<'a>>(
    w: &mut Writer<'_>,
    a: &Option<Array<'a, T>>,
    version: i16,
    flexible: bool,
    nullable: bool,
    field: &'static str,
) -> Result<(), EncodeError> {
    match (a, flexible) {
        (Some(a), _) => a.put(w, version, flexible),
        (None, _) if !nullable => Err(EncodeError::UnexpectedNull { field, version }),
        (None, true) => w.put_compact_nullable_array_len(None),
        (None, false) => w.put_nullable_array_len(None),
    }
}

#[inline]
pub(crate) fn string<'a>(
    input: &'a [u8],
    flexible: bool,
    what: &'static str,
) -> Decoded<'a, &'a str> {
    within(
        what,
        if flexible {
            decode::compact_string(input)
        } else {
            decode::string(input)
        },
    )
}

#[inline]
pub(crate) fn nullable_string<'a>(
    input: &'a [u8],
    flexible: bool,
    what: &'static str,
) -> Decoded<'a, Option<&'a str>> {
    // A null compact string (an error message with no error): one zero byte.
    if flexible && let Some((&0, rest)) = input.split_first() {
        return Ok((rest, None));
    }
    within(
        what,
        if flexible {
            decode::compact_nullable_string(input)
        } else {
            decode::nullable_string(input)
        },
    )
}

#[inline]
pub(crate) fn bytes<'a>(
    input: &'a [u8],
    flexible: bool,
    what: &'static str,
) -> Decoded<'a, &'a [u8]> {
    within(
        what,
        if flexible {
            decode::compact_bytes(input)
        } else {
            decode::bytes(input)
        },
    )
}

#[inline]
pub(crate) fn nullable_bytes<'a>(
    input: &'a [u8],
    flexible: bool,
    what: &'static str,
) -> Decoded<'a, Option<&'a [u8]>> {
    within(
        what,
        if flexible {
            decode::compact_nullable_bytes(input)
        } else {
            decode::nullable_bytes(input)
        },
    )
}

/// Reads an array and walks it once, decoding every element, so that iterating it later
/// cannot fail.
#[inline]
pub(crate) fn array<'a, T: ArrayItem<'a>>(
    input: &'a [u8],
    version: i16,
    flexible: bool,
    what: &'static str,
) -> Decoded<'a, Array<'a, T>> {
    // The common case in responses (no record errors, no node endpoints): an empty compact
    // array, one byte. Answered inline, so the caller does not round-trip a large `Result`
    // through memory for it (a store-forwarding stall that cost Produce v9 decoding more than
    // half its time: BENCHMARKS.md).
    if flexible && let Some((&1, rest)) = input.split_first() {
        return Ok((rest, Array::wire_empty(version, flexible)));
    }
    array_any(input, version, flexible, what)
}

fn array_any<'a, T: ArrayItem<'a>>(
    input: &'a [u8],
    version: i16,
    flexible: bool,
    what: &'static str,
) -> Decoded<'a, Array<'a, T>> {
    let (rest, len) = within(
        what,
        if flexible {
            decode::compact_array_len(input)
        } else {
            decode::array_len(input)
        },
    )?;
    elements(rest, len, version, flexible, what)
}

/// Reads a nullable array (null is `None`) and walks it once.
pub(crate) fn nullable_array<'a, T: ArrayItem<'a>>(
    input: &'a [u8],
    version: i16,
    flexible: bool,
    what: &'static str,
) -> Decoded<'a, Option<Array<'a, T>>> {
    let (rest, len) = within(
        what,
        if flexible {
            decode::compact_nullable_array_len(input)
        } else {
            decode::nullable_array_len(input)
        },
    )?;
    match len {
        None => Ok((rest, None)),
        Some(len) => elements(rest, len, version, flexible, what).map(|(r, a)| (r, Some(a))),
    }
}

fn elements<'a, T: ArrayItem<'a>>(
    input: &'a [u8],
    len: usize,
    version: i16,
    flexible: bool,
    what: &'static str,
) -> Decoded<'a, Array<'a, T>> {
    // Every element takes at least one byte: a count larger than the input cannot be right,
    // and checking it first keeps a forged count from costing a long walk.
    if len > input.len() {
        return Err(DecodeError::TooManyEntries {
            what,
            count: len,
            left: input.len(),
        });
    }
    let rest = match T::FIXED_LEN {
        Some(size) => {
            let total = size.saturating_mul(len);
            match input.get(total..) {
                Some(rest) => rest,
                None => {
                    return Err(DecodeError::Truncated {
                        what,
                        needed: total - input.len(),
                    });
                }
            }
        }
        None => {
            let mut rest = input;
            for _ in 0..len {
                rest = T::skip_item(rest, version, flexible)?;
            }
            rest
        }
    };
    let used = input.len() - rest.len();
    let wire = WireArray {
        len,
        bytes: input.get(..used).unwrap_or_default(),
        version,
        flexible,
    };
    Ok((
        rest,
        Array {
            repr: Repr::Wire(wire),
        },
    ))
}

/// Reads a tagged-field section.
#[inline]
pub(crate) fn tagged_fields<'a>(
    input: &'a [u8],
    what: &'static str,
) -> Decoded<'a, TaggedFields<'a>> {
    // Almost every tagged section is empty: one zero byte.
    if let Some((&0, rest)) = input.split_first() {
        return Ok((rest, TaggedFields::EMPTY));
    }
    within(what, decode::tagged_fields(input))
}

/// The input after an empty tagged-field section (one zero byte); `None` for any other.
#[inline]
pub(crate) fn skip_empty_tagged_fields(input: &[u8]) -> Option<&[u8]> {
    match input.split_first() {
        Some((&0, rest)) => Some(rest),
        _ => None,
    }
}

/// Decodes the data of a known tagged field, which must take all of it.
#[inline]
pub(crate) fn tagged_value<'a, T>(
    data: &'a [u8],
    what: &'static str,
    f: impl FnOnce(&'a [u8]) -> Decoded<'a, T>,
) -> Result<T, DecodeError> {
    let (rest, value) = f(data)?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(DecodeError::TrailingBytes {
            what,
            count: rest.len(),
        })
    }
}

/// Encoded size of one tagged field whose value takes `size` bytes.
#[inline]
pub(crate) fn tagged_len(tag: u32, size: usize) -> usize {
    varint::uvarint_len(tag) + varint::uvarint_len(size as u32) + size
}

/// Encoded size of the count of a tagged-field section.
#[inline]
pub(crate) fn tag_count_len(count: usize) -> usize {
    varint::uvarint_len(count as u32)
}

/// Encoded size of raw tagged fields as they will be re-written.
pub(crate) fn unknown_tagged_len(fields: &TaggedFields<'_>) -> usize {
    fields
        .iter()
        .fold(0, |n, (tag, data)| n + tagged_len(tag, data.len()))
}

/// Writes the count of a tagged-field section.
#[inline]
pub(crate) fn put_tag_count(w: &mut Writer<'_>, count: usize) -> Result<(), EncodeError> {
    let count = u32::try_from(count).map_err(|_| EncodeError::TooLong {
        what: "tagged fields",
        len: count,
        max: u32::MAX as usize,
    })?;
    w.put_uvarint(count)
}

/// Writes the tag and size of a known tagged field; its value follows.
#[inline]
pub(crate) fn put_tag_header(w: &mut Writer<'_>, tag: u32, size: usize) -> Result<(), EncodeError> {
    let size = u32::try_from(size).map_err(|_| EncodeError::TooLong {
        what: "tagged field",
        len: size,
        max: u32::MAX as usize,
    })?;
    w.put_uvarint(tag)?;
    w.put_uvarint(size)
}

/// The raw tagged fields of a struct, written in tag order between its known ones.
pub(crate) struct UnknownTags<'a> {
    fields: Peekable<TaggedFieldIter<'a>>,
}

impl<'a> UnknownTags<'a> {
    pub(crate) fn new(fields: &TaggedFields<'a>) -> Self {
        Self {
            fields: fields.iter().peekable(),
        }
    }

    /// Writes the raw fields whose tags come before `tag`, the tag of a field about to be
    /// written or skipped, if the version knows it (`known`); otherwise does nothing. A raw
    /// field with a known tag is an error even when the known field is at its default and not
    /// written: a reader of this version would take the raw bytes for the known field.
    pub(crate) fn put_before(
        &mut self,
        w: &mut Writer<'_>,
        tag: u32,
        known: bool,
    ) -> Result<(), EncodeError> {
        if !known {
            return Ok(());
        }
        while let Some(&(t, data)) = self.fields.peek() {
            if t > tag {
                break;
            }
            if t == tag {
                return Err(EncodeError::DuplicateTag { tag });
            }
            w.put_tagged_field(t, data)?;
            self.fields.next();
        }
        Ok(())
    }

    /// Writes the remaining raw fields.
    pub(crate) fn put_rest(mut self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        for (t, data) in self.fields.by_ref() {
            w.put_tagged_field(t, data)?;
        }
        Ok(())
    }
}

/// Checks an encode version against the generated range.
#[inline]
pub(crate) fn encode_version(
    api: i16,
    range: VersionRange,
    version: i16,
) -> Result<(), EncodeError> {
    if range.contains(version) {
        Ok(())
    } else {
        Err(EncodeError::UnsupportedVersion { api, version })
    }
}

/// Checks a decode version against the generated range.
#[inline]
pub(crate) fn decode_version(
    api: i16,
    range: VersionRange,
    version: i16,
) -> Result<(), DecodeError> {
    if range.contains(version) {
        Ok(())
    } else {
        Err(DecodeError::UnsupportedVersion { api, version })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_versions() {
        assert_eq!(request_header_version(ApiKey::Produce, 8), 1);
        assert_eq!(request_header_version(ApiKey::Produce, 9), 2);
        assert_eq!(request_header_version(ApiKey::SaslHandshake, 1), 1);
        assert_eq!(response_header_version(ApiKey::Metadata, 9), 1);
        assert_eq!(response_header_version(ApiKey::Metadata, 8), 0);
        assert_eq!(response_header_version(ApiKey::ApiVersions, 4), 0);
        assert_eq!(response_header_version(ApiKey::InitProducerId, 2), 1);
    }

    #[test]
    fn arrays_of_primitives_round_trip() {
        let names = ["a", "bc", ""];
        let a = Array::from(&names);
        for flexible in [false, true] {
            let mut buf = [0u8; 32];
            let mut w = Writer::new(&mut buf);
            put_array(&mut w, &a, 0, flexible).unwrap();
            assert_eq!(w.position(), array_len(&a, 0, flexible));
            let n = w.position();
            let (rest, b) = array::<&str>(&buf[..n], 0, flexible, "names").unwrap();
            assert!(rest.is_empty());
            assert_eq!(a, b);
            assert_eq!(b.get(1), Some("bc"));
            assert_eq!(b.iter().len(), 3);
            assert!(b.wire_bytes().is_some());
        }
    }

    #[test]
    fn forged_counts_fail_fast() {
        // A count of a billion int32s with four bytes behind it.
        let input = b"\x3b\x9a\xca\x00\x00\x00\x00\x01";
        assert!(matches!(
            array::<i32>(input, 0, false, "ids"),
            Err(DecodeError::TooManyEntries {
                what: "ids",
                count: 1_000_000_000,
                left: 4
            })
        ));
        let input = b"\x3b\x9a\xca\x00\x00\x01";
        assert!(matches!(
            array::<&str>(input, 0, false, "names"),
            Err(DecodeError::TooManyEntries {
                what: "names",
                count: 1_000_000_000,
                left: 2
            })
        ));
    }
}
