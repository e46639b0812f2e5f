//! The server-side scripts. Each runs atomically in Redis; `redis::Script` sends the SHA1 first
//! and the source only when the server does not have it yet.

use redis::Script;

/// Every script of the crate, loaded once per backend.
pub(crate) struct Scripts {
    pub(crate) acquire: Script,
    pub(crate) renew: Script,
    pub(crate) release: Script,
    pub(crate) save_fenced: Script,
    pub(crate) save_if_version: Script,
    pub(crate) replace: Script,
    pub(crate) bucket: Script,
    pub(crate) fill: Script,
    pub(crate) authorization_save: Script,
    pub(crate) authorization_take: Script,
    pub(crate) mark_provisioned: Script,
    pub(crate) fill_application_token: Script,
    pub(crate) outbox_append: Script,
    pub(crate) outbox_mark: Script,
    pub(crate) outbox_requeue: Script,
    pub(crate) outbox_finish: Script,
    pub(crate) outbox_adopt: Script,
    pub(crate) outbox_held: Script,
    pub(crate) inbox_append: Script,
    pub(crate) inbox_append_read: Script,
    pub(crate) inbox_ack: Script,
    pub(crate) inbox_fail: Script,
    pub(crate) inbox_touch: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            acquire: Script::new(include_str!("scripts/acquire.lua")),
            renew: Script::new(include_str!("scripts/renew.lua")),
            release: Script::new(include_str!("scripts/release.lua")),
            save_fenced: Script::new(include_str!("scripts/save_fenced.lua")),
            save_if_version: Script::new(include_str!("scripts/save_if_version.lua")),
            replace: Script::new(include_str!("scripts/replace.lua")),
            bucket: Script::new(include_str!("scripts/bucket.lua")),
            fill: Script::new(include_str!("scripts/fill.lua")),
            authorization_save: Script::new(include_str!("scripts/authorization_save.lua")),
            authorization_take: Script::new(include_str!("scripts/authorization_take.lua")),
            mark_provisioned: Script::new(include_str!("scripts/mark_provisioned.lua")),
            fill_application_token: Script::new(include_str!("scripts/fill_application_token.lua")),
            outbox_append: Script::new(include_str!("scripts/outbox_append.lua")),
            outbox_mark: Script::new(include_str!("scripts/outbox_mark.lua")),
            outbox_requeue: Script::new(include_str!("scripts/outbox_requeue.lua")),
            outbox_finish: Script::new(include_str!("scripts/outbox_finish.lua")),
            outbox_adopt: Script::new(include_str!("scripts/outbox_adopt.lua")),
            outbox_held: Script::new(include_str!("scripts/outbox_held.lua")),
            inbox_append: Script::new(include_str!("scripts/inbox_append.lua")),
            inbox_append_read: Script::new(include_str!("scripts/inbox_append_read.lua")),
            inbox_ack: Script::new(include_str!("scripts/inbox_ack.lua")),
            inbox_fail: Script::new(include_str!("scripts/inbox_fail.lua")),
            inbox_touch: Script::new(include_str!("scripts/inbox_touch.lua")),
        }
    }
}
