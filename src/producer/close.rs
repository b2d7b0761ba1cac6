//! [`Producer::close`](super::Producer::close): everything sent and answered, then the
//! connections closed cleanly.
//!
//! # Why `acks=0` needs a close of its own
//!
//! Kafka never answers an `acks=0` Produce request; Tansu does (`BROKER.md`). A program that
//! exits (or drops its connections) with such answers unread in its socket makes the kernel
//! send a reset instead of a clean end of stream, and a broker that gets a reset drops the
//! requests it had not read yet: 10,000 records sent, 5,960 stored, measured with the CLI. So
//! before closing, the answers the broker is still sending are read, until there is one per
//! request written on the connection.
//!
//! How long to wait is the question, since the producer cannot tell a broker that will never
//! answer (Kafka) from one that has not answered yet:
//!
//! - a connection on which no `acks=0` answer ever came waits at most
//!   [`CLOSE_FIRST_ANSWER_MS`] for a first one: against Kafka, `close` costs that much, once;
//! - once the broker answers, the producer keeps reading while answers keep coming, each
//!   within [`CLOSE_QUIET_MS`] of the one before, and stops as soon as every request is
//!   answered;
//! - all of it within `request.timeout.ms`.
//!
//! A broker that stops answering half-way (overloaded, or gone) therefore costs at most
//! [`CLOSE_QUIET_MS`] more; what it had not read by then may be lost, as with any `acks=0`
//! producer.

use embedded_nal_async::{Dns, TcpConnect};

use super::connection::with_timeout;
use super::delivery::FlushSummary;
use super::producer::{Producer, Res};
use super::{Clock, Delay};
use crate::partition::Partitioner;

/// How long a connection that never got an `acks=0` answer waits for a first one at close.
/// Short, as against Kafka it never comes; long enough for a broker that answers (Tansu
/// answers within a millisecond or so of reading a request, and by the time the last request
/// is written it is usually answering already).
pub const CLOSE_FIRST_ANSWER_MS: u32 = 100;

/// How long, at close, an `acks=0` answer may take after the previous one before the broker is
/// taken to have stopped answering.
pub const CLOSE_QUIET_MS: u32 = 1_000;

impl<'a, C, K, D, P, const T: usize, const B: usize, const R: usize, N, const L: usize>
    Producer<'a, C, K, D, P, T, B, R, N, L>
where
    C: TcpConnect + 'a,
    K: Clock,
    D: Delay,
    P: Partitioner,
    N: Dns,
{
    /// Sends every batch and waits for the answers ([`flush`](Self::flush)), then closes
    /// every connection cleanly: with `acks=0`, after reading the answers a broker that
    /// answers anyway is still sending (at most `request.timeout.ms`, and only while it keeps
    /// answering: see [`CLOSE_FIRST_ANSWER_MS`] and [`CLOSE_QUIET_MS`]), so that the
    /// connection ends with a clean end of stream rather than a reset that would make the
    /// broker drop requests it had not read yet.
    ///
    /// Call it before the program exits or drops the producer. The producer stays usable: a
    /// later [`send`](Self::send) opens new connections. The summary is the flush's; if the
    /// flush fails, the connections are closed all the same and its error returned.
    pub async fn close(&mut self) -> Res<'a, FlushSummary, C> {
        let flushed = self.flush().await;
        // Also after a failed flush: what was written is not to be lost to a reset.
        if self.config.acks == super::Acks::None {
            self.settle_strays().await;
        }
        for ci in 0..L {
            // Whatever has arrived is read before the socket closes (unread bytes turn the
            // close into a reset); nothing is in flight after a flush.
            if let Some(conn) = self.conns.get_mut(ci).and_then(Option::as_mut)
                && conn.in_flight.is_empty()
                && conn.drain(&mut self.reader).is_err()
            {
                warn!("a connection failed while it was being closed");
            }
            self.release(super::retry::Release::Conn(ci), true);
            self.drop_conn(ci);
        }
        flushed
    }

    /// Reads the stray `acks=0` answers still coming, as [`close`](Self::close) explains. A
    /// connection that fails meanwhile is only closed: everything on it was written, and
    /// `acks=0` asks for nothing more.
    async fn settle_strays(&mut self) {
        let started = self.clock.now_ms();
        let limit = u64::from(self.config.request_timeout_ms);
        for ci in 0..L {
            // A partial frame of another connection is finished first.
            if self.settle_partial(ci).await.is_err() {
                warn!("a connection failed while its answers were read");
            }
            while let Some(conn) = self
                .conns
                .get_mut(ci)
                .and_then(Option::as_mut)
                .filter(|c| c.awaits_strays())
            {
                let spent = self.clock.now_ms().saturating_sub(started);
                let left = u32::try_from(limit.saturating_sub(spent)).unwrap_or(u32::MAX);
                let quiet = if conn.strays == 0 {
                    CLOSE_FIRST_ANSWER_MS
                } else {
                    CLOSE_QUIET_MS
                };
                let ms = quiet.min(left);
                if ms == 0 {
                    break;
                }
                match with_timeout(&mut self.delay, ms, conn.receive_stray(&mut self.reader)).await
                {
                    Some(Ok(())) => {}
                    // No answer within the quiet period: a broker that does not answer.
                    None => break,
                    Some(Err(_)) => {
                        warn!("a connection failed while its answers were read");
                        self.drop_conn(ci);
                        break;
                    }
                }
            }
        }
    }
}
