//! One connection to one broker: requests out, responses in, matched by correlation id, and
//! the stray answers to `acks=0` Produce requests drained.
//!
//! # Stray `acks=0` responses
//!
//! Kafka never answers a Produce request with `acks=0`; Tansu does (`BROKER.md`). Reading
//! nothing would eventually fill the socket's receive window and stall the broker, and reading
//! such an answer as the response to the next request would pair the wrong bodies. So the
//! connection remembers the correlation ids of the `acks=0` requests it has written and not
//! seen answered, as a window `lowest..=highest`. Every request on a connection is either in
//! [`InFlight`] (it expects an answer) or in that window, so a response whose id is in the
//! window and not in flight can only be a stray: it is dropped and counted, and ids up to it
//! leave the window (answers come in order). Any other unexpected id is
//! [`FrameError::CorrelationMismatch`]/[`FrameError::UnexpectedResponse`], and the connection
//! is closed. Between requests, [`Connection::drain`] polls the socket once without waiting,
//! so strays are taken off the wire even when no acknowledged request follows.

use core::future::{Future, poll_fn};
use core::net::SocketAddr;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use embedded_io_async::{Read, Write};
use embedded_nal_async::TcpConnect;

use super::{Delay, Error, Io};
use crate::protocol::{
    ApiKey, FrameError, FrameReader, InFlight, InFlightRequest, response_correlation_id,
};
use crate::wire::Status;

/// Requests a connection can track as in flight: Kafka's limit for idempotent producers.
pub const MAX_IN_FLIGHT: usize = 5;

/// A connection to a broker, with what was negotiated on it.
pub(crate) struct Connection<'c, C: TcpConnect + 'c> {
    stream: C::Connection<'c>,
    pub(crate) addr: SocketAddr,
    pub(crate) versions: Option<crate::protocol::NegotiatedVersions>,
    pub(crate) in_flight: InFlight<MAX_IN_FLIGHT>,
    /// Correlation ids of `acks=0` Produce requests written and not yet seen answered.
    unanswered: Option<(i32, i32)>,
    /// Stray responses drained on this connection.
    pub(crate) strays: u32,
    /// Until when (monotonic clock) the broker asked not to be sent to (a Produce response's
    /// `throttle_time_ms`, KIP-219: the broker answers at once and expects the client to wait).
    pub(crate) throttled_until_ms: u64,
}

/// Whether `id` lies in the wrapping window `lo..=hi`.
fn in_window(id: i32, (lo, hi): (i32, i32)) -> bool {
    (id.wrapping_sub(lo) as u32) <= (hi.wrapping_sub(lo) as u32)
}

