//! Kafka's framing and request/response correlation.
//!
//! Every request and every response on a Kafka connection is one frame:
//!
//! ```text
//!  0               1               2               3
//! +---------------+---------------+---------------+---------------+
//! |                          size: INT32                          |
//! +---------------+---------------+---------------+---------------+
//! |                   body: exactly `size` bytes                  |
//! +---------------------------------------------------------------+
//!
//! request body:  api_key:INT16 | api_version:INT16 | correlation_id:INT32 | client_id | ...
//! response body: correlation_id:INT32 | [tagged fields, header v1] | response fields ...
//! ```
//!
//! A response says nothing about what it answers except its correlation id, so the client must
//! remember, per connection, which request (API and version) each id belongs to: that is
//! [`InFlight`]. Responses on one connection come back in the order the requests were sent
//! (the broker handles one request per connection at a time), so the bookkeeping is a FIFO and
//! a response that is not for the oldest request means the connection can no longer be trusted.
//!
//! Two ways to take frames off the wire:
//!
//! - [`parse_frame`] over bytes the caller already holds (a proxy, a test, a buffered stream),
//!   in httparse's shape: [`Status::Incomplete`] with how many more bytes are needed, or
//!   [`Status::Complete`] with the body and the bytes taken.
//! - [`FrameReader`] over a caller's receive buffer, for a producer reading a socket: it hands
//!   out the exact window to read into next, and the caller commits what it read.
//!
//! Both check the size field before reading a byte of the body, so a hostile or confused
//! peer (a negative size, 2 GiB) costs nothing but an error.

use core::fmt;

use crate::protocol::ApiKey;
use crate::wire::{DecodeError, Status};

/// Length of a frame's size field.
pub const FRAME_PREFIX_LEN: usize = 4;

/// The smallest body a frame can have: a response header v0 is just the 4-byte correlation id
/// (every request header is longer), so a smaller size cannot be a Kafka message.
pub const MIN_FRAME_BODY: usize = 4;

/// Parses the frame at the start of `input`, accepting bodies of at most `max_size` bytes.
///
/// - `Ok(Status::Incomplete { needed })`: `input` holds only part of the frame. Before the 4
///   size bytes are in, `needed` is what is missing of them; after, it is exact: the frame
///   ends `needed` bytes past the end of `input`.
/// - `Ok(Status::Complete { value, consumed })`: `value` is the body (without the size
///   field), the frame took the first `consumed` bytes of `input` (`4 + value.len()`); the
///   next frame, if any, starts there.
/// - `Err`: the size field is negative, below [`MIN_FRAME_BODY`] or above `max_size`. This is
///   decided from the 4 size bytes alone: nothing is read, and nothing waited for, past them.
///
/// `max_size` bounds the body (the size field's value), not the 4-byte prefix. A broker
/// bounds requests the same way (`socket.request.max.bytes`, 100 MiB by default); a device
/// passes what its receive buffer can hold.
///
/// ```
/// use embedded_kafka::protocol::{FrameError, parse_frame};
/// use embedded_kafka::wire::Status;
///
/// let stream = b"\x00\x00\x00\x06\x00\x00\x00\x07hi\x00\x00";
/// assert_eq!(parse_frame(&stream[..2], 1024), Ok(Status::Incomplete { needed: 2 }));
/// assert_eq!(parse_frame(&stream[..5], 1024), Ok(Status::Incomplete { needed: 5 }));
/// assert_eq!(
///     parse_frame(stream, 1024),
///     Ok(Status::Complete { value: &b"\x00\x00\x00\x07hi"[..], consumed: 10 })
/// );
///
/// // 2 GiB announced: refused at once, with no body bytes read.
/// assert_eq!(
///     parse_frame(b"\x7f\xff\xff\xff", 1024),
///     Err(FrameError::TooLarge { size: i32::MAX, max: 1024 })
/// );
/// ```
pub fn parse_frame(input: &[u8], max_size: usize) -> Result<Status<&[u8]>, FrameError> {
    let Some((prefix, rest)) = input.split_first_chunk::<FRAME_PREFIX_LEN>() else {
        return Ok(Status::Incomplete {
            needed: FRAME_PREFIX_LEN.saturating_sub(input.len()),
        });
    };
    let len = check_size(i32::from_be_bytes(*prefix), max_size)?;
    Ok(match rest.get(..len) {
        Some(body) => Status::Complete {
            value: body,
            consumed: FRAME_PREFIX_LEN + len,
        },
        None => Status::Incomplete {
            needed: len.saturating_sub(rest.len()),
        },
    })
}

