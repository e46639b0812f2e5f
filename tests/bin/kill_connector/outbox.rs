//! Issue 22's scenario: customers' messages through a [`Sender`], each reported accepted once
//! `send` returns, then stored, in doubt or not sent once its outcome is known.

use std::time::Duration;

use imconnector::prelude::*;
use imconnector::sender::{SendOutcome, Sender};
use imconnector_tests::kill::{
    customer_message, line, Plan, Report, CALLS_PER_REQUEST, CONNECTOR, MESSAGES_PER_CALL,
    REQUESTS_IN_FLIGHT,
};

use crate::connect::{client, provision_connector};
use crate::BoxError;

pub async fn run(plan: &Plan) -> Result<(), BoxError> {
    let (_redis, client) = client(plan).await?;
    provision_connector(&client).await?;
    let sender = Sender::builder(client, ConnectorId::new(CONNECTOR)?)
        .messages_per_call(MESSAGES_PER_CALL)
        .calls_per_request(CALLS_PER_REQUEST)
        .requests_in_flight(REQUESTS_IN_FLIGHT)
        .start();
    Report::Ready.print();
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
            let report = submitted.await;
            match report.outcome {
                SendOutcome::Stored(_) => Report::Stored(index),
                SendOutcome::Unknown(_) => Report::InDoubt(index),
                _ => Report::NotSent(index),
            }
            .print();
        }));
    }
    for outcome in outcomes {
        outcome.await?;
    }
    drop(sender);
    Report::Done.print();
    Ok(())
}
