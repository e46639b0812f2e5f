//! Tests against a real redis-server (`IMCONNECTOR_REDIS_URL`) with the emulator as the portal.
//! Without the variable they print "skipped: no Redis" (and fail when `CI` is set).
#![allow(clippy::unwrap_used)]

mod code_flow;
mod inbox;
mod install;
mod keep_alive;
mod kill;
mod namespaces;
mod offline;
mod outage;
mod outbox;
mod pacing;
mod plan;
mod refresh;
mod registry;
mod resilience;
mod returns;
mod store;
mod support;
mod takeover;
mod tls;