/// The body length a size field announces, if it is one a reader with room for `max` body
/// bytes should accept.
fn check_size(size: i32, max: usize) -> Result<usize, FrameError> {
    let Ok(len) = usize::try_from(size) else {
        return Err(if size < 0 {
            FrameError::NegativeSize { size }
        } else {
            // Only on targets whose usize is narrower than 31 bits.
            FrameError::TooLarge { size, max }
        });
    };
    if len < MIN_FRAME_BODY {
        Err(FrameError::TooShort {
            size,
            min: MIN_FRAME_BODY,
        })
    } else if len > max {
        Err(FrameError::TooLarge { size, max })
    } else {
        Ok(len)
    }
}

/// The correlation id of a response: the first 4 bytes of its body, in every response header
/// version (v1 only adds tagged fields after it).
///
/// This is all a client needs to read before it knows which request, and so which API and
/// version, the rest of the body belongs to. A body from [`parse_frame`] or [`FrameReader`]
/// always has these 4 bytes; a shorter slice is [`DecodeError::Truncated`].
///
/// ```
/// use embedded_kafka::protocol::response_correlation_id;
///
/// assert_eq!(response_correlation_id(b"\x00\x00\x01\x00\x00\x00"), Ok(256));
/// assert!(response_correlation_id(b"\x00\x01").is_err());
/// ```
pub fn response_correlation_id(body: &[u8]) -> Result<i32, DecodeError> {
    match body.first_chunk::<4>() {
        Some(id) => Ok(i32::from_be_bytes(*id)),
        None => Err(DecodeError::Truncated {
            what: "response header",
            needed: 4usize.saturating_sub(body.len()),
        }),
    }
}

/// What went wrong on the receive path of a connection: what the peer sent and what was
/// expected instead.
///
/// Every variant but [`CommitOverrun`](Self::CommitOverrun) is the peer's doing (or a
/// configuration that expects less than the peer legitimately sends, for the two size limits).
/// After any of them the byte stream, or the pairing of requests and responses, can no longer
/// be trusted: the producer closes the connection, and the requests still in [`InFlight`] are
/// the ones to send again on a new one.
///
/// ```
/// use embedded_kafka::protocol::FrameError;
///
/// let e = FrameError::CorrelationMismatch { expected: 7, found: 9 };
/// assert_eq!(
///     e.to_string(),
///     "response has correlation id 9, but the oldest request in flight has 7"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FrameError {
    /// The size field is negative. No Kafka frame has one: the peer is not speaking Kafka's
    /// framing on this port (a TLS record or an HTTP reply starts like this), or the stream lost
    /// its place.
    NegativeSize {
        /// The size field as read.
        size: i32,
    },
    /// The size field is smaller than the smallest body, a correlation id.
    TooShort {
        /// The size field as read.
        size: i32,
        /// The smallest size a frame can have ([`MIN_FRAME_BODY`]).
        min: usize,
    },
    /// The size field is larger than the caller's maximum ([`parse_frame`]'s `max_size`).
    TooLarge {
        /// The size field as read.
        size: i32,
        /// The largest body the caller accepts.
        max: usize,
    },
    /// A [`FrameReader`]'s buffer cannot hold the frame announced: give it a larger buffer, or
    /// ask the broker for less (fewer topics in a Metadata request, fewer partitions in a
    /// Produce request).
    BufferTooSmall {
        /// The body size the frame announced.
        needed: usize,
        /// The size of the reader's buffer.
        available: usize,
    },
    /// The caller committed more bytes than the receive window it was given: a bug in the
    /// caller, not the peer. Nothing was committed.
    CommitOverrun {
        /// Bytes the caller committed.
        committed: usize,
        /// Length of the window [`FrameReader::receive_buffer`] returned.
        window: usize,
    },
    /// A response whose correlation id is not that of the oldest request in flight. Responses
    /// on a connection arrive in request order, so the broker (or something between it and
    /// us) broke the protocol; which request this answers cannot be known.
    CorrelationMismatch {
        /// Correlation id of the oldest request in flight.
        expected: i32,
        /// Correlation id the response carries.
        found: i32,
    },
    /// A response arrived while no request was in flight (a request that gets no response,
    /// such as Produce with `acks=0`, must not be recorded in [`InFlight`], and one that does
    /// must be).
    UnexpectedResponse {
        /// Correlation id the response carries.
        correlation_id: i32,
    },
}

/// Sizes from here on are beyond any Kafka response (the broker's `socket.request.max.bytes`
/// is 100 MiB, its `message.max.bytes` 1 MiB by default): such a size field is most likely not
/// a Kafka frame at all.
const IMPLAUSIBLE_FRAME: u64 = 1 << 30;

