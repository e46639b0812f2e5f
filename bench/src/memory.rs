//! Peak resident memory of a connector holding one message for each of 10,000 chats in flight.
//!
//! The connector runs in a child process (this binary with `--memory-probe`), so its `VmHWM`
//! counts the connector alone; the emulator stays in the parent. Every request is delayed by
//! the emulator (a latency fault on all of them), so all messages are queued or on the wire at
//! once before the first answer comes back.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use imconnector_api::ids::LineId;
use imconnector_api::types::{MessageBody, MessageChat, MessageIn, MessageUser};
use imconnector_emulator::{Emulator, Faults};
use imconnector_transport::RateLimit;
use serde::{Deserialize, Serialize};

use crate::measure::proc_status_kib;
use crate::portal::{connector, Access, Portal, SetupError};
use crate::sender::{SendOutcome, Sender};

/// The flag that turns the binary into the probe.
pub const PROBE_FLAG: &str = "--memory-probe";

/// What the parent asks of the probe (sent as JSON on its standard input).
#[derive(Debug, Serialize, Deserialize)]
pub struct ProbeRequest {
    /// How to reach the portal.
    pub access: Access,
    /// Chats, one message each.
    pub chats: u64,
    /// Lines the chats are spread over (activated by the parent).
    pub lines: i64,
}

/// What the probe reports (one JSON line on its standard output).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeReport {
    /// `VmHWM` after the client and sender were set up, before any message.
    pub baseline_kib: u64,
    /// `VmRSS` right after the last message was queued.
    pub queued_kib: u64,
    /// `VmHWM` once every message had its outcome: the peak of the whole run.
    pub peak_kib: u64,
    /// Messages delivered.
    pub delivered: u64,
    /// Messages queued.
    pub messages: u64,
    /// Milliseconds from the first message queued to the last outcome.
    pub elapsed_ms: u64,
}

impl ProbeReport {
    /// Peak bytes above the baseline, per chat.
    pub fn bytes_per_chat(&self) -> f64 {
        let above = self.peak_kib.saturating_sub(self.baseline_kib) as f64 * 1024.0;
        above / self.messages.max(1) as f64
    }
}

/// The parent's side: starts an emulator, runs the probe against it, returns its report.
///
/// # Errors
/// When setup fails or the probe fails or reports nonsense.
pub fn run(chats: u64, lines: i64, latency: Duration) -> Result<ProbeReport, SetupError> {
    let portal = Portal::start(Emulator::builder().lines(usize::try_from(lines)?), 1)?;
    let access = portal.access();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(Portal::connect(&access.client(RateLimit::Off)?, lines))?;
    portal
        .handle()
        .set_faults(Some(Faults::default().latency(latency, 1.0)))?;
    let mut child = Command::new(std::env::current_exe()?)
        .arg(PROBE_FLAG)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let request = serde_json::to_vec(&ProbeRequest {
        access,
        chats,
        lines,
    })?;
    child
        .stdin
        .take()
        .ok_or("the probe has no standard input")?
        .write_all(&request)?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        return Err(format!("the memory probe failed: {}", output.status).into());
    }
    let report: ProbeReport = serde_json::from_slice(&output.stdout)?;
    let stored = portal.handle().all_messages().len() as u64;
    if stored != report.delivered || report.delivered != chats {
        return Err(format!(
            "the probe delivered {} of {chats} messages and the portal stored {stored}",
            report.delivered
        )
        .into());
    }
    drop(runtime);
    drop(portal);
    Ok(report)
}

/// The probe's side: reads a [`ProbeRequest`] from standard input, prints a [`ProbeReport`].
///
/// # Errors
/// When the request cannot be read or setup fails.
pub fn probe() -> Result<(), SetupError> {
    let request: ProbeRequest = serde_json::from_reader(std::io::stdin().lock())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        let client = request.access.client(RateLimit::Off)?;
        let capacity = usize::try_from(request.chats)?;
        // Room for every message: nothing waits outside the sender.
        let sender = Sender::builder(client, connector())
            .capacity(capacity)
            .start();
        let line_count = u64::try_from(request.lines.max(1))?;
        let baseline_kib = proc_status_kib("VmHWM").unwrap_or_default();
        let started = Instant::now();
        let mut submitted = Vec::with_capacity(capacity);
        for chat in 0..request.chats {
            let line = LineId::new(i64::try_from(chat % line_count)? + 1)?;
            let message = MessageIn::new(
                MessageUser::new(format!("customer-{chat}")).with_name("Probe Customer"),
                MessageBody::new()
                    .with_id(format!("probe-{chat}"))
                    .with_text(format!(
                        "Hello from chat {chat}: my parcel has not arrived yet, can you check?"
                    )),
                MessageChat::new(format!("chat-{chat}")).with_name(format!("Chat {chat}")),
            );
            submitted.push(sender.send(line, message).await?);
        }
        let queued_kib = proc_status_kib("VmRSS").unwrap_or_default();
        let mut delivered = 0;
        for queued in submitted {
            if matches!(queued.await.outcome, SendOutcome::Stored(_)) {
                delivered += 1;
            }
        }
        Ok::<_, SetupError>(ProbeReport {
            baseline_kib,
            queued_kib,
            peak_kib: proc_status_kib("VmHWM").unwrap_or_default(),
            delivered,
            messages: request.chats,
            elapsed_ms: u64::try_from(started.elapsed().as_millis())?,
        })
    })?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
