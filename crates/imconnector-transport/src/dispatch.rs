//! The one non-generic body behind every call: auth, pacing, the attempt, classification of
//! the answer, refresh-and-replay and retries.

use std::{
    future::Future,
    pin::{pin, Pin},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use tracing::{field::Empty, Instrument};

use crate::{
    answer::{decode_answer, Answer},
    attempt::Attempt,
    call::Call,
    code::ErrorCode,
    error::Error,
    method::AuthKind,
    oauth::Snapshot,
    result_reader::{ResultReader, Success},
    shared::{Auth, Shared},
};

/// What to do after an attempt.
enum Next {
    Done(Result<(Success, u16), Error>),
    Retry { wait: Duration, error: Error },
    RefreshAndReplay { seen: u64, error: Error },
}

impl Shared {
    /// Runs a call to completion: the single body every typed, raw and batch call goes through.
    /// The method's name is checked before (when a typed call is compiled, for a raw call by
    /// [`check_method_name`](crate::call::check_method_name)), so it cannot escape the URL path.
    /// A typed call gives its `reader`, which reads the `result` of a plain success in the
    /// pass that reads the envelope.
    pub(crate) async fn execute(
        &self,
        call: Call<'_>,
        reader: Option<&mut dyn ResultReader>,
    ) -> Result<(Success, u16), Error> {
        if call.auth == AuthKind::OAuthOnly && matches!(self.auth, Auth::Webhook { .. }) {
            return Err(Error::WrongAuthKind {
                method: call.method.to_owned(),
            });
        }
        if let Some(plan) = &self.plan {
            // Once per client; every other caller waits for that one answer. Boxed: inline, its
            // state (a whole call) would double the size of every call's future.
            plan.get_or_init(|| Box::pin(self.learn_plan())).await;
        }
        let request_id = self.next_request_id();
        let span = tracing::info_span!(
            "imconnector_call",
            method = call.method,
            request_id = %request_id,
            attempts = Empty,
            status = Empty,
            duration_ms = Empty,
        );
        self.run(&call, &request_id, span.clone(), reader)
            .instrument(span)
            .await
    }

    /// The call's attempts, within `span` (the call's span, which the caller enters).
    pub(crate) async fn run(
        &self,
        call: &Call<'_>,
        request_id: &str,
        span: tracing::Span,
        mut reader: Option<&mut dyn ResultReader>,
    ) -> Result<(Success, u16), Error> {
        let policy = self.retry;
        // When the call started, only when a subscriber wants the span: a call nobody traces
        // reads the clock once less and records nothing.
        let started = (!span.is_disabled()).then(Instant::now);
        let deadline = tokio::time::Instant::now() + policy.deadline;
        // The call's one timer: at the call's deadline, brought forward to the attempt's own
        // timeout while an attempt is out. reqwest's per-request timer is not armed: two timers
        // per call cost a few points of throughput with many calls in flight.
        let mut timer = pin!(tokio::time::sleep_until(deadline));
        let mut first_sent: Option<Instant> = None;
        let mut attempt: u32 = 0;
        let mut replayed = false;
        loop {
            let paced = self.pacer.before_send(call.method, policy.max_elapsed);
            if until(&mut timer, pin!(paced)).await.is_none() {
                return Err(self.deadline_passed(call, request_id, false));
            }
            // After the pacing wait, which can be long: a token read before it may have expired.
            let credentials = match &self.auth {
                Auth::OAuth { session, .. } => {
                    match until(&mut timer, pin!(session.usable())).await {
                        Some(usable) => Some(usable?),
                        None => return Err(self.deadline_passed(call, request_id, false)),
                    }
                }
                Auth::Webhook { .. } => None,
            };
            attempt += 1;
            let sent_at = Instant::now();
            let first_sent = *first_sent.get_or_insert(sent_at);
            let attempt_deadline = deadline.min(tokio::time::Instant::now() + self.request_timeout);
            timer.as_mut().reset(attempt_deadline);
            let outcome = match until(
                &mut timer,
                pin!(self.attempt(call, credentials.as_ref(), request_id)),
            )
            .await
            {
                Some(outcome) => outcome,
                None if attempt_deadline == deadline => {
                    // Cut short while the attempt was out: it may have been applied.
                    return Err(self.deadline_passed(call, request_id, true));
                }
                None => Attempt::TimedOut,
            };
            if let Some(started) = started {
                span.record("attempts", attempt);
                span.record("duration_ms", started.elapsed().as_millis());
                if let Attempt::Answer { status, .. } = &outcome {
                    span.record("status", status);
                }
            }
            if let Attempt::Answer { status, .. } = &outcome {
                tracing::debug!(
                    attempt,
                    status,
                    elapsed_ms = sent_at.elapsed().as_millis(),
                    "answer received"
                );
            }
            let reader = reader.as_deref_mut();
            match self.judge(
                call,
                outcome,
                reader,
                credentials.as_ref(),
                attempt,
                request_id,
            ) {
                Next::Done(result) => return result,
                Next::RefreshAndReplay { seen, error } => {
                    let Auth::OAuth { session, .. } = &self.auth else {
                        return Err(error);
                    };
                    if replayed {
                        return Err(error);
                    }
                    replayed = true;
                    // The replay after a refresh is not a retry: it does not use up the budget.
                    attempt -= 1;
                    tracing::info!(%error, "access token refused, refreshing and replaying once");
                    timer.as_mut().reset(deadline);
                    match until(&mut timer, pin!(session.refresh(seen))).await {
                        Some(refreshed) => refreshed?,
                        None => return Err(self.deadline_passed(call, request_id, false)),
                    };
                }
                Next::Retry { wait, error } => {
                    if attempt >= policy.max_attempts
                        || first_sent.elapsed() + wait > policy.max_elapsed
                    {
                        tracing::warn!(attempt, %error, "giving up");
                        return Err(error);
                    }
                    tracing::warn!(attempt, wait_ms = wait.as_millis(), %error, "retrying");
                    timer.as_mut().reset(deadline);
                    if until(&mut timer, pin!(tokio::time::sleep(wait)))
                        .await
                        .is_none()
                    {
                        return Err(self.deadline_passed(call, request_id, false));
                    }
                }
            }
        }
    }

    /// The error of a call whose deadline passed: a timeout, or, when an attempt of a method
    /// that is not idempotent was out, an unknown outcome.
    fn deadline_passed(&self, call: &Call<'_>, request_id: &str, in_flight: bool) -> Error {
        tracing::warn!(
            method = call.method,
            deadline_ms = self.retry.deadline.as_millis(),
            "call deadline passed"
        );
        let timeout = Error::Timeout {
            method: call.method.to_owned(),
        };
        if in_flight && !call.idempotent {
            return Error::OutcomeUnknown {
                method: call.method.to_owned(),
                request_id: request_id.to_owned(),
                source: Box::new(timeout),
            };
        }
        timeout
    }

    /// Classifies an attempt's outcome. Codes decide, not HTTP statuses.
    fn judge(
        &self,
        call: &Call<'_>,
        outcome: Attempt,
        reader: Option<&mut (dyn ResultReader + '_)>,
        credentials: Option<&Snapshot>,
        attempt: u32,
        request_id: &str,
    ) -> Next {
        // The usual answer, a success envelope, is settled here; everything else out of line
        // (`judge_other`), which keeps the instructions every call runs close together.
        if let Attempt::Answer { status, body, .. } = &outcome {
            let success = match reader {
                Some(reader) => reader.read_success(body).map(Success::Read),
                None => crate::envelope_text::read_success(body).map(Success::Text),
            };
            if let Some(success) = success {
                self.pacer.observe(call.method, success.time());
                return Next::Done(Ok((success, *status)));
            }
        }
        self.judge_other(call, outcome, credentials, attempt, request_id)
    }

    /// [`judge`](Self::judge) for every outcome but a success envelope: failures, errors,
    /// bodies that are no envelope.
    #[cold]
    #[inline(never)]
    fn judge_other(
        &self,
        call: &Call<'_>,
        outcome: Attempt,
        credentials: Option<&Snapshot>,
        attempt: u32,
        request_id: &str,
    ) -> Next {
        // Drawn only when needed: a success, the common case, costs no random number.
        let backoff = || self.retry.backoff(attempt);
        let outcome_unknown = |source: Error| Error::OutcomeUnknown {
            method: call.method.to_owned(),
            request_id: request_id.to_owned(),
            source: Box::new(source),
        };
        let network_error = |error: reqwest::Error| {
            if error.is_timeout() {
                Error::Timeout {
                    method: call.method.to_owned(),
                }
            } else {
                Error::transport(call.method, error)
            }
        };
        let (status, body, retry_after, html) = match outcome {
            Attempt::Refused(error) => return Next::Done(Err(error)),
            Attempt::NotSent(error) => {
                return Next::Retry {
                    wait: backoff(),
                    error: network_error(error),
                }
            }
            Attempt::MaybeSent(error) if call.idempotent => {
                return Next::Retry {
                    wait: backoff(),
                    error: network_error(error),
                }
            }
            Attempt::MaybeSent(error) => {
                return Next::Done(Err(outcome_unknown(network_error(error))))
            }
            Attempt::TimedOut if call.idempotent => {
                return Next::Retry {
                    wait: backoff(),
                    error: Error::Timeout {
                        method: call.method.to_owned(),
                    },
                }
            }
            Attempt::TimedOut => {
                return Next::Done(Err(outcome_unknown(Error::Timeout {
                    method: call.method.to_owned(),
                })))
            }
            Attempt::TooLarge { status } => {
                let error = Error::ResponseTooLarge {
                    method: call.method.to_owned(),
                    http_status: status,
                    limit: self.max_response_size,
                };
                // Not retried: a server that sent too much once would again. The portal
                // answered, so a call that is not idempotent may have been applied.
                return Next::Done(Err(if call.idempotent {
                    error
                } else {
                    outcome_unknown(error)
                }));
            }
            Attempt::Answer {
                status,
                body,
                retry_after,
                html,
            } => (status, body, retry_after, html),
        };
        let api = match decode_answer(call.method, status, &body) {
            Ok(Answer::Success(response)) => {
                self.pacer.observe(call.method, response.time.as_ref());
                return Next::Done(Ok((Success::Text(response), status)));
            }
            Ok(Answer::Failure(api)) => api,
            Err(undecodable) => {
                let error = if crate::body::is_html(html.then_some("text/html"), &body) {
                    // A maintenance or proxy page: said plainly, with its text, not as a
                    // confusing "not JSON" with a snippet of markup.
                    Error::HtmlPage {
                        method: call.method.to_owned(),
                        http_status: status,
                        snippet: self.snippet(&crate::body::page_text(&body)),
                    }
                } else {
                    Error::Decode {
                        method: call.method.to_owned(),
                        http_status: status,
                        reason: undecodable.reason,
                        snippet: self.snippet(&body),
                    }
                };
                // A 5xx page means the portal (or a proxy) got the request and then failed.
                return match (status >= 500, call.idempotent) {
                    (true, true) => Next::Retry {
                        wait: backoff(),
                        error,
                    },
                    (true, false) => Next::Done(Err(outcome_unknown(error))),
                    (false, _) => Next::Done(Err(error)),
                };
            }
        };
        let backoff = backoff();
        let hinted = backoff.max(retry_after.unwrap_or_default());
        match (&api.code, credentials) {
            (ErrorCode::ExpiredToken | ErrorCode::InvalidToken, Some(snapshot)) => {
                Next::RefreshAndReplay {
                    seen: snapshot.generation,
                    error: Error::Api(api),
                }
            }
            (ErrorCode::QueryLimitExceeded, _) => {
                // Every caller of this client (and, through a shared limiter, every replica)
                // slows down, not just this one.
                self.pacer.push_back(hinted);
                Next::Retry {
                    wait: hinted,
                    error: Error::Api(api),
                }
            }
            (ErrorCode::OperationTimeLimit, _) => {
                // Blocked until the oldest minute of the window expires, when the portal said when.
                let wait = self
                    .pacer
                    .until_reset(call.method)
                    .map_or(hinted, |until_reset| until_reset + backoff / 2);
                Next::Retry {
                    wait,
                    error: Error::Api(api),
                }
            }
            _ if status >= 500 && call.idempotent => Next::Retry {
                wait: backoff,
                error: Error::Api(api),
            },
            _ => Next::Done(Err(Error::Api(api))),
        }
    }
}

/// `future`'s output, or `None` when `timer` fires first (the future is polled first: an
/// answer that is ready is taken even when the timer fired too).
///
/// The caller pins `future` where it stands: taken by value, it would be stored twice in the
/// call's state (the argument and the pinned copy), and a bigger call future costs every poll
/// and move of it (measured: the call's future shrank by a third).
fn until<'a, 'b, F: Future>(
    timer: &'a mut Pin<&'b mut tokio::time::Sleep>,
    future: Pin<&'a mut F>,
) -> Until<'a, 'b, F> {
    Until { timer, future }
}

/// The future of [`until`]: a struct rather than an `async fn` over `select`, so a poll of a
/// call goes through one layer less (each poll of every call in flight pays for it).
struct Until<'a, 'b, F> {
    timer: &'a mut Pin<&'b mut tokio::time::Sleep>,
    future: Pin<&'a mut F>,
}

impl<F: Future> Future for Until<'_, '_, F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Poll::Ready(value) = this.future.as_mut().poll(context) {
            return Poll::Ready(Some(value));
        }
        this.timer.as_mut().poll(context).map(|()| None)
    }
}