/// Adds, for a size field no Kafka broker sends, that the peer is probably not one: an
/// absurd size reads as a buffer problem otherwise, where the cause is the port or the
/// protocol (an HTTP server answers `HTTP`, 1,213,486,160 as a size). Four printable ASCII
/// bytes are quoted as text.
fn not_kafka(f: &mut fmt::Formatter<'_>, size: u64) -> fmt::Result {
    let Ok(size) = u32::try_from(size) else {
        return f.write_str(": the peer is probably not a Kafka broker");
    };
    let bytes = size.to_be_bytes();
    if bytes.iter().all(|b| (0x20..0x7f).contains(b)) {
        let text = core::str::from_utf8(&bytes).unwrap_or("");
        write!(
            f,
            ": the size field reads as text (\"{text}\"): the peer is probably not a Kafka \
             broker, or not speaking plaintext Kafka"
        )
    } else if u64::from(size) >= IMPLAUSIBLE_FRAME {
        f.write_str(
            ": no Kafka response is that large: the peer is probably not a Kafka broker, or \
             the stream lost its place",
        )
    } else {
        Ok(())
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NegativeSize { size } => write!(
                f,
                "frame size {size} is negative: the peer is not sending Kafka frames, or the stream lost its place"
            ),
            Self::TooShort { size, min } => write!(
                f,
                "frame size {size} is below the {min} bytes of the smallest response (a correlation id)"
            ),
            Self::TooLarge { size, max } => {
                write!(f, "frame size {size} is above the maximum of {max} bytes")?;
                not_kafka(f, u64::from(size.unsigned_abs()))
            }
            Self::BufferTooSmall { needed, available } => {
                write!(
                    f,
                    "a frame of {needed} bytes does not fit the {available}-byte receive buffer"
                )?;
                not_kafka(f, needed as u64)
            }
            Self::CommitOverrun { committed, window } => write!(
                f,
                "committed {committed} bytes into a receive window of {window} bytes"
            ),
            Self::CorrelationMismatch { expected, found } => write!(
                f,
                "response has correlation id {found}, but the oldest request in flight has {expected}"
            ),
            Self::UnexpectedResponse { correlation_id } => write!(
                f,
                "response with correlation id {correlation_id} while no request is in flight"
            ),
        }
    }
}

impl core::error::Error for FrameError {}

/// Takes frames off a byte stream into a caller-supplied buffer, one read at a time.
///
/// # Buffer contract
///
/// [`receive_buffer`](Self::receive_buffer) returns exactly the bytes still missing from the
/// current frame and never more: first the rest of the 4-byte size field (held inside the
/// reader, not in the caller's buffer), then the rest of the body. So a read into it can never
/// take bytes of the next frame, and
///
/// - the body always starts at byte 0 of the caller's buffer, contiguous, and nothing is ever
///   moved (no compaction after a frame, no copy of a partial next frame);
/// - the whole buffer is available to the body: a buffer of `N` bytes takes bodies up to `N`
///   bytes, and a larger frame is refused as soon as its size field is in
///   ([`FrameError::BufferTooSmall`]), before any of its body is read;
/// - a read that is cancelled (a timeout around an async read) loses nothing, since only what
///   is committed counts.
///
/// The cost is at least two reads per frame (size, then body). Reads from an embassy-net
/// socket or a TLS session copy out of a buffer the stack already holds, so this costs a
/// function call, not a packet.
///
/// The window is empty exactly when a frame is complete (handle it, then
/// [`consume`](Self::consume) it) or the reader has failed (see [`error`](Self::error)). Never
/// read into an empty window: a read of zero bytes looks like the end of the stream.
///
/// After an error the reader stays failed, returning the same error from every
/// [`commit`](Self::commit), until [`reset`](Self::reset): the stream's framing is lost, so the
/// connection has to go. [`FrameError::CommitOverrun`] is the exception: it changes nothing.
///
/// ```
/// use embedded_kafka::protocol::FrameReader;
/// use embedded_kafka::wire::Status;
///
/// // Two responses, as a socket might deliver them: at most 3 bytes per read.
/// let mut socket: &[u8] = b"\x00\x00\x00\x05\x00\x00\x00\x01!\x00\x00\x00\x04\x00\x00\x00\x02";
/// let mut read = |window: &mut [u8]| {
///     let n = window.len().min(socket.len()).min(3);
///     window[..n].copy_from_slice(&socket[..n]);
///     socket = &socket[n..];
///     n
/// };
///
/// let mut buf = [0u8; 64];
/// let mut reader = FrameReader::new(&mut buf);
/// let mut bodies = Vec::new();
/// while bodies.len() < 2 {
///     let n = read(reader.receive_buffer());
///     if let Status::Complete { value: body, .. } = reader.commit(n)? {
///         bodies.push(body.to_vec());
///         reader.consume();
///     }
/// }
/// assert_eq!(bodies, [&b"\x00\x00\x00\x01!"[..], &b"\x00\x00\x00\x02"[..]]);
/// # Ok::<(), embedded_kafka::protocol::FrameError>(())
/// ```
pub struct FrameReader<'b> {
    buf: &'b mut [u8],
    prefix: [u8; FRAME_PREFIX_LEN],
    state: ReadState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum ReadState {
    /// `have` bytes of the size field are in `prefix`.
    Prefix { have: usize },
    /// The size field said `len`; `have` bytes of the body are in `buf`. Complete when equal.
    Body { len: usize, have: usize },
    /// The stream is unusable until reset.
    Failed(FrameError),
}

