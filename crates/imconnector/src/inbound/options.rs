//! [`InboundOptions`]: the pipeline's bounds, timeouts and deduplication.

use std::time::Duration;

use imconnector_transport::InvalidRequest;

/// The [`Inbound`](super::Inbound) pipeline's settings; each setter checks its value.
#[derive(Debug, Clone)]
pub struct InboundOptions {
    pub(crate) max_in_flight: usize,
    pub(crate) max_held: usize,
    pub(crate) handler_timeout: Duration,
    pub(crate) attempts: u32,
    pub(crate) retry_delay: Duration,
    pub(crate) dedup_ttl: Duration,
    pub(crate) dedup_capacity: usize,
    pub(crate) confirm_linger: Duration,
}

impl Default for InboundOptions {
    /// 64 handlers in flight, 4,096 events held, a 60 s handler timeout, 3 attempts 1 s apart
    /// (doubling), keys remembered for 24 h (at most 100,000), confirmations gathered for 1 s.
    fn default() -> Self {
        Self {
            max_in_flight: 64,
            max_held: 4096,
            handler_timeout: Duration::from_secs(60),
            attempts: 3,
            retry_delay: Duration::from_secs(1),
            dedup_ttl: Duration::from_secs(24 * 3600),
            dedup_capacity: 100_000,
            confirm_linger: Duration::from_secs(1),
        }
    }
}

fn at_least_one(name: &'static str, value: usize) -> Result<(), InvalidRequest> {
    if value == 0 {
        return Err(InvalidRequest::new(name, "must be at least 1"));
    }
    Ok(())
}

impl InboundOptions {
    /// The defaults (see [`Default`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// At most `count` handlers run at once, across all chats (default 64).
    ///
    /// # Errors
    /// [`InvalidRequest`] naming `max_in_flight` when `count` is 0.
    pub fn max_in_flight(mut self, count: usize) -> Result<Self, InvalidRequest> {
        at_least_one("max_in_flight", count)?;
        self.max_in_flight = count;
        Ok(self)
    }

    /// At most `count` events are held (queued, running or waiting for their confirmation);
    /// a submission beyond waits (default 4,096). With the in-memory inbox the receiver's
    /// answer to the portal waits too.
    ///
    /// # Errors
    /// [`InvalidRequest`] naming `max_held` when `count` is 0 or above `u32::MAX >> 3`
    /// (Tokio's semaphore limit).
    pub fn max_held(mut self, count: usize) -> Result<Self, InvalidRequest> {
        at_least_one("max_held", count)?;
        if count > tokio::sync::Semaphore::MAX_PERMITS {
            return Err(InvalidRequest::new("max_held", "is too large"));
        }
        self.max_held = count;
        Ok(self)
    }

    /// A handler attempt that takes longer is cancelled and counts as failed (default 60 s).
    ///
    /// # Errors
    /// [`InvalidRequest`] naming `handler_timeout` when it is zero.
    pub fn handler_timeout(mut self, timeout: Duration) -> Result<Self, InvalidRequest> {
        if timeout.is_zero() {
            return Err(InvalidRequest::new("handler_timeout", "must be above zero"));
        }
        self.handler_timeout = timeout;
        Ok(self)
    }

    /// How many times a failing handler is run before the event is reported failed
    /// (default 3), and the wait before the second run (default 1 s; it doubles each time).
    ///
    /// # Errors
    /// [`InvalidRequest`] naming `attempts` when it is 0 or above 20.
    pub fn attempts(
        mut self,
        attempts: u32,
        retry_delay: Duration,
    ) -> Result<Self, InvalidRequest> {
        if attempts == 0 || attempts > 20 {
            return Err(InvalidRequest::new("attempts", "must be between 1 and 20"));
        }
        self.attempts = attempts;
        self.retry_delay = retry_delay;
        Ok(self)
    }

    /// How long a handled event's key is remembered, and at most how many are (defaults
    /// 24 h and 100,000; the oldest are forgotten first).
    ///
    /// # Errors
    /// [`InvalidRequest`] naming `dedup_capacity` when it is 0.
    pub fn dedup(mut self, ttl: Duration, capacity: usize) -> Result<Self, InvalidRequest> {
        at_least_one("dedup_capacity", capacity)?;
        self.dedup_ttl = ttl;
        self.dedup_capacity = capacity;
        Ok(self)
    }

    /// How long the confirmations of a portal gather before each call (default 1 s): a portal
    /// gets at most one confirmation call per this much time, whatever the rate of replies
    /// (the standard plan's bucket drains 2 calls a second, shared with everything else).
    pub fn confirm_linger(mut self, linger: Duration) -> Self {
        self.confirm_linger = linger;
        self
    }

    /// The handler timeout (see [`handler_timeout`](Self::handler_timeout)).
    pub fn timeout(&self) -> Duration {
        self.handler_timeout
    }

    /// The longest one event may run before it is reported failed: every attempt timing out,
    /// plus the waits between them. A durable inbox takes an entry from another replica only
    /// after it was idle longer than this.
    pub fn longest_run(&self) -> Duration {
        let waits = (0..self.attempts.saturating_sub(1))
            .map(|attempt| self.retry_delay * 2u32.saturating_pow(attempt))
            .sum::<Duration>();
        self.handler_timeout * self.attempts + waits
    }
}
