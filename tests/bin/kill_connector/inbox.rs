//! Issue 21's online scenario: the connector receives operators' replies at its event URL as
//! the README configures it (an [`EventReceiver`] with the Redis inbox: verify, append, then
//! 200; with the in-memory default in the control scenario), and its handler applies a keyed
//! effect ([`EffectHandler`]). It prints `ready` once it
//! listens, and drains and prints `done` when its stdin closes (the graceful stop of the last
//! run; the others are SIGKILLed).

use std::time::Duration;

use imconnector::inbound::ConsumerOptions;
use imconnector::receiver::{EventReceiver, SingleToken};
use imconnector_tests::kill::{Plan, Report, Scenario};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use crate::connect::{client, provision_connector};
use crate::effect::EffectHandler;
use crate::BoxError;

/// How long the last run may take to handle and confirm what is left.
const DRAIN_DEADLINE: Duration = Duration::from_secs(120);
/// How long a start waits for its port (a killed life's sockets may linger a moment).
const BIND_PATIENCE: Duration = Duration::from_secs(30);

pub async fn run(plan: &Plan) -> Result<(), BoxError> {
    let inbound = plan
        .inbound
        .as_ref()
        .ok_or("the inbox scenario needs the plan's `inbound` part")?;
    let listener = bind(inbound.port).await?;
    let (redis, client) = client(plan).await?;
    if inbound.bind_events {
        let url = format!("http://127.0.0.1:{}/", inbound.port);
        provision_connector(&client, &url).await?;
    }
    let handler = EffectHandler::new(
        redis.connection(),
        &plan.redis.key_prefix,
        &inbound.consumer,
        Duration::from_millis(inbound.handler_delay_ms),
    );
    let consumer = ConsumerOptions::new(inbound.consumer.as_str())?
        .min_idle(Duration::from_millis(inbound.min_idle_ms))?
        .read_wait(Duration::from_millis(200));
    let mut receiver = EventReceiver::new(
        SingleToken::new(inbound.application_token.as_str()),
        handler,
    )
    .confirm_deliveries(client);
    if plan.scenario == Scenario::InboxRedis {
        receiver = receiver.durable_inbox(redis.inbox().await?, consumer);
    }
    let (events, pipeline) = receiver.build();
    let server = imconnector::serve(listener, events).with_graceful_shutdown(stdin_closed());
    // Bound already: the portal's POSTs wait in the backlog until the server takes them.
    Report::Ready.print();
    server.await?;
    let drained = pipeline.shutdown(DRAIN_DEADLINE).await;
    if !drained.is_complete() {
        return Err(format!("the pipeline did not drain: {drained:?}").into());
    }
    Report::Done.print();
    Ok(())
}

/// Binds the plan's port, again and again while it is taken, up to [`BIND_PATIENCE`].
async fn bind(port: u16) -> Result<TcpListener, BoxError> {
    let started = tokio::time::Instant::now();
    loop {
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => return Ok(listener),
            Err(error) if started.elapsed() < BIND_PATIENCE => {
                eprintln!("kill-connector: port {port} not free yet ({error}); retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => return Err(format!("cannot bind port {port}: {error}").into()),
        }
    }
}

/// Completes when the parent closes our stdin: the graceful stop.
async fn stdin_closed() {
    let mut stdin = tokio::io::stdin();
    let mut buffer = [0u8; 64];
    while matches!(stdin.read(&mut buffer).await, Ok(read) if read > 0) {}
}