impl<'b> FrameReader<'b> {
    /// A reader that keeps each frame's body in `buf`, so bodies of up to `buf.len()` bytes.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Self {
            buf,
            prefix: [0; FRAME_PREFIX_LEN],
            state: ReadState::Prefix { have: 0 },
        }
    }

    /// The largest body this reader accepts: the size of its buffer.
    pub fn max_frame_size(&self) -> usize {
        self.buf.len()
    }

    /// Where the next read goes: exactly the bytes the current frame still lacks (see the
    /// [buffer contract](Self#buffer-contract)). Empty when a frame is complete or the reader
    /// has failed.
    pub fn receive_buffer(&mut self) -> &mut [u8] {
        match self.state {
            ReadState::Prefix { have } => self.prefix.get_mut(have..).unwrap_or_default(),
            ReadState::Body { len, have } => self.buf.get_mut(have..len).unwrap_or_default(),
            ReadState::Failed(_) => &mut [],
        }
    }

    fn window_len(&self) -> usize {
        match self.state {
            ReadState::Prefix { have } => FRAME_PREFIX_LEN.saturating_sub(have),
            ReadState::Body { len, have } => len.saturating_sub(have),
            ReadState::Failed(_) => 0,
        }
    }

    /// Records that the last read put `n` bytes at the start of the
    /// [`receive_buffer`](Self::receive_buffer) window, and says where the frame stands:
    /// `Incomplete { needed }` (exact once the size field is in) or `Complete` with the body
    /// and the frame's length on the wire (`4 + body.len()`).
    ///
    /// `commit(0)` changes nothing and reports the same status. Committing the size field's
    /// last byte checks it: a bad size fails the reader (see [`FrameError`]) before any of the
    /// body is read.
    pub fn commit(&mut self, n: usize) -> Result<Status<&[u8]>, FrameError> {
        if let ReadState::Failed(e) = self.state {
            return Err(e);
        }
        let window = self.window_len();
        if n > window {
            return Err(FrameError::CommitOverrun {
                committed: n,
                window,
            });
        }
        match self.state {
            ReadState::Prefix { have } => {
                let have = have + n;
                if have < FRAME_PREFIX_LEN {
                    self.state = ReadState::Prefix { have };
                    return Ok(Status::Incomplete {
                        needed: FRAME_PREFIX_LEN - have,
                    });
                }
                let size = i32::from_be_bytes(self.prefix);
                match check_size(size, self.buf.len()) {
                    Ok(len) => {
                        // len >= MIN_FRAME_BODY > 0: a body is always still to come.
                        self.state = ReadState::Body { len, have: 0 };
                        Ok(Status::Incomplete { needed: len })
                    }
                    Err(e) => {
                        let e = match e {
                            FrameError::TooLarge { size, max } => FrameError::BufferTooSmall {
                                needed: usize::try_from(size).unwrap_or(usize::MAX),
                                available: max,
                            },
                            e => e,
                        };
                        self.state = ReadState::Failed(e);
                        Err(e)
                    }
                }
            }
            ReadState::Body { len, have } => {
                let have = have + n;
                self.state = ReadState::Body { len, have };
                if have < len {
                    return Ok(Status::Incomplete { needed: len - have });
                }
                Ok(Status::Complete {
                    value: self.buf.get(..len).unwrap_or_default(),
                    consumed: FRAME_PREFIX_LEN + len,
                })
            }
            ReadState::Failed(e) => Err(e),
        }
    }

    /// The body of the frame, once all of it is in.
    pub fn frame(&self) -> Option<&[u8]> {
        match self.state {
            ReadState::Body { len, have } if have == len => self.buf.get(..len),
            _ => None,
        }
    }

    /// Drops the complete frame, making room for the next. Does nothing if no frame is
    /// complete (a partial frame is never dropped: that would lose the stream's place).
    pub fn consume(&mut self) {
        if self.frame().is_some() {
            self.state = ReadState::Prefix { have: 0 };
        }
    }

    /// Bytes of the current frame received so far, size field included: 0 between frames. A
    /// connection that ends while this is non-zero ended in the middle of a frame.
    pub fn buffered(&self) -> usize {
        match self.state {
            ReadState::Prefix { have } => have,
            ReadState::Body { have, .. } => FRAME_PREFIX_LEN + have,
            ReadState::Failed(_) => 0,
        }
    }

    /// The error that failed the reader, if one did.
    pub fn error(&self) -> Option<FrameError> {
        match self.state {
            ReadState::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// Forgets everything (a partial or complete frame, an error): for a new connection.
    pub fn reset(&mut self) {
        self.state = ReadState::Prefix { have: 0 };
    }
}

impl fmt::Debug for FrameReader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameReader")
            .field("capacity", &self.buf.len())
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for FrameReader<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "FrameReader {{ capacity: {}, state: {} }}",
            self.buf.len(),
            self.state
        );
    }
}

