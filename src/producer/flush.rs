//! Sending what is due and reading the answers: [`Producer::poll`](super::Producer::poll),
//! [`Producer::flush`](super::Producer::flush), and the steps they share with
//! [`send`](super::Producer::send) (room for a batch) and [`wait`](super::Producer::wait):
//! requests written up to each connection's window, answers read in order, back-off and a
//! metadata refresh before batches go again (the epoch bump is [`super::epoch`]'s).

use embedded_nal_async::{Dns, TcpConnect};

use super::backoff;
use super::delivery::FlushSummary;
use super::producer::{Producer, Res};
use super::slot::Region;
use super::{Clock, Delay};
use crate::partition::Partitioner;

impl<'a, C, K, D, P, const T: usize, const B: usize, const R: usize, N, const L: usize>
    Producer<'a, C, K, D, P, T, B, R, N, L>
where
    C: TcpConnect + 'a,
    K: Clock,
    D: Delay,
    P: Partitioner,
    N: Dns,
{
    /// Applies the answers that have already arrived (without waiting), drains what the
    /// broker sent unasked (stray `acks=0` answers), and sends batches that are full, whose
    /// `linger.ms` has passed, or whose back-off before a retry is over (waiting only for room
    /// in a connection's window, and for a metadata refresh before a retry). Call it when idle;
    /// [`flush`](Self::flush) or [`wait`](Self::wait) wait for the answers.
    pub async fn poll(&mut self) -> Res<'a, (), C> {
        let now = self.clock.now_ms();
        self.poll_at(now).await
    }

    /// [`poll`](Self::poll) with the monotonic time `now` read by the caller (`send` reads
    /// the clock once per record: a clock read is not free on every machine).
    pub(super) async fn poll_at(&mut self, now: u64) -> Res<'a, (), C> {
        for ci in 0..L {
            if self.partial.is_some_and(|p| usize::from(p) != ci) {
                continue;
            }
            while let Some(conn) = self.conns.get_mut(ci).and_then(Option::as_mut) {
                match conn.try_receive(&mut self.reader) {
                    Ok(Some(answered)) => {
                        self.partial = None;
                        self.on_response(ci, answered)?;
                    }
                    Ok(None) => {
                        if self.reader.buffered() > 0 {
                            self.partial = Some(ci as u8);
                        }
                        break;
                    }
                    Err(e) => {
                        // A connection with nothing in flight that the broker closed (idle
                        // timeout) is only forgotten: the next request opens a new one.
                        if conn.in_flight.is_empty() {
                            self.drop_conn(ci);
                        } else {
                            self.lost(ci, e)?;
                        }
                        break;
                    }
                }
            }
        }
        // Batches to send again whose back-off is over (once the answers in flight are in: a
        // metadata refresh would wait for them).
        if self.slots.iter().any(|s| s.retrying)
            && now >= self.retry_due_ms
            && self.in_flight() == 0
        {
            self.retry_round().await;
        }
        let linger = u64::from(self.config.linger_ms);
        let mut due = false;
        for si in 0..B {
            let lingered = self.slots.get(si).is_some_and(|s| match s.region {
                Region::Open(_) => now.saturating_sub(s.opened_ms) >= linger,
                _ => false,
            });
            if lingered {
                self.seal(si);
            }
            due |= self.slots.get(si).is_some_and(|s| s.is_waiting());
        }
        if due {
            self.send_ready().await?;
        }
        Ok(())
    }

    /// Sends every batch and, with `acks` ≠ 0, waits for the answers. When it returns, every
    /// batch sealed before or during it has its outcome, known to [`delivery`](Self::delivery)
    /// and [`take_reports`](Self::take_reports): nothing stays pending behind a flush.
    ///
    /// Retriable failures (a partition's retriable error code, a lost connection, a timeout,
    /// an epoch bump that could not be made) are retried as `retries`, `retry.backoff.ms` and
    /// `delivery.timeout.ms` allow, within this call. An `Err` means something failed for
    /// good (the first such failure is returned): the batches it concerned are reported
    /// failed ([`NoResponse`](super::DeliveryError::NoResponse) if they were written,
    /// [`NotSent`](super::DeliveryError::NotSent) if not), and the others were still sent and
    /// answered before it returned.
    pub async fn flush(&mut self) -> Res<'a, FlushSummary, C> {
        for si in 0..B {
            self.seal(si);
        }
        let mut failure = None;
        loop {
            let before = self.progress();
            match self.step().await {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    // Carry on with the other batches. Every failure path resolves the
                    // batches it concerns; one that did not (no batch moved on) would fail
                    // again at the next step, so the batches waiting fail now instead of the
                    // flush going round forever.
                    if self.progress() == before {
                        for si in 0..B {
                            if self.slots.get(si).is_some_and(|s| s.is_waiting()) {
                                self.give_up(si);
                            }
                        }
                    }
                    failure.get_or_insert(e);
                }
            }
        }
        // Every batch has an outcome now; should one not (a bug), it fails rather than being
        // kept forever.
        for si in 0..B {
            if self.slots.get(si).is_some_and(|s| s.is_sealed()) {
                self.give_up(si);
            }
        }
        match failure {
            // What was done stays counted for the next flush's summary.
            Some(e) => Err(e),
            None => Ok(core::mem::take(&mut self.tally)),
        }
    }

    /// What changes whenever a step moves a batch on: batches sealed, their attempts, answers
    /// awaited, outcomes recorded, requests written.
    fn progress(&self) -> (usize, u32, usize, usize, u32) {
        let sealed = self.slots.iter().filter(|s| s.is_sealed()).count();
        let attempts = self
            .slots
            .iter()
            .fold(0u32, |n, s| n.wrapping_add(s.attempts));
        (
            sealed,
            attempts,
            self.in_flight(),
            self.next_outcome,
            self.produce_requests,
        )
    }

    /// One step towards every sealed batch having an outcome: send what may go, else read
    /// the oldest answer of a connection, else back off and refresh metadata before batches
    /// go again. `false` when there is nothing left to do.
    pub(super) async fn step(&mut self) -> Res<'a, bool, C> {
        self.step_within(u64::MAX).await
    }

    /// [`step`](Self::step), its waits (for an answer, for a back-off to end) cut short at
    /// `deadline` (on the [`Clock`]); a request is always written whole (a half-written one
    /// would break the connection's framing), so a step may end after the deadline by up to
    /// one write's `request.timeout.ms`.
    pub(super) async fn step_within(&mut self, deadline: u64) -> Res<'a, bool, C> {
        self.send_ready().await?;
        let busy = self.partial.map(usize::from).or_else(|| {
            self.conns
                .iter()
                .position(|c| c.as_ref().is_some_and(|c| !c.in_flight.is_empty()))
        });
        if let Some(ci) = busy {
            let cap =
                u32::try_from(deadline.saturating_sub(self.clock.now_ms())).unwrap_or(u32::MAX);
            match self.receive_within(ci, cap).await {
                Ok(Some(answered)) => self.on_response(ci, answered)?,
                Ok(None) => {}
                Err(e) => self.lost(ci, e)?,
            }
            return Ok(true);
        }
        if !self.slots.iter().any(|s| s.retrying) {
            return Ok(false);
        }
        let now = self.clock.now_ms();
        if self.retry_due_ms > now {
            let ms = u32::try_from(self.retry_due_ms.min(deadline).saturating_sub(now))
                .unwrap_or(u32::MAX);
            self.delay.delay_ms(ms).await;
            if self.clock.now_ms() < self.retry_due_ms {
                // The deadline came first: the back-off goes on at the next step.
                return Ok(true);
            }
        }
        self.retry_round().await;
        Ok(true)
    }

    /// The back-off of the batches to send again is over: their topics' metadata is fetched
    /// again (so that they follow a new leader), and they may go.
    async fn retry_round(&mut self) {
        for ti in 0..T {
            if !self.slots.iter().any(|s| s.retrying && s.topic == ti) {
                continue;
            }
            if let Some(name) = self.metadata.topic_at(ti).map(|t| t.name) {
                // A failed refresh keeps the old metadata: the retry will tell.
                if self.fetch_metadata(name).await.is_err() {
                    warn!("metadata refresh before a retry failed");
                }
            }
        }
        for slot in &mut self.slots {
            slot.retrying = false;
        }
    }

    /// The back-off before retry number `attempt`: KIP-580's exponential back-off with
    /// jitter.
    pub(super) fn back_off_ms(&mut self, attempt: u32) -> u32 {
        let term = self.config.backoff_ms(attempt);
        let max = self
            .config
            .retry_backoff_max_ms
            .max(self.config.retry_backoff_ms);
        backoff::jittered(term, max, backoff::next(&mut self.rng))
    }

    /// Writes a Produce request to each leader with batches that may go now (the epoch bumped
    /// first if a sequence broke).
    pub(super) async fn send_ready(&mut self) -> Res<'a, (), C> {
        // Leaders that had nothing ready this round (their batches wait behind older ones).
        let mut skipped = [i32::MIN; B];
        let mut n_skipped = 0;
        loop {
            #[cfg(feature = "idempotence")]
            if self.bump_due() && self.pid().is_some() {
                self.bump().await?;
            }
            let next = (0..B).find_map(|si| {
                let waiting = self.slots.get(si).is_some_and(|s| s.is_waiting());
                let leader = self.leader_of(si);
                (waiting && !skipped.iter().take(n_skipped).any(|&l| l == leader)).then_some(leader)
            });
            let Some(leader) = next else {
                return Ok(());
            };
            if self.produce_to(leader).await? == 0
                && !self.bump_due()
                && let Some(s) = skipped.get_mut(n_skipped)
            {
                *s = leader;
                n_skipped += 1;
            }
        }
    }

    /// Reads every answer in flight on connection `ci`.
    pub(super) async fn settle(&mut self, ci: usize) -> Res<'a, (), C> {
        while self
            .conns
            .get(ci)
            .and_then(Option::as_ref)
            .is_some_and(|c| !c.in_flight.is_empty())
        {
            match self.receive(ci).await {
                Ok(answered) => self.on_response(ci, answered)?,
                Err(e) => return self.lost(ci, e),
            }
        }
        Ok(())
    }

    /// Makes a batch buffer free: sends sealed batches (sealing the oldest open one if none
    /// is), reads answers, backs off and retries, until one is.
    pub(super) async fn make_room(&mut self) -> Res<'a, (), C> {
        if B == 0 {
            return Ok(());
        }
        loop {
            if self
                .slots
                .iter()
                .any(|s| matches!(s.region, Region::Idle(_)))
            {
                return Ok(());
            }
            if !self.slots.iter().any(|s| s.is_sealed()) {
                let oldest = (0..B)
                    .filter(|&si| {
                        self.slots
                            .get(si)
                            .is_some_and(|s| matches!(s.region, Region::Open(_)))
                    })
                    .min_by_key(|&si| self.slots.get(si).map_or(u64::MAX, |s| s.opened_ms));
                if let Some(si) = oldest {
                    self.seal(si);
                }
            }
            if !self.step().await? && !self.slots.iter().any(|s| s.is_sealed()) {
                // Nothing sealed, nothing to step: every buffer holds an empty open batch,
                // which sealing frees.
                for si in 0..B {
                    self.seal(si);
                }
            }
        }
    }
}
