//! The inbound scenarios' handler: each operator reply is "sent to the customer" by an
//! idempotent effect in Redis keyed by the event's [`DedupKey`] (see
//! [`kill_inbound`](imconnector_tests::kill_inbound)), then reported sent so the pipeline
//! confirms its delivery to the portal. Every run is counted, re-runs included.

use std::time::Duration;

use imconnector::events::Event;
use imconnector::inbound::{DedupKey, EventHandler, HandlerError, SentMessages};
use imconnector_tests::kill_inbound::{apply_effect, EffectKeys};
use redis::aio::ConnectionManager;

/// The handler of one replica.
pub struct EffectHandler {
    connection: ConnectionManager,
    keys: EffectKeys,
    replica: String,
    delay: Duration,
}

impl EffectHandler {
    /// A handler writing its effects under `prefix`, naming itself `replica`, taking `delay`
    /// to "send" each reply.
    pub fn new(
        connection: ConnectionManager,
        prefix: &str,
        replica: &str,
        delay: Duration,
    ) -> Self {
        Self {
            connection,
            keys: EffectKeys::new(prefix),
            replica: replica.to_owned(),
            delay,
        }
    }
}

impl EventHandler for EffectHandler {
    async fn event(&self, key: &DedupKey, event: Event) -> Result<SentMessages, HandlerError> {
        let mut sent = SentMessages::new();
        let Event::MessageAdd(event) = event else {
            // Session starts and the like: no effect.
            return Ok(sent);
        };
        let mut connection = self.connection.clone();
        tokio::time::sleep(self.delay).await;
        for item in &event.data.messages {
            let message_id = u64::try_from(item.im.message_id.get())
                .map_err(|_| "a negative Bitrix message id")?;
            apply_effect(
                &mut connection,
                &self.keys,
                key.as_str(),
                item.chat.id.as_str(),
                message_id,
                &self.replica,
            )
            .await?;
            // The id the "messenger" gave it: derived from the reply, so a re-run reports
            // the same one.
            sent.push(item, [format!("sent-{message_id}")]);
        }
        Ok(sent)
    }
}