/// A request sent on a connection and not yet answered: what is needed to decode its response,
/// and a caller's token to find what it carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct InFlightRequest {
    /// The correlation id the request was sent with; its response carries the same.
    pub correlation_id: i32,
    /// The request's API; the response is that API's.
    pub api_key: ApiKey,
    /// The request's version; the response has the same version.
    pub api_version: i16,
    /// Anything the caller wants back with the response (which batch buffer a Produce request
    /// was built in, a deadline index); 0 if unused.
    pub token: u32,
}

/// The requests in flight on one connection, oldest first, at most `N` of them.
///
/// Kafka pipelines: a client may send several requests before the first response, and the
/// broker answers them in order. `N` is the pipelining depth (the Java client's
/// `max.in.flight.requests.per.connection`, 5 by default; idempotent producers may use at most
/// 5). No heap: the queue is an array of `N` entries.
///
/// Record a request with [`push`](Self::push) when it is written, and pass each response's
/// correlation id to [`match_response`](Self::match_response). Requests that get no response
/// (Produce with `acks=0`) are not recorded.
///
/// ```
/// use embedded_kafka::protocol::{ApiKey, CorrelationIds, FrameError, InFlight, InFlightRequest};
///
/// let mut ids = CorrelationIds::new();
/// let mut in_flight = InFlight::<5>::new();
/// for api_key in [ApiKey::Metadata, ApiKey::Produce] {
///     let correlation_id = ids.next_id();
///     in_flight.push(InFlightRequest { correlation_id, api_key, api_version: 9, token: 0 })?;
/// }
///
/// assert_eq!(in_flight.match_response(0).map(|r| r.api_key), Ok(ApiKey::Metadata));
/// // A response out of order is an error, and the queue is left as it was.
/// assert_eq!(
///     in_flight.match_response(5),
///     Err(FrameError::CorrelationMismatch { expected: 1, found: 5 })
/// );
/// assert_eq!(in_flight.len(), 1);
/// assert_eq!(in_flight.match_response(1).map(|r| r.api_key), Ok(ApiKey::Produce));
/// # Ok::<(), embedded_kafka::protocol::InFlightFull>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct InFlight<const N: usize> {
    slots: [Option<InFlightRequest>; N],
    /// Slot of the oldest request.
    head: usize,
    len: usize,
}

impl<const N: usize> Default for InFlight<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> InFlight<N> {
    /// No requests in flight.
    pub const fn new() -> Self {
        Self {
            slots: [None; N],
            head: 0,
            len: 0,
        }
    }

    /// `N`: how many requests may be in flight at once.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// How many requests are in flight.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether no request is in flight.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether another request would exceed the pipelining depth: wait for a response first.
    pub const fn is_full(&self) -> bool {
        self.len >= N
    }

    /// Slot index of the `i`-th oldest request (`i < N`).
    fn slot(&self, i: usize) -> usize {
        let j = self.head + i;
        if j >= N { j - N } else { j }
    }

    /// Records a request just written to the connection, as the newest in flight.
    ///
    /// Fails, changing nothing, when `N` requests are already in flight.
    pub fn push(&mut self, request: InFlightRequest) -> Result<(), InFlightFull> {
        if self.is_full() {
            return Err(InFlightFull { capacity: N });
        }
        let at = self.slot(self.len);
        match self.slots.get_mut(at) {
            Some(slot) => {
                *slot = Some(request);
                self.len += 1;
                Ok(())
            }
            None => Err(InFlightFull { capacity: N }),
        }
    }

    /// The oldest request in flight: the one the next response must answer.
    pub fn oldest(&self) -> Option<InFlightRequest> {
        if self.is_empty() {
            return None;
        }
        self.slots.get(self.head).copied().flatten()
    }

    /// Takes the oldest request out of the queue (for a caller giving up on it).
    pub fn pop_oldest(&mut self) -> Option<InFlightRequest> {
        let oldest = self.oldest()?;
        if let Some(slot) = self.slots.get_mut(self.head) {
            *slot = None;
        }
        self.head = self.slot(1);
        self.len -= 1;
        Some(oldest)
    }

