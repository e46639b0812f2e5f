//! `kill-connector`: a connector built the way the README shows (its tokens in a lasting store),
//! run by the kill tests (`tests/redis/kill.rs`) as a child process that they SIGKILL at random
//! moments and start again. It reads its [`Plan`] from `IMCONNECTOR_KILL_PLAN`, runs the
//! scenario and prints one [`Report`](imconnector_tests::kill::Report) line per event on stdout.
//! Scenarios: customers' messages through the outbox (`outbox.rs`, issue 22); operators'
//! replies received through the Redis inbox (`inbox.rs`, issue 21), or read from the portal's
//! offline event queue (`offline.rs`, issue 21), handled by the keyed effect of `effect.rs`.

mod connect;
mod effect;
mod inbox;
mod offline;
mod outbox;

use std::process::ExitCode;

use imconnector_tests::kill::{Plan, Scenario};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let plan = match Plan::from_env() {
        Ok(plan) => plan,
        Err(error) => {
            eprintln!("kill-connector: {error}");
            return ExitCode::from(2);
        }
    };
    let outcome = match plan.scenario {
        Scenario::OutboxInMemory | Scenario::OutboxRedis => outbox::run(&plan).await,
        Scenario::InboxRedis | Scenario::InboxInMemory => inbox::run(&plan).await,
        Scenario::OfflineRedis => offline::run(&plan).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kill-connector: {error}");
            ExitCode::FAILURE
        }
    }
}
