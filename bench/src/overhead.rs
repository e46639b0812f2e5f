//! SDK overhead: `imconnector.status` through the SDK next to a hand-written reqwest +
//! serde_json loop making the same HTTP calls (the floor), against the emulator with limits off.
//!
//! A third loop is the floor with the SDK's HTTP settings (a connect timeout, no redirects, its
//! `User-Agent`, `Accept` and `X-Request-Id` headers, and one timer per call for the request
//! timeout, as the SDK arms), which splits the overhead into what those settings cost and what
//! the SDK's own code costs.
//!
//! Each client runs `in_flight` loops of calls at once (1: one call at a time; 16: sixteen
//! concurrent calls, as a busy connector does) on the measuring thread (a current-thread
//! runtime), while the emulator serves from its own threads, so `getrusage(RUSAGE_THREAD)` is
//! the client's CPU alone. The clients alternate in rounds, so a noisy neighbour hurts all alike,
//! and the figures judged against the targets are medians over the rounds of each round's
//! SDK / floor ([`Figures::median_cpu_ratio`]), which a disturbed round does not move.
//!
//! Concurrent loops are driven one of two ways ([`Driving`]): each polled when its own call
//! wakes it, as tasks are (the SDK's sender runs its calls in a `JoinSet`), or all polled at
//! every wake-up, as `join_all` of fewer than 31 futures does.

use std::{future::Future, time::Duration};

use futures::future::try_join_all;
use futures::stream::{FuturesUnordered, StreamExt};
use nix::sys::resource::{getrusage, Usage, UsageWho};
use nix::sys::time::TimeValLike;

use imconnector_api::ids::LineId;
use imconnector_api::methods::GetConnectorStatus;
use imconnector_emulator::Emulator;
use imconnector_transport::{Client, RateLimit};
use serde_json::{json, Value};

use crate::measure::{micros_each, per_second, Spent, Stopwatch};
use crate::portal::{connector, Access, Portal, SetupError, CONNECTOR};

/// How much to run.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Calls per round and variant.
    pub calls_per_round: u64,
    /// Rounds (each runs both variants).
    pub rounds: u32,
    /// Calls before measuring (each variant).
    pub warmup: u64,
    /// Calls each client has in flight at once (1: sequential); divides `calls_per_round`.
    pub in_flight: u64,
    /// How the concurrent loops are polled.
    pub driving: Driving,
}

/// How the loops of calls in flight are polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driving {
    /// Each loop polled when its own call wakes it (`FuturesUnordered`), as tasks are.
    AsTasks,
    /// Every loop polled at every wake-up of any (`try_join_all` of fewer than 31 futures), so
    /// a call's future is polled many times for nothing: its cost per poll counts.
    Joined,
}

/// The measured figures.
#[derive(Debug, Clone)]
pub struct Figures {
    /// Calls made per variant.
    pub calls: u64,
    /// The SDK's time.
    pub sdk: Spent,
    /// The floor's time.
    pub floor: Spent,
    /// The floor's time with the SDK's HTTP settings.
    pub floor_like_sdk: Spent,
    /// Bytes of one `Client::call` future (what every call in flight keeps and moves).
    pub sdk_future_bytes: usize,
    /// Bytes of one call future of the floor with the SDK's HTTP settings.
    pub floor_future_bytes: usize,
    /// Each round's time of the SDK and of the floor, measured one right after the other.
    pub rounds: Vec<(Spent, Spent)>,
}

impl Figures {
    /// SDK calls per second.
    pub fn sdk_rate(&self) -> f64 {
        per_second(self.calls, self.sdk.wall)
    }

    /// Floor calls per second.
    pub fn floor_rate(&self) -> f64 {
        per_second(self.calls, self.floor.wall)
    }

    /// Floor calls per second with the SDK's HTTP settings.
    pub fn floor_like_sdk_rate(&self) -> f64 {
        per_second(self.calls, self.floor_like_sdk.wall)
    }

    /// Floor CPU microseconds per call with the SDK's HTTP settings.
    pub fn floor_like_sdk_cpu_micros(&self) -> f64 {
        micros_each(self.floor_like_sdk.cpu, self.calls)
    }

    /// SDK CPU microseconds per call.
    pub fn sdk_cpu_micros(&self) -> f64 {
        micros_each(self.sdk.cpu, self.calls)
    }

    /// Floor CPU microseconds per call.
    pub fn floor_cpu_micros(&self) -> f64 {
        micros_each(self.floor.cpu, self.calls)
    }

    /// SDK / floor CPU per call, the median over rounds: the figure judged against its
    /// target. The two run one right after the other in each round, so a stretch when the
    /// machine is busy weighs on both of a pair, and a round that is an outlier (the thread
    /// preempted or its caches emptied by another, which on 2 cores shared with the
    /// emulator's threads happens every few rounds and can double a round's CPU time) does
    /// not move the median as it moves the ratio of the totals.
    pub fn median_cpu_ratio(&self) -> f64 {
        median(
            self.rounds
                .iter()
                .map(|(sdk, floor)| sdk.cpu.as_secs_f64() / floor.cpu.as_secs_f64()),
        )
    }