    /// Pairs a response with its request: if `correlation_id` is the oldest request's, removes
    /// that request and returns it (its API and version say how to decode the response).
    ///
    /// Otherwise the queue is left untouched, so the caller can see what was outstanding when
    /// it decides to reconnect and resend: [`FrameError::CorrelationMismatch`] if a request is
    /// in flight, [`FrameError::UnexpectedResponse`] if none is.
    pub fn match_response(&mut self, correlation_id: i32) -> Result<InFlightRequest, FrameError> {
        let Some(oldest) = self.oldest() else {
            return Err(FrameError::UnexpectedResponse { correlation_id });
        };
        if oldest.correlation_id != correlation_id {
            return Err(FrameError::CorrelationMismatch {
                expected: oldest.correlation_id,
                found: correlation_id,
            });
        }
        self.pop_oldest();
        Ok(oldest)
    }

    /// The requests in flight, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = InFlightRequest> + '_ {
        (0..self.len).filter_map(|i| self.slots.get(self.slot(i)).copied().flatten())
    }

    /// Forgets every request in flight (the connection is gone).
    pub fn clear(&mut self) {
        *self = Self::new();
    }
}

/// [`InFlight::push`] found the pipelining depth reached: `capacity` requests are already
/// waiting for responses on this connection. The caller's doing, not the peer's: wait for a
/// response before sending more.
///
/// ```
/// use embedded_kafka::protocol::{ApiKey, InFlight, InFlightFull, InFlightRequest};
///
/// let mut in_flight = InFlight::<1>::new();
/// let r = InFlightRequest { correlation_id: 0, api_key: ApiKey::Produce, api_version: 9, token: 0 };
/// assert_eq!(in_flight.push(r), Ok(()));
/// assert_eq!(in_flight.push(r), Err(InFlightFull { capacity: 1 }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct InFlightFull {
    /// The pipelining depth (`N`).
    pub capacity: usize,
}

impl fmt::Display for InFlightFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} requests already in flight on this connection: wait for a response first",
            self.capacity
        )
    }
}

impl core::error::Error for InFlightFull {}

/// Correlation ids for one client: 0, 1, 2, … up to `i32::MAX`, then 0 again.
///
/// Ids only have to be distinct among the requests in flight on a connection, so starting
/// again after 2³¹ requests is harmless, and staying non-negative keeps logs readable. (The
/// Java client also counts from 0, but skips the top 8 ids, which it keeps for its SASL
/// exchanges, and carries on from `i32::MIN`: the broker only echoes the id back.)
///
/// ```
/// use embedded_kafka::protocol::CorrelationIds;
///
/// let mut ids = CorrelationIds::starting_at(i32::MAX - 1);
/// assert_eq!([ids.next_id(), ids.next_id(), ids.next_id()], [i32::MAX - 1, i32::MAX, 0]);
/// assert_eq!(CorrelationIds::new().take(3).collect::<Vec<_>>(), [0, 1, 2]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CorrelationIds {
    next: i32,
}

impl CorrelationIds {
    /// Ids from 0.
    pub const fn new() -> Self {
        Self { next: 0 }
    }

    /// Ids from `first` (a reconnecting client may carry on where it was, to keep logs
    /// unambiguous).
    pub const fn starting_at(first: i32) -> Self {
        Self { next: first }
    }

    /// The id [`next_id`](Self::next_id) will return next.
    pub const fn peek(&self) -> i32 {
        self.next
    }

    /// The next id.
    pub fn next_id(&mut self) -> i32 {
        let id = self.next;
        self.next = if id == i32::MAX { 0 } else { id + 1 };
        id
    }
}

impl Iterator for CorrelationIds {
    type Item = i32;

