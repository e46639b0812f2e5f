//! Issue 22's scenario: customers' messages through a [`Sender`], each reported accepted once
//! `send` returns, then stored, in doubt or not sent once its outcome is known. With the Redis
//! outbox, a start first reports what the killed process left in flight.

use std::time::Duration;

use imconnector::prelude::*;
use imconnector::sender::{Resolution, SendOutcome, Sender};
use imconnector_tests::kill::{
    customer_message, line, message_index, Plan, Report, Scenario, CALLS_PER_REQUEST, CONNECTOR,
    MESSAGES_PER_CALL, REQUESTS_IN_FLIGHT,
};

use crate::connect::{client, provision_connector};
use crate::BoxError;

/// The sender's name in the outbox: a restarted process takes back at once what its earlier
/// life held, instead of after that life's lease ran out (only one process runs at a time).
const CONSUMER: &str = "kill-connector";

/// How long the last run may take to send what is left.
const DRAIN_DEADLINE: Duration = Duration::from_secs(120);

pub async fn run(plan: &Plan) -> Result<(), BoxError> {
    let (redis, client) = client(plan).await?;
    // Nothing listens there: this scenario receives no events.
    provision_connector(&client, "http://127.0.0.1:9/events").await?;
    let connector = ConnectorId::new(CONNECTOR)?;
    let mut builder = Sender::builder(client, connector)
        .messages_per_call(MESSAGES_PER_CALL)
        .calls_per_request(CALLS_PER_REQUEST)
        .requests_in_flight(REQUESTS_IN_FLIGHT);
    if plan.scenario == Scenario::OutboxRedis {
        builder = builder
            .outbox(redis.outbox(&plan.portal.member_id, CONNECTOR)?)
            .consumer_name(CONSUMER);
    }
    let sender = builder.start();
    Report::Ready.print();
    // What the killed process had sent without an answer: maybe in the portal, maybe not.
    // The portal cannot be asked by external id, so the app reports each to a person and
    // keeps its id as sent: a redelivery of the same message is then a duplicate, never a
    // second post.
    for doubt in sender.in_doubt().await {
        let index = doubt
            .external_id
            .as_deref()
            .and_then(message_index)
            .ok_or("an entry in doubt without the scenario's external id")?;
        Report::InDoubt(index).print();
        sender.resolve(&doubt.entry, Resolution::Delivered).await?;
    }
    let mut outcomes = Vec::new();
    let mut pace = tokio::time::interval(Duration::from_millis(plan.burst_every_ms.max(1)));
    for index in plan.first..plan.messages {
        if (index - plan.first).is_multiple_of(plan.burst.max(1)) {
            pace.tick().await;
        }
        let message = customer_message(index, plan.chats);
        let submitted = sender.send(line(), message).await?;
        Report::Accepted(index).print();
        outcomes.push(tokio::spawn(async move {
            match submitted.await.outcome {
                SendOutcome::Stored(_) => Some(Report::Stored(index)),
                SendOutcome::Unknown(_) => Some(Report::InDoubt(index)),
                // Accepted by an earlier life: its report is that life's.
                SendOutcome::Duplicate(_) => None,
                _ => Some(Report::NotSent(index)),
            }
            .inspect(Report::print);
        }));
    }
    let drained = sender.shutdown(DRAIN_DEADLINE).await;
    for outcome in outcomes {
        outcome.await?;
    }
    if !drained.drained {
        return Err(format!("the sender did not drain: {drained:?}").into());
    }
    Report::Done.print();
    Ok(())
}