    /// SDK / floor calls per second, the median over rounds (see
    /// [`median_cpu_ratio`](Self::median_cpu_ratio)).
    pub fn median_rate_ratio(&self) -> f64 {
        median(
            self.rounds
                .iter()
                .map(|(sdk, floor)| floor.wall.as_secs_f64() / sdk.wall.as_secs_f64()),
        )
    }
}

/// The median of `values` (the mean of the middle two of an even count); NaN for none.
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        count if count % 2 == 1 => values[count / 2],
        count => (values[count / 2 - 1] + values[count / 2]) / 2.0,
    }
}

/// The floor: what a hand-written client does for the same call.
struct Floor {
    http: reqwest::Client,
    url: String,
    body: Vec<u8>,
    sdk_headers: bool,
    /// One tokio timer per call, as the SDK arms (its request timeout, answer included).
    timer: bool,
}

impl Floor {
    /// The plain floor, or (`like_sdk`) one with the HTTP settings the SDK's client uses.
    fn new(access: &Access, like_sdk: bool) -> Result<Self, SetupError> {
        let body = serde_json::to_vec(
            &json!({"CONNECTOR": CONNECTOR, "LINE": 1, "auth": access.access_token}),
        )?;
        let mut http = reqwest::Client::builder().no_proxy();
        if like_sdk {
            http = http
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(Duration::from_secs(10))
                .user_agent("imconnector-rs/0.1.0");
        }
        Ok(Self {
            http: http.build()?,
            url: format!("{}imconnector.status", access.rest_url),
            body,
            sdk_headers: like_sdk,
            timer: like_sdk,
        })
    }

    /// The plain floor with only the SDK's one timer per call: splits what the timer costs from
    /// what the other HTTP settings cost.
    fn with_timer(access: &Access) -> Result<Self, SetupError> {
        Ok(Self {
            timer: true,
            ..Self::new(access, false)?
        })
    }

    async fn call(&self) -> Result<(), SetupError> {
        if self.timer {
            return tokio::time::timeout(Duration::from_secs(55), self.exchange())
                .await
                .map_err(|_| "the floor's call timed out")?;
        }
        self.exchange().await
    }

    async fn exchange(&self) -> Result<(), SetupError> {
        let mut request = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if self.sdk_headers {
            request = request
                .header(reqwest::header::ACCEPT, "application/json")
                .header("X-Request-Id", "5f2a9c1e-1234");
        }
        let response = request.body(self.body.clone()).send().await?;
        let bytes = response.bytes().await?;
        let answer: Value = serde_json::from_slice(&bytes)?;
        if answer["result"]["STATUS"] != Value::Bool(true) {
            return Err(format!("unexpected answer: {answer}").into());
        }
        Ok(())
    }
}

async fn sdk_call(client: &Client, request: &GetConnectorStatus) -> Result<(), SetupError> {
    let status = client.call(request).await?;
    if !status.status {
        return Err("the connector's STATUS is not true".into());
    }
    Ok(())
}

/// Makes `calls` calls with `call`, `in_flight` at a time (each of `in_flight` loops makes its
/// share one after the other), all on the current task, the loops polled as `driving` says.
async fn calls_in_flight<F, Fut>(
    calls: u64,
    in_flight: u64,
    driving: Driving,
    call: F,
) -> Result<(), SetupError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), SetupError>>,
{
    let in_flight = in_flight.max(1);
    let loops = (0..in_flight).map(|index| {
        // The first loops take the remainder, so exactly `calls` calls are made.
        let share = calls / in_flight + u64::from(index < calls % in_flight);
        let call = &call;
        async move {
            for _ in 0..share {
                call().await?;
            }
            Ok::<_, SetupError>(())
        }
    });
    match driving {
        Driving::AsTasks => {
            let mut loops: FuturesUnordered<_> = loops.collect();
            while let Some(finished) = loops.next().await {
                finished?;
            }
            Ok(())
        }
        Driving::Joined => try_join_all(loops).await.map(drop),
    }
}

