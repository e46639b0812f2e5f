//! Outgoing events: built under the lock exactly like the portal's queue server sends them
//! (reference §5.1), logged and queued in the outbox; [`crate::delivery`] POSTs them once the
//! lock is released. Outcomes are recorded, never retried.

use serde_json::Value;

use crate::delivery::Outgoing;
use crate::snapshot::{DeliveryOutcome, EventDelivery};
use crate::state::tokens::Grant;
use crate::state::Portal;

/// The events the emulator can fire, by the name `event.bind` takes.
pub(crate) const KNOWN_EVENTS: [&str; 7] = [
    "OnImConnectorMessageAdd",
    "OnImConnectorMessageUpdate",
    "OnImConnectorMessageDelete",
    "OnImConnectorDialogStart",
    "OnImConnectorDialogFinish",
    "OnImConnectorStatusDelete",
    "OnImConnectorLineDelete",
];

/// Events of the `basic` scope every app may bind (the install module fires ONAPPINSTALL,
/// ONAPPUNINSTALL and, on `update_app`, ONAPPUPDATE; ONOFFLINEEVENT tells that offline rows
/// wait).
pub(crate) const BASIC_EVENTS: [&str; 4] = [
    "OnAppInstall",
    "OnAppUninstall",
    "OnAppUpdate",
    "OnOfflineEvent",
];

/// The wake-up event of the offline queue (`on-offline-event.md`).
const OFFLINE_WAKEUP: &str = "ONOFFLINEEVENT";

/// Which apps' handlers receive an event.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Audience<'a> {
    /// Only the app that registered this connector (nobody if it is not registered).
    OwnerOf(&'a str),
    /// Every app that bound the event (only `OnImConnectorLineDelete`).
    Everyone,
}

impl Portal {
    /// Queues `event` with `data` for every matching online binding, and into the offline queue
    /// of every matching offline binding (then wakes that app's `ONOFFLINEEVENT` handlers).
    /// `acting_user` is the portal user whose action triggered it; the event's tokens are issued
    /// for them unless the binding named another user in `auth_type`.
    pub(crate) fn emit(
        &mut self,
        event: &str,
        data: &Value,
        audience: Audience<'_>,
        acting_user: u64,
    ) {
        let wire_name = event.to_uppercase();
        let owner = match audience {
            Audience::OwnerOf(connector) => match self.owner_of(connector) {
                Some(owner) => Some(owner),
                None => return,
            },
            Audience::Everyone => None,
        };
        let targets: Vec<_> = self
            .bindings
            .iter()
            .filter(|binding| binding.event == wire_name)
            .filter(|binding| owner.is_none_or(|owner| binding.app == owner))
            .filter(|binding| self.receives_events(binding.app))
            .cloned()
            .collect();
        let mut queued_offline = Vec::new();
        for binding in targets {
            if binding.offline {
                self.queue_offline(binding.app, &binding.source, &wire_name, data, acting_user);
                queued_offline.push(binding.app);
                continue;
            }
            let user = if binding.auth_type == 0 {
                acting_user
            } else {
                binding.auth_type
            };
            let body = self.event_body(&wire_name, binding.id, data, binding.app, user, false);
            self.queue_event(&wire_name, &binding.handler, binding.id, binding.app, body);
        }
        queued_offline.dedup();
        for app in queued_offline {
            self.wake_offline_handlers(app, acting_user);
        }
    }

    /// POSTs `ONOFFLINEEVENT` (empty data, with a refresh token) to `app`'s online bindings of
    /// it whose `minTimeout` has passed.
    fn wake_offline_handlers(&mut self, app: usize, acting_user: u64) {
        let wakeups: Vec<_> = self
            .bindings
            .iter()
            .filter(|binding| {
                binding.app == app && binding.event == OFFLINE_WAKEUP && !binding.offline
            })
            .cloned()
            .collect();
        for binding in wakeups {
            if !self.take_wakeup_slot(binding.id, binding.min_timeout) {
                continue;
            }
            let user = if binding.auth_type == 0 {
                acting_user
            } else {
                binding.auth_type
            };
            let empty = Value::Array(Vec::new());
            let body = self.event_body(OFFLINE_WAKEUP, binding.id, &empty, app, user, true);
            self.queue_event(OFFLINE_WAKEUP, &binding.handler, binding.id, app, body);
        }
    }

    /// Logs (in the capped event log) and queues one event body for one handler; the
    /// app-lifecycle events of the install module come here ready-made.
    pub(crate) fn queue_event(
        &mut self,
        wire_name: &str,
        handler: &str,
        handler_id: u64,
        app: usize,
        body: String,
    ) {
        let seq = self.events_emitted;
        self.events_emitted += 1;
        let cap = self.settings.caps.event_log;
        crate::state::push_capped(
            &mut self.event_log,
            cap,
            EventDelivery {
                seq,
                event: wire_name.to_owned(),
                handler: handler.to_owned(),
                handler_id,
                client_id: self.apps[app].client_id.clone(),
                body: body.clone(),
                outcome: DeliveryOutcome::Pending,
            },
        );
        self.outbox.push(Outgoing {
            seq,
            handler: handler.to_owned(),
            body,
        });
    }

    fn event_body(
        &mut self,
        wire_name: &str,
        handler_id: u64,
        data: &Value,
        app: usize,
        user: u64,
        with_refresh_token: bool,
    ) -> String {
        use secrecy::ExposeSecret;

        let ttl = self.token_ttl_secs();
        let (access_token, expires_at, refresh_token) = if with_refresh_token {
            let pair = self.tokens.issue(Grant { app, user }, self.now, ttl);
            (pair.access, pair.expires_at, Some(pair.refresh))
        } else {
            let (access, expires_at) = self.tokens.issue_access(Grant { app, user }, self.now, ttl);
            (access, expires_at, None)
        };
        let application_token = self.apps[app].application_token.expose_secret().to_owned();
        #[allow(clippy::cast_possible_truncation)] // unix seconds
        let (ts, expires) = (self.now.floor() as i64, expires_at.floor() as i64);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let expires_in = ttl.round() as u64;
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("event", wire_name);
        form.append_pair("event_handler_id", &handler_id.to_string());
        imconnector_form::append(&mut form, "data", data);
        form.append_pair("ts", &ts.to_string());
        // In the portal's order (reference §5.1), not alphabetical.
        let mut auth = vec![
            ("access_token", access_token),
            ("expires", expires.to_string()),
            ("expires_in", expires_in.to_string()),
            ("scope", self.apps[app].scope_text()),
            ("domain", self.urls.domain.clone()),
            ("server_endpoint", self.urls.rest.clone()),
            ("status", "L".to_owned()),
            ("client_endpoint", self.urls.rest.clone()),
            ("member_id", self.member_id.clone()),
            ("user_id", user.to_string()),
        ];
        if let Some(refresh_token) = refresh_token {
            auth.push(("refresh_token", refresh_token));
        }
        auth.push(("application_token", application_token));
        for (key, value) in auth {
            form.append_pair(&format!("auth[{key}]"), &value);
        }
        form.finish()
    }
}
