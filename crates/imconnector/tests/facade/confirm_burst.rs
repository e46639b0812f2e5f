//! No kills, the standard bucket: 3,000 operator replies across 50 chats at 50 replies a
//! second are all confirmed delivered, in a handful of REST calls (one `send.status.delivery`
//! call per reply used to need 3,000, and most timed out waiting in the bucket's queue).
//!
//! The emulator's clock runs `TIME_SCALE` times faster than real time, and the client's bucket
//! alike, so the minute of replies takes seconds.

use std::time::Duration;

use imconnector::emulator::{client_builder, Emulator, EmulatorRateLimit};
use imconnector::inbound::InboundOptions;
use imconnector::prelude::*;
use imconnector::receiver::SingleToken;

use crate::support::{line, serve, setup, PATIENCE};

const TIME_SCALE: u32 = 25;
const CHATS: usize = 50;
const REPLIES: usize = 3_000;
/// Replies a second, in emulated time.
const REPLY_RATE: u32 = 50;

struct Deliver;

impl EventHandler for Deliver {
    async fn message_add(&self, event: MessageAddEvent) -> Result<SentMessages, HandlerError> {
        let mut sent = SentMessages::new();
        for item in &event.data.messages {
            sent.push(item, [format!("out-{}", item.im.message_id)]);
        }
        Ok(sent)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_thousand_replies_in_fifty_chats_are_all_confirmed_in_a_handful_of_calls() {
    let emulator = Emulator::builder()
        .rate_limit(EmulatorRateLimit::Standard)
        .time_scale(f64::from(TIME_SCALE))
        .start()
        .await
        .expect("emulator starts");
    // The standard bucket (2 a second, burst 50) on the sped-up clock.
    let client = client_builder(&emulator.handle())
        .rate_limit(RateLimit::Custom {
            per_second: 2 * TIME_SCALE,
            burst: 50,
        })
        .build()
        .expect("client builds");
    let app = emulator.app();
    let tokens = SingleToken::new(app.application_token.expose_secret()).for_member(&app.member_id);
    let receiver = EventReceiver::new(tokens, Deliver)
        // The default second of gathering, on the sped-up clock.
        .options(InboundOptions::new().confirm_linger(Duration::from_secs(1) / TIME_SCALE))
        .confirm_deliveries(client.clone());
    let url = serve(receiver.router()).await;
    let setup = setup(&url).with_events(["OnImConnectorMessageAdd"]);
    provision(&client, &setup, line(1))
        .await
        .expect("provision");

    let portal = emulator.handle();
    for chat in 0..CHATS {
        let customer = MessageIn::new(
            MessageUser::new(format!("customer-{chat}")),
            MessageBody::new().with_text("hello"),
            MessageChat::new(format!("chat-{chat}")),
        );
        client
            .call(&SendMessages::new(setup.id().clone(), line(1), [customer]))
            .await
            .expect("send.messages");
    }
    let before = portal.counters().requests;

    // 50 replies every emulated second: a tick of 1/25 s real per 50 replies (a timer cannot
    // wait the 0.8 ms between two).
    let mut tick = tokio::time::interval(Duration::from_secs(1) / TIME_SCALE);
    let reply_started = tokio::time::Instant::now();
    for reply in 0..REPLIES {
        if reply % REPLY_RATE as usize == 0 {
            tick.tick().await;
        }
        portal
            .operator_reply(
                1,
                &format!("chat-{}", reply % CHATS),
                &format!("reply {reply}"),
            )
            .expect("the operator replies");
    }
    let replying = reply_started.elapsed();

    let started = tokio::time::Instant::now();
    let confirmed = loop {
        let confirmed = portal
            .delivery_statuses()
            .iter()
            .filter(|status| status.matched)
            .count();
        if confirmed >= REPLIES || started.elapsed() > PATIENCE {
            break confirmed;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let confirming = started.elapsed();
    let after = portal.counters().requests;
    let count = |method: &str| {
        after.get(method).copied().unwrap_or(0) - before.get(method).copied().unwrap_or(0)
    };
    // The emulator counts a batch's commands under their method too.
    let (batches, commands) = (count("batch"), count("imconnector.send.status.delivery"));
    println!(
        "FIGURE confirmations: {confirmed} of {REPLIES} replies confirmed in {batches} REST calls \
         (`batch`, carrying {commands} send.status.delivery commands); replies took {:.1} s \
         emulated, confirming took {:.1} s emulated after the last",
        replying.as_secs_f64() * f64::from(TIME_SCALE),
        confirming.as_secs_f64() * f64::from(TIME_SCALE),
    );
    assert_eq!(confirmed, REPLIES, "every reply is confirmed delivered");
    assert!(
        batches <= 100,
        "{batches} REST calls for {REPLIES} confirmations"
    );
    let unmatched = portal
        .delivery_statuses()
        .iter()
        .filter(|status| !status.matched)
        .count();
    assert_eq!(unmatched, 0);
}