/// Runs the comparison; call it on the thread to measure, outside any runtime.
///
/// # Errors
/// When setup or a call fails.
pub fn run(plan: Plan) -> Result<Figures, SetupError> {
    let portal = Portal::start(Emulator::builder().lines(1), 1)?;
    let access = portal.access();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let figures = runtime.block_on(async {
        let client = access.client(RateLimit::Off)?;
        Portal::connect(&client, 1).await?;
        let floor = Floor::new(&access, false)?;
        let floor_like_sdk = Floor::new(&access, true)?;
        let request = GetConnectorStatus::new(connector(), LineId::new(1)?);
        let sdk = || sdk_call(&client, &request);
        let plain = || floor.call();
        let like_sdk = || floor_like_sdk.call();
        calls_in_flight(plan.warmup, plan.in_flight, plan.driving, sdk).await?;
        calls_in_flight(plan.warmup, plan.in_flight, plan.driving, plain).await?;
        calls_in_flight(plan.warmup, plan.in_flight, plan.driving, like_sdk).await?;
        let mut figures = Figures {
            calls: 0,
            sdk: Spent::default(),
            floor: Spent::default(),
            floor_like_sdk: Spent::default(),
            sdk_future_bytes: std::mem::size_of_val(&client.call(&request)),
            floor_future_bytes: std::mem::size_of_val(&floor_like_sdk.call()),
            rounds: Vec::new(),
        };
        for _ in 0..plan.rounds {
            let watch = Stopwatch::start()?;
            calls_in_flight(plan.calls_per_round, plan.in_flight, plan.driving, sdk).await?;
            let sdk_round = watch.stop()?;
            let watch = Stopwatch::start()?;
            calls_in_flight(plan.calls_per_round, plan.in_flight, plan.driving, plain).await?;
            let floor_round = watch.stop()?;
            figures.sdk += sdk_round;
            figures.floor += floor_round;
            figures.rounds.push((sdk_round, floor_round));
            let watch = Stopwatch::start()?;
            calls_in_flight(plan.calls_per_round, plan.in_flight, plan.driving, like_sdk).await?;
            figures.floor_like_sdk += watch.stop()?;
            figures.calls += plan.calls_per_round;
        }
        Ok::<_, SetupError>(figures)
    })?;
    drop(runtime);
    drop(portal);
    Ok(figures)
}

/// The client [`profile`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profiled {
    /// `Client::call(&GetConnectorStatus)`.
    Sdk,
    /// The hand-written reqwest + serde_json loop.
    Floor,
    /// The floor with the SDK's HTTP settings (the third row of the section).
    FloorLikeSdk,
    /// The floor with only the SDK's one timer per call.
    FloorWithTimer,
}

/// Makes `calls` calls with one client alone, `in_flight` at a time, after the same setup as
/// [`run`]: for a profiler to count what a call costs (`valgrind --tool=callgrind
/// --separate-threads=yes`, then the measuring thread's count, less a run of 0 calls).
///
/// # Errors
/// When setup or a call fails.
pub fn profile(
    client: Profiled,
    calls: u64,
    in_flight: u64,
    driving: Driving,
) -> Result<(), SetupError> {
    let portal = Portal::start(Emulator::builder().lines(1), 1)?;
    let access = portal.access();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let sdk = access.client(RateLimit::Off)?;
        Portal::connect(&sdk, 1).await?;
        let request = GetConnectorStatus::new(connector(), LineId::new(1)?);
        let before = getrusage(UsageWho::RUSAGE_THREAD)?;
        let floor = match client {
            Profiled::Sdk => {
                calls_in_flight(calls, in_flight, driving, || sdk_call(&sdk, &request)).await?;
                report_usage(&before, calls)?;
                return Ok(());
            }
            Profiled::Floor => Floor::new(&access, false)?,
            Profiled::FloorLikeSdk => Floor::new(&access, true)?,
            Profiled::FloorWithTimer => Floor::with_timer(&access)?,
        };
        calls_in_flight(calls, in_flight, driving, || floor.call()).await?;
        report_usage(&before, calls)
    })?;
    drop(runtime);
    drop(portal);
    Ok(())
}

/// Prints to stderr what the measuring thread spent per call since `before`: user and system
/// time, context switches and page faults (they split a CPU difference the instruction counts
/// do not show).
fn report_usage(before: &Usage, calls: u64) -> Result<(), SetupError> {
    let after = getrusage(UsageWho::RUSAGE_THREAD)?;
    let per = |a: i64, b: i64| (a - b) as f64 / calls.max(1) as f64;
    eprintln!(
        "per call: user {:.2} µs, system {:.2} µs, voluntary switches {:.3}, involuntary {:.3}, minor faults {:.3}",
        per(after.user_time().num_microseconds(), before.user_time().num_microseconds()),
        per(after.system_time().num_microseconds(), before.system_time().num_microseconds()),
        per(after.voluntary_context_switches(), before.voluntary_context_switches()),
        per(after.involuntary_context_switches(), before.involuntary_context_switches()),
        per(after.minor_page_faults(), before.minor_page_faults()),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn the_median_is_the_middle_value_or_the_mean_of_the_middle_two() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), 2.0);
        assert_eq!(median([4.0, 1.0, 3.0, 2.0].into_iter()), 2.5);
        assert_eq!(median([1.0, 100.0, 1.1].into_iter()), 1.1);
        assert!(median(std::iter::empty()).is_nan());
    }
}