    /// Never `None`.
    fn next(&mut self) -> Option<i32> {
        Some(self.next_id())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..4].copy_from_slice(&(body.len() as i32).to_be_bytes());
        out[4..4 + body.len()].copy_from_slice(body);
        out
    }

    /// Copies up to `chunk` bytes of `input` into the reader's window, commits them, and
    /// returns how many were taken.
    fn feed(reader: &mut FrameReader<'_>, input: &[u8], chunk: usize) -> usize {
        let window = reader.receive_buffer();
        let n = window.len().min(input.len()).min(chunk);
        window[..n].copy_from_slice(&input[..n]);
        n
    }

    #[test]
    fn every_prefix_is_incomplete_with_the_exact_count_once_the_size_is_in() {
        let f = frame(b"\x00\x00\x00\x2aabc");
        let total = 4 + 7;
        for cut in 0..total {
            let needed = if cut < 4 { 4 - cut } else { total - cut };
            assert_eq!(
                parse_frame(&f[..cut], 100),
                Ok(Status::Incomplete { needed }),
                "cut {cut}"
            );
        }
        assert_eq!(
            parse_frame(&f[..total], 100),
            Ok(Status::Complete {
                value: &b"\x00\x00\x00\x2aabc"[..],
                consumed: total
            })
        );
        assert_eq!(response_correlation_id(&f[4..total]), Ok(42));
    }

    #[test]
    fn hostile_sizes_are_refused_from_the_size_field_alone() {
        let cases: [(i32, FrameError); 7] = [
            (0, FrameError::TooShort { size: 0, min: 4 }),
            (3, FrameError::TooShort { size: 3, min: 4 }),
            (-1, FrameError::NegativeSize { size: -1 }),
            (i32::MIN, FrameError::NegativeSize { size: i32::MIN }),
            (
                i32::MAX,
                FrameError::TooLarge {
                    size: i32::MAX,
                    max: 1000,
                },
            ),
            (
                1 << 30,
                FrameError::TooLarge {
                    size: 1 << 30,
                    max: 1000,
                },
            ),
            (
                1001,
                FrameError::TooLarge {
                    size: 1001,
                    max: 1000,
                },
            ),
        ];
        for (size, expected) in cases {
            let prefix = size.to_be_bytes();
            assert_eq!(parse_frame(&prefix, 1000), Err(expected), "size {size}");

            let mut buf = [0u8; 1000];
            let mut reader = FrameReader::new(&mut buf);
            reader.receive_buffer().copy_from_slice(&prefix);
            let expected = match expected {
                FrameError::TooLarge { size, max } => FrameError::BufferTooSmall {
                    needed: size as usize,
                    available: max,
                },
                e => e,
            };
            assert_eq!(reader.commit(4), Err(expected));
            // Failed for good: nothing to read into, the same error again.
            assert!(reader.receive_buffer().is_empty());
            assert_eq!(reader.commit(0), Err(expected));
            assert_eq!(reader.error(), Some(expected));
            assert_eq!(reader.frame(), None);
            reader.reset();
            assert_eq!(reader.error(), None);
            assert_eq!(reader.receive_buffer().len(), 4);
        }
        // The limits themselves are accepted.
        assert!(parse_frame(&4i32.to_be_bytes(), 4).is_ok());
        assert!(parse_frame(&1000i32.to_be_bytes(), 1000).is_ok());
    }

    #[test]
    fn one_byte_at_a_time_several_frames_back_to_back() {
        let bodies: [&[u8]; 3] = [
            b"\x00\x00\x00\x01",
            b"\x00\x00\x00\x02xyz",
            b"\x7f\xff\xff\xffq",
        ];
        let mut stream = [0u8; 64];
        let mut len = 0;
        for b in bodies {
            let f = frame(b);
            stream[len..len + 4 + b.len()].copy_from_slice(&f[..4 + b.len()]);
            len += 4 + b.len();
        }
        let stream = &stream[..len];

        let mut buf = [0u8; 8];
        let mut reader = FrameReader::new(&mut buf);
        let mut at = 0;
        let mut seen = 0;
        while at < stream.len() {
            let window_len = reader.receive_buffer().len();
            assert!(window_len > 0);
            let n = feed(&mut reader, &stream[at..], 1);
            at += n;
            match reader.commit(n).expect("valid stream") {
                Status::Complete { value, consumed } => {
                    assert_eq!(value, bodies[seen]);
                    assert_eq!(consumed, 4 + value.len());
                    assert_eq!(reader.buffered(), consumed);
                    assert!(reader.receive_buffer().is_empty());
                    reader.consume();
                    assert_eq!(reader.buffered(), 0);
                    seen += 1;
                }
                Status::Incomplete { needed } => assert_eq!(needed, reader.receive_buffer().len()),
            }
        }
        assert_eq!(seen, 3);
    }

    #[test]
    fn the_window_never_reaches_into_the_next_frame() {
        let mut buf = [0u8; 32];
        let mut reader = FrameReader::new(&mut buf);
        assert_eq!(reader.receive_buffer().len(), 4);
        reader.receive_buffer()[..3].copy_from_slice(&[0, 0, 0]);
        assert_eq!(reader.commit(3), Ok(Status::Incomplete { needed: 1 }));
        assert_eq!(reader.receive_buffer().len(), 1);
        reader.receive_buffer()[0] = 6;
        assert_eq!(reader.commit(1), Ok(Status::Incomplete { needed: 6 }));
        // Six bytes of body, though the buffer has 32.
        assert_eq!(reader.receive_buffer().len(), 6);
        assert_eq!(reader.max_frame_size(), 32);
    }

    #[test]
    fn an_overrun_commit_changes_nothing() {
        let mut buf = [0u8; 16];
        let mut reader = FrameReader::new(&mut buf);
        assert_eq!(
            reader.commit(5),
            Err(FrameError::CommitOverrun {
                committed: 5,
                window: 4
            })
        );
        assert_eq!(reader.error(), None);
        assert_eq!(reader.buffered(), 0);
        reader.receive_buffer().copy_from_slice(&4i32.to_be_bytes());
        assert_eq!(reader.commit(4), Ok(Status::Incomplete { needed: 4 }));
        assert_eq!(
            reader.commit(usize::MAX),
            Err(FrameError::CommitOverrun {
                committed: usize::MAX,
                window: 4
            })
        );
        assert_eq!(reader.buffered(), 4);
        // consume() of a partial frame keeps it.
        reader.consume();
        assert_eq!(reader.buffered(), 4);
    }

    #[test]
    fn a_frame_the_size_of_the_buffer_fits_and_one_more_byte_does_not() {
        let mut buf = [0u8; 5];
        let mut reader = FrameReader::new(&mut buf);
        reader.receive_buffer().copy_from_slice(&5i32.to_be_bytes());
        assert_eq!(reader.commit(4), Ok(Status::Incomplete { needed: 5 }));
        reader.receive_buffer().copy_from_slice(b"abcde");
        assert_eq!(
            reader.commit(5),
            Ok(Status::Complete {
                value: &b"abcde"[..],
                consumed: 9
            })
        );
        assert_eq!(reader.frame(), Some(&b"abcde"[..]));
        // commit(0) on a complete frame reports it again.
        assert!(matches!(reader.commit(0), Ok(Status::Complete { .. })));
        reader.consume();
        reader.receive_buffer().copy_from_slice(&6i32.to_be_bytes());
        assert_eq!(
            reader.commit(4),
            Err(FrameError::BufferTooSmall {
                needed: 6,
                available: 5
            })
        );
    }

    #[test]
    fn a_buffer_smaller_than_the_smallest_frame_refuses_every_frame() {
        let mut reader = FrameReader::new(&mut []);
        reader.receive_buffer().copy_from_slice(&4i32.to_be_bytes());
        assert_eq!(
            reader.commit(4),
            Err(FrameError::BufferTooSmall {
                needed: 4,
                available: 0
            })
        );
    }

    fn req(correlation_id: i32) -> InFlightRequest {
        InFlightRequest {
            correlation_id,
            api_key: ApiKey::Produce,
            api_version: 9,
            token: correlation_id as u32,
        }
    }

    #[test]
    fn in_flight_is_a_fifo_that_wraps_around_its_array() {
        let mut q = InFlight::<3>::new();
        let mut next_push = 0;
        let mut next_pop = 0;
        for round in 0..20 {
            while !q.is_full() {
                q.push(req(next_push)).expect("room");
                next_push += 1;
            }
            assert_eq!(q.push(req(99)), Err(InFlightFull { capacity: 3 }));
            assert_eq!(q.len(), 3);
            let expected: [i32; 3] = core::array::from_fn(|i| next_pop + i as i32);
            let mut seen = [0i32; 3];
            for (s, r) in seen.iter_mut().zip(q.iter()) {
                *s = r.correlation_id;
            }
            assert_eq!(seen, expected);
            // Drain one or two per round, so head moves through every slot.
            for _ in 0..(1 + round % 2) {
                assert_eq!(q.match_response(next_pop), Ok(req(next_pop)));
                next_pop += 1;
            }
        }
    }

    #[test]
    fn a_mismatch_keeps_the_queue() {
        let mut q = InFlight::<5>::new();
        assert_eq!(
            q.match_response(3),
            Err(FrameError::UnexpectedResponse { correlation_id: 3 })
        );
        q.push(req(10)).expect("room");
        q.push(req(11)).expect("room");
        let before = q.clone();
        assert_eq!(
            q.match_response(11),
            Err(FrameError::CorrelationMismatch {
                expected: 10,
                found: 11
            })
        );
        assert_eq!(q, before);
        assert_eq!(q.oldest(), Some(req(10)));
        assert_eq!(q.pop_oldest(), Some(req(10)));
        assert_eq!(q.match_response(11), Ok(req(11)));
        assert!(q.is_empty());
        assert_eq!(q.pop_oldest(), None);
        q.push(req(12)).expect("room");
        q.clear();
        assert!(q.is_empty());
        assert_eq!(q.iter().count(), 0);
    }

    #[test]
    fn a_zero_depth_queue_refuses_everything() {
        let mut q = InFlight::<0>::new();
        assert!(q.is_full());
        assert_eq!(q.push(req(1)), Err(InFlightFull { capacity: 0 }));
        assert_eq!(q.oldest(), None);
        assert_eq!(q.pop_oldest(), None);
    }

    #[test]
    fn correlation_ids_wrap_to_zero() {
        let mut ids = CorrelationIds::starting_at(i32::MAX);
        assert_eq!(ids.peek(), i32::MAX);
        assert_eq!(ids.next_id(), i32::MAX);
        assert_eq!(ids.next_id(), 0);
        assert_eq!(ids.next(), Some(1));
        let mut ids = CorrelationIds::default();
        assert_eq!(ids.next_id(), 0);
    }
}
