//! The facade's workflows against the emulated portal: provisioning, the event receiver, the
//! settings placement and serving them (`imconnector::serve`). One test binary, one module per subject.

mod confirm_burst;
mod doctor;
mod durable;
mod inbound;
mod install;
mod offline;
mod offline_pipeline;
mod placement;
mod plan;
mod provisioning;
mod receiver;
mod serve;
mod support;
