//! The facade's workflows against the emulated portal: provisioning, the event receiver and
//! the settings placement. One test binary, one module per subject.

mod doctor;
mod install;
mod placement;
mod provisioning;
mod receiver;
mod support;