impl<'c, C: TcpConnect + 'c> Connection<'c, C> {
    pub(crate) async fn open<'t>(
        connector: &'c C,
        addr: SocketAddr,
    ) -> Result<Self, Error<'t, C::Error>> {
        let stream = connector
            .connect(addr)
            .await
            .map_err(|error| Error::Transport {
                io: Io::Connect,
                broker: addr,
                error,
            })?;
        debug!("connected to a broker");
        Ok(Self {
            stream,
            addr,
            versions: None,
            in_flight: InFlight::new(),
            unanswered: None,
            strays: 0,
            throttled_until_ms: 0,
        })
    }

    /// Writes a whole frame, or the pieces of one.
    pub(crate) async fn write<'t>(&mut self, bytes: &[u8]) -> Result<(), Error<'t, C::Error>> {
        self.stream
            .write_all(bytes)
            .await
            .map_err(|error| Error::Transport {
                io: Io::Write,
                broker: self.addr,
                error,
            })
    }

    pub(crate) async fn flush<'t>(&mut self) -> Result<(), Error<'t, C::Error>> {
        self.stream.flush().await.map_err(|error| Error::Transport {
            io: Io::Write,
            broker: self.addr,
            error,
        })
    }

    /// Records that a request expecting an answer was written.
    pub(crate) fn expect(&mut self, request: InFlightRequest) -> Result<(), FrameError> {
        self.in_flight
            .push(request)
            .map_err(|_| FrameError::UnexpectedResponse {
                correlation_id: request.correlation_id,
            })
    }

    /// Records that an `acks=0` Produce request was written: a broker may answer it anyway.
    pub(crate) fn sent_unacknowledged(&mut self, correlation_id: i32) {
        self.unanswered = Some(match self.unanswered {
            None => (correlation_id, correlation_id),
            Some((lo, _)) => (lo, correlation_id),
        });
    }

    /// Classifies the complete frame in `reader`: `Ok(None)` for a stray (dropped and counted),
    /// `Ok(Some(request))` for the answer to the oldest request in flight, left in `reader`.
    fn classify(
        &mut self,
        reader: &mut FrameReader<'_>,
    ) -> Result<Option<InFlightRequest>, FrameError> {
        let id = reader
            .frame()
            .and_then(|body| response_correlation_id(body).ok())
            .ok_or(FrameError::UnexpectedResponse { correlation_id: -1 })?;
        let in_flight = self.in_flight.iter().any(|r| r.correlation_id == id);
        if !in_flight && let Some(window) = self.unanswered.filter(|&w| in_window(id, w)) {
            self.strays = self.strays.wrapping_add(1);
            self.unanswered = if id == window.1 {
                None
            } else {
                Some((id.wrapping_add(1), window.1))
            };
            reader.consume();
            trace!("drained a stray acks=0 response");
            return Ok(None);
        }
        self.in_flight.match_response(id).map(Some)
    }

    /// Reads once into the reader; `Ok(true)` when a frame is complete.
    async fn read_some<'t>(
        stream: &mut C::Connection<'c>,
        addr: SocketAddr,
        reader: &mut FrameReader<'_>,
    ) -> Result<bool, Error<'t, C::Error>> {
        if reader.receive_buffer().is_empty() {
            // A failed reader takes no more bytes: say so rather than report "incomplete"
            // forever.
            if let Some(error) = reader.error() {
                return Err(Error::Frame {
                    broker: addr,
                    error,
                });
            }
            return Ok(reader.frame().is_some());
        }
        let window = reader.receive_buffer();
        let n = stream
            .read(window)
            .await
            .map_err(|error| Error::Transport {
                io: Io::Read,
                broker: addr,
                error,
            })?;
        if n == 0 {
            return Err(Error::Closed {
                broker: addr,
                mid_frame: reader.buffered() > 0,
            });
        }
        match reader.commit(n) {
            Ok(Status::Complete { .. }) => Ok(true),
            Ok(Status::Incomplete { .. }) => Ok(false),
            Err(error) => Err(Error::Frame {
                broker: addr,
                error,
            }),
        }
    }

    /// Reads until the answer to the oldest request in flight is complete in `reader`,
    /// draining strays on the way. The caller decodes it and calls `reader.consume()`.
    pub(crate) async fn receive<'t>(
        &mut self,
        reader: &mut FrameReader<'_>,
    ) -> Result<InFlightRequest, Error<'t, C::Error>> {
        loop {
            if !Self::read_some(&mut self.stream, self.addr, reader).await? {
                continue;
            }
            match self.classify(reader) {
                Ok(Some(request)) => return Ok(request),
                Ok(None) => {}
                Err(error) => {
                    return Err(Error::Frame {
                        broker: self.addr,
                        error,
                    });
                }
            }
        }
    }

    /// Takes whatever has already arrived off the socket without waiting (each read is polled
    /// once): strays are dropped and counted. Needs the reader's `Read` to be cancel-safe
    /// (bytes not returned stay in the socket), as Tokio's and embassy-net's are. Only called
    /// with nothing in flight, so any complete frame that is not a stray is an error.
    pub(crate) fn drain<'t>(
        &mut self,
        reader: &mut FrameReader<'_>,
    ) -> Result<(), Error<'t, C::Error>> {
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            let complete = {
                let fut = pin!(Self::read_some(&mut self.stream, self.addr, reader));
                match fut.poll(&mut cx) {
                    Poll::Pending => return Ok(()),
                    Poll::Ready(result) => result?,
                }
            };
            if complete {
                self.classify(reader).map_err(|error| Error::Frame {
                    broker: self.addr,
                    error,
                })?;
            }
        }
    }

    /// Takes whatever has already arrived off the socket without waiting, like
    /// [`drain`](Self::drain), and stops at the first complete answer to a request in flight:
    /// `Ok(Some(request))`, its frame left in `reader`. `Ok(None)`: nothing complete yet (a
    /// partial frame may be in `reader`; only this connection may add to it).
    pub(crate) fn try_receive<'t>(
        &mut self,
        reader: &mut FrameReader<'_>,
    ) -> Result<Option<InFlightRequest>, Error<'t, C::Error>> {
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            let complete = if reader.frame().is_some() {
                true
            } else {
                let fut = pin!(Self::read_some(&mut self.stream, self.addr, reader));
                match fut.poll(&mut cx) {
                    Poll::Pending => return Ok(None),
                    Poll::Ready(result) => result?,
                }
            };
            if complete {
                let answered = self.classify(reader).map_err(|error| Error::Frame {
                    broker: self.addr,
                    error,
                })?;
                if answered.is_some() {
                    return Ok(answered);
                }
            }
        }
    }

    /// Whether `acks=0` Produce requests written on this connection are still unanswered (a
    /// broker that answers them, as Tansu does, has not caught up yet; Kafka never will).
    pub(crate) fn awaits_strays(&self) -> bool {
        self.unanswered.is_some()
    }

    /// Reads until one stray `acks=0` answer is complete and dropped. Only called with nothing
    /// in flight, so any other complete frame is an error.
    pub(crate) async fn receive_stray<'t>(
        &mut self,
        reader: &mut FrameReader<'_>,
    ) -> Result<(), Error<'t, C::Error>> {
        loop {
            if !Self::read_some(&mut self.stream, self.addr, reader).await? {
                continue;
            }
            match self.classify(reader) {
                Ok(None) => return Ok(()),
                Ok(Some(request)) => {
                    return Err(Error::Frame {
                        broker: self.addr,
                        error: FrameError::UnexpectedResponse {
                            correlation_id: request.correlation_id,
                        },
                    });
                }
                Err(error) => {
                    return Err(Error::Frame {
                        broker: self.addr,
                        error,
                    });
                }
            }
        }
    }

    /// The API of the oldest request in flight, for error messages.
    pub(crate) fn oldest_api(&self) -> ApiKey {
        self.in_flight
            .oldest()
            .map_or(ApiKey::Produce, |r| r.api_key)
    }
}

/// Runs `f` for at most `ms` milliseconds of `delay`: `None` if it did not finish.
pub(crate) async fn with_timeout<D: Delay, F: Future>(
    delay: &mut D,
    ms: u32,
    f: F,
) -> Option<F::Output> {
    let mut f = pin!(f);
    let mut timer = pin!(delay.delay_ms(ms));
    poll_fn(|cx| {
        if let Poll::Ready(v) = f.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}
