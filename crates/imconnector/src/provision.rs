//! Bringing a connector to a working state on an open line, and taking it away again.

use imconnector_api::events::Event;
use imconnector_api::ids::{ConnectorId, LineId};
use imconnector_api::methods::{
    ActivateConnector, BindEvent, GetConnectorStatus, ListEventBindings, RegisterConnector,
    SetConnectorData, UnbindEvent, UnregisterConnector,
};
use imconnector_api::types::{ConnectorData, ConnectorStatus, EventBinding, EventType, Icon};
use imconnector_transport::{Client, ErrorCode, InvalidRequest};

use crate::error::{Step, WorkflowError};
use crate::{EventsUrl, SettingsUrl};

/// The event that tells an app its offline queue has rows (`OnOfflineEvent`), bound online.
pub const OFFLINE_WAKEUP_EVENT: &str = "OnOfflineEvent";

/// How the portal hands the connector's events over ([`ConnectorSetup::with_delivery`]).
///
/// Bitrix24 never resends an online event: if the handler is down or fails, the event is lost.
/// Offline events wait in a queue on the portal until the app reads and clears them
/// (`event.offline.*`, administrators only), which the
/// `offline::OfflinePoller` (feature `server`) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EventDelivery {
    /// POSTed to the handler URL as they happen (`event_type=online`, the default).
    #[default]
    Online,
    /// Queued on the portal (`event_type=offline`) for the offline poller. Unless
    /// [`with_offline_wakeup(false)`](ConnectorSetup::with_offline_wakeup), `OnOfflineEvent` is
    /// bound online to the handler URL so the poller reads the queue when rows arrive.
    Offline,
    /// Both: every event is POSTed and also queued, so one lost POST is still read from the
    /// queue; the handler sees most events twice (deduplicate by message ids).
    OnlineAndOffline,
}

impl EventDelivery {
    /// Whether events are bound online (POSTed to the handler URL).
    pub fn online(self) -> bool {
        matches!(self, Self::Online | Self::OnlineAndOffline)
    }

    /// Whether events are bound offline (queued on the portal).
    pub fn offline(self) -> bool {
        matches!(self, Self::Offline | Self::OnlineAndOffline)
    }
}

/// Everything [`provision`] needs to know about a connector: its registration, its channel
/// data and where Bitrix24 should POST its events.
///
/// ```
/// use imconnector::prelude::*;
///
/// let setup = ConnectorSetup::new(
///     ConnectorId::new("acme_chat")?,
///     "Acme Chat",
///     Icon::new("data:image/svg+xml,%3Csvg%20xmlns%3D%22http://www.w3.org/2000/svg%22/%3E"),
///     SettingsUrl::parse("https://connector.example.com/settings")?,
///     EventsUrl::parse("https://connector.example.com/events")?,
/// )
/// .with_registration(|register| register.with_chat_group(false).with_need_signature(true))
/// .with_data(ConnectorData::new().with_name("Acme support").with_url("https://acme.example/support"));
/// assert_eq!(setup.id().as_str(), "acme_chat");
/// assert_eq!(setup.name(), "Acme Chat");
/// assert_eq!(setup.settings_url().as_str(), "https://connector.example.com/settings");
/// assert_eq!(setup.registration().need_signature(), Some(true));
/// assert!(setup.events().len() > 1);
/// # Ok::<(), imconnector::transport::InvalidRequest>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ConnectorSetup {
    id: ConnectorId,
    name: String,
    register: RegisterConnector,
    data: Option<ConnectorData>,
    event_handler: EventsUrl,
    events: Vec<String>,
    delivery: EventDelivery,
    offline_wakeup: bool,
}

impl ConnectorSetup {
    /// A connector with the registration's required fields, the URL of its settings page
    /// and the URL of your event handler (where the `receiver` is mounted, feature `server`).
    /// Every event in [`Event::KNOWN`] but `OnOfflineEvent` (see [`EventDelivery`]) is bound
    /// online unless [`with_events`](Self::with_events) and [`with_delivery`](Self::with_delivery)
    /// say otherwise.
    pub fn new(
        id: ConnectorId,
        name: impl Into<String>,
        icon: Icon,
        settings: SettingsUrl,
        events: EventsUrl,
    ) -> Self {
        let name = name.into();
        let register = RegisterConnector::new(id.clone(), name.clone(), icon, settings);
        Self {
            id,
            name,
            register,
            data: None,
            event_handler: events,
            events: Event::KNOWN
                .iter()
                .filter(|&&event| event != OFFLINE_WAKEUP_EVENT)
                .map(|&event| event.to_owned())
                .collect(),
            delivery: EventDelivery::Online,
            offline_wakeup: true,
        }
    }

    /// Sets the registration's optional fields (flags, disabled icon, comment).
    pub fn with_registration(
        mut self,
        customize: impl FnOnce(RegisterConnector) -> RegisterConnector,
    ) -> Self {
        self.register = customize(self.register);
        self
    }

    /// The channel data shown in the Contact Center (`imconnector.connector.data.set`).
    /// Without it, [`provision`] sends the connector's name and `<connector>_line<LINE>` as id,
    /// as the documentation suggests for channels without an id of their own.
    pub fn with_data(mut self, data: ConnectorData) -> Self {
        self.data = Some(data);
        self
    }

    /// The events to bind to the handler URL, by the name `event.bind` takes
    /// (`OnImConnectorMessageAdd`, ...). Replaces the default of every known event.
    pub fn with_events(mut self, events: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.events = events.into_iter().map(Into::into).collect();
        self
    }

    /// How the events are bound: online (default), offline, or both. Offline bindings need an
    /// administrator's tokens (the installer has them).
    pub fn with_delivery(mut self, delivery: EventDelivery) -> Self {
        self.delivery = delivery;
        self
    }

    /// With offline delivery, whether `OnOfflineEvent` is bound online to the handler URL to
    /// wake the poller (default `true`). Turn it off when the portal cannot reach the handler
    /// URL: the poller then reads the queue on its timer alone.
    pub fn with_offline_wakeup(mut self, wakeup: bool) -> Self {
        self.offline_wakeup = wakeup;
        self
    }

    /// How the events are bound.
    pub fn delivery(&self) -> EventDelivery {
        self.delivery
    }

    /// Whether `OnOfflineEvent` is bound online to wake the poller (offline delivery only).
    pub fn offline_wakeup(&self) -> bool {
        self.delivery.offline() && self.offline_wakeup
    }

    /// The events bound online to the handler URL: [`events`](Self::events) when delivery is
    /// online, plus `OnOfflineEvent` when [`offline_wakeup`](Self::offline_wakeup).
    pub fn online_events(&self) -> Vec<String> {
        let mut events = if self.delivery.online() {
            self.events.clone()
        } else {
            Vec::new()
        };
        if self.offline_wakeup()
            && !events
                .iter()
                .any(|event| event.eq_ignore_ascii_case(OFFLINE_WAKEUP_EVENT))
        {
            events.push(OFFLINE_WAKEUP_EVENT.to_owned());
        }
        events
    }

    /// The events bound offline (queued on the portal): [`events`](Self::events) when delivery
    /// is offline, none otherwise.
    pub fn offline_events(&self) -> &[String] {
        if self.delivery.offline() {
            &self.events
        } else {
            &[]
        }
    }

    /// The connector id.
    pub fn id(&self) -> &ConnectorId {
        &self.id
    }

    /// The connector's name (`NAME` of the registration).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The registration `provision` sends (`imconnector.register`), with the fields set by
    /// [`with_registration`](Self::with_registration).
    pub fn registration(&self) -> &RegisterConnector {
        &self.register
    }

    /// The URL of the settings page (`PLACEMENT_HANDLER`).
    pub fn settings_url(&self) -> &SettingsUrl {
        self.register.placement_handler()
    }

    /// The channel data set by [`with_data`](Self::with_data), if any.
    pub fn data(&self) -> Option<&ConnectorData> {
        self.data.as_ref()
    }

    /// The URL events are bound to.
    pub fn event_handler(&self) -> &EventsUrl {
        &self.event_handler
    }

    /// The connector's events, bound online, offline or both as [`delivery`](Self::delivery)
    /// says.
    pub fn events(&self) -> &[String] {
        &self.events
    }

    pub(crate) fn data_for(&self, line: LineId) -> ConnectorData {
        self.data.clone().unwrap_or_else(|| {
            ConnectorData::new()
                .with_id(format!("{}_line{line}", self.id))
                .with_name(self.name.clone())
        })
    }

    /// The checks the portal would make too late (after earlier steps changed its state).
    fn check(&self) -> Result<(), WorkflowError> {
        let invalid = |parameter: &'static str, reason: String| {
            WorkflowError::InvalidSetup(InvalidRequest::new(parameter, reason))
        };
        if let Some(blank) = self.events.iter().position(|event| event.trim().is_empty()) {
            return Err(invalid("event", format!("event name #{blank} is empty")));
        }
        Ok(())
    }
}

/// What [`provision`] found and did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Provisioned {
    /// The connector.
    pub connector: ConnectorId,
    /// The line.
    pub line: LineId,
    /// `imconnector.status` after provisioning (its `STATUS` is true).
    pub status: ConnectorStatus,
    /// Events this run bound online.
    pub newly_bound: Vec<String>,
    /// Events that were already bound online to the handler URL and were left alone.
    pub already_bound: Vec<String>,
    /// Events this run bound offline ([`EventDelivery`]).
    pub newly_bound_offline: Vec<String>,
    /// Events that were already bound offline and were left alone.
    pub already_bound_offline: Vec<String>,
}

/// What [`teardown`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TornDown {
    /// The connector.
    pub connector: ConnectorId,
    /// Bindings `event.unbind` removed.
    pub unbound: i64,
}

/// Brings a connector to a working state on `line`, idempotently.
///
/// In order: `imconnector.register` (registers, or updates a connector with the same id),
/// `imconnector.activate`, `imconnector.connector.data.set`, `event.get` then `event.bind` for
/// each event not yet bound to the handler URL, and with offline [`EventDelivery`] for each
/// event not yet bound offline (the portal refuses a duplicate binding), and
/// finally `imconnector.status`. Running it again changes nothing: registration, activation
/// and channel data are rewritten with the same values and no binding is added. After an error
/// (including [`Error::OutcomeUnknown`](imconnector_transport::Error::OutcomeUnknown) of a
/// bind), run it again.
///
/// # Errors
/// [`WorkflowError::InvalidSetup`] before any call for a malformed handler URL or event name;
/// [`WorkflowError::Call`] naming the failed step; [`WorkflowError::NotReady`] when every step
/// worked but the portal does not report `STATUS` true.
pub async fn provision(
    client: &Client,
    setup: &ConnectorSetup,
    line: LineId,
) -> Result<Provisioned, WorkflowError> {
    setup.check()?;
    let id = &setup.id;
    tracing::info!(connector = %id, %line, handler = %setup.event_handler, "provisioning the connector");
    client
        .call(&setup.register)
        .await
        .map_err(WorkflowError::call(Step::Register))?;
    client
        .call(&ActivateConnector::new(id.clone(), line, true))
        .await
        .map_err(WorkflowError::call(Step::Activate))?;
    client
        .call(&SetConnectorData::new(
            id.clone(),
            line,
            setup.data_for(line),
        ))
        .await
        .map_err(WorkflowError::call(Step::SetData))?;
    let bindings = client
        .call(&ListEventBindings::new())
        .await
        .map_err(WorkflowError::call(Step::ListBindings))?;
    let mut online = Bound::default();
    for event in setup.online_events() {
        if is_bound(&bindings, &event, setup.event_handler.as_str()) {
            online.already.push(event);
            continue;
        }
        let bind = BindEvent::new(event.clone(), setup.event_handler.clone());
        online.bind(client, bind, event).await?;
    }
    let mut offline = Bound::default();
    for event in setup.offline_events() {
        if is_bound_offline(&bindings, event) {
            offline.already.push(event.clone());
            continue;
        }
        // The portal ignores the handler of an offline binding.
        let bind = BindEvent::new(event.clone(), setup.event_handler.clone())
            .with_event_type(EventType::Offline);
        offline.bind(client, bind, event.clone()).await?;
    }
    let status = client
        .call(&GetConnectorStatus::new(id.clone(), line))
        .await
        .map_err(WorkflowError::call(Step::Status))?;
    if !status.status {
        tracing::warn!(connector = %id, %line, "provisioned, but the portal does not report STATUS");
        return Err(WorkflowError::not_ready(&status, line));
    }
    tracing::info!(
        connector = %id,
        %line,
        newly_bound = online.newly.len() + offline.newly.len(),
        already_bound = online.already.len() + offline.already.len(),
        "the connector is ready on the line"
    );
    Ok(Provisioned {
        connector: id.clone(),
        line,
        status,
        newly_bound: online.newly,
        already_bound: online.already,
        newly_bound_offline: offline.newly,
        already_bound_offline: offline.already,
    })
}

/// The events one kind of binding added and found.
#[derive(Default)]
struct Bound {
    newly: Vec<String>,
    already: Vec<String>,
}

impl Bound {
    async fn bind(
        &mut self,
        client: &Client,
        bind: BindEvent,
        event: String,
    ) -> Result<(), WorkflowError> {
        match client.call(&bind).await {
            Ok(_) => {
                tracing::debug!(event = %event, offline = bind.event_type().is_some(), "event bound");
                self.newly.push(event);
            }
            // Bound by a parallel run between `event.get` and here: the goal is reached.
            Err(error) if is_duplicate_binding(&error) => self.already.push(event),
            Err(source) => {
                return Err(WorkflowError::Call {
                    step: Step::Bind,
                    source,
                })
            }
        }
        Ok(())
    }
}

/// Takes a connector away: deactivates it on `line`, unbinds its events from the handler URL
/// (and its offline bindings, with offline [`EventDelivery`]) and unregisters it (which also disconnects it from every other line). Safe to run again.
///
/// # Errors
/// [`WorkflowError::Call`] naming the failed step.
pub async fn teardown(
    client: &Client,
    setup: &ConnectorSetup,
    line: LineId,
) -> Result<TornDown, WorkflowError> {
    let id = &setup.id;
    tracing::info!(connector = %id, %line, "tearing the connector down");
    client
        .call(&ActivateConnector::new(id.clone(), line, false))
        .await
        .map_err(WorkflowError::call(Step::Deactivate))?;
    let mut unbound = 0;
    for event in setup.online_events() {
        let answer = client
            .call(&UnbindEvent::new(event, setup.event_handler.clone()))
            .await
            .map_err(WorkflowError::call(Step::Unbind))?;
        unbound += answer.count;
    }
    for event in setup.offline_events() {
        let answer = client
            .call(
                &UnbindEvent::new(event.clone(), setup.event_handler.clone())
                    .with_event_type(EventType::Offline),
            )
            .await
            .map_err(WorkflowError::call(Step::Unbind))?;
        unbound += answer.count;
    }
    client
        .call(&UnregisterConnector::new(id.clone()))
        .await
        .map_err(WorkflowError::call(Step::Unregister))?;
    Ok(TornDown {
        connector: id.clone(),
        unbound,
    })
}

/// Whether an online binding of `event` to `handler` exists. The portal lists event names
/// upper-cased; bindings for another user (`auth_type`) count too, since they deliver the
/// event to the same handler.
pub(crate) fn is_bound(bindings: &[EventBinding], event: &str, handler: &str) -> bool {
    bindings.iter().any(|binding| {
        binding.event.eq_ignore_ascii_case(event)
            && binding.handler.as_deref() == Some(handler)
            && binding.offline != Some(true)
    })
}

/// Whether an offline binding of `event` without a source key (`auth_connector`) exists.
pub(crate) fn is_bound_offline(bindings: &[EventBinding], event: &str) -> bool {
    bindings.iter().any(|binding| {
        binding.event.eq_ignore_ascii_case(event)
            && binding.offline == Some(true)
            && binding
                .connector_id
                .as_ref()
                .is_none_or(|source| source.as_str().is_empty())
    })
}

/// The portal's answers to a duplicate `event.bind`: `ERROR_CORE` "Handler already binded"
/// (the server) or `ERROR_HANDLER_ALREADY_EXIST` (the documentation).
pub(crate) fn is_duplicate_binding(error: &imconnector_transport::Error) -> bool {
    error.as_api().is_some_and(|api| match &api.code {
        ErrorCode::ErrorHandlerAlreadyExist => true,
        ErrorCode::ErrorCore => api
            .description
            .to_ascii_lowercase()
            .contains("already binded"),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bindings(value: serde_json::Value) -> Vec<EventBinding> {
        serde_json::from_value(value).expect("bindings decode")
    }

    #[test]
    fn a_binding_is_matched_by_event_case_insensitively_and_by_exact_handler() {
        let list = bindings(json!([
            {"event": "ONIMCONNECTORMESSAGEADD", "handler": "https://a.example/events", "auth_type": "0", "offline": 0},
            {"event": "ONIMCONNECTORLINEDELETE", "connector_id": "", "offline": 1},
        ]));
        assert!(is_bound(
            &list,
            "OnImConnectorMessageAdd",
            "https://a.example/events"
        ));
        assert!(!is_bound(
            &list,
            "OnImConnectorMessageAdd",
            "https://a.example/events/"
        ));
        assert!(!is_bound(
            &list,
            "OnImConnectorMessageUpdate",
            "https://a.example/events"
        ));
        assert!(!is_bound(
            &list,
            "OnImConnectorLineDelete",
            "https://a.example/events"
        ));
    }

    #[test]
    fn both_duplicate_binding_answers_are_recognised() {
        let core = imconnector_transport::ApiError::new(
            "event.bind",
            "ERROR_CORE",
            "Unable to set event handler: Handler already binded",
        );
        assert!(is_duplicate_binding(&core.into()));
        let documented =
            imconnector_transport::ApiError::new("event.bind", "ERROR_HANDLER_ALREADY_EXIST", "");
        assert!(is_duplicate_binding(&documented.into()));
        let other = imconnector_transport::ApiError::new("event.bind", "ERROR_CORE", "SQL error");
        assert!(!is_duplicate_binding(&other.into()));
    }

    #[test]
    fn a_blank_event_name_is_refused_before_any_call() {
        let setup = ConnectorSetup::new(
            ConnectorId::new("acme").expect("valid id"),
            "Acme",
            Icon::new("data:image/svg+xml,x"),
            SettingsUrl::parse("https://a.example/settings").expect("valid"),
            EventsUrl::parse("https://a.example/events").expect("valid"),
        );
        assert!(setup.check().is_ok());
        let error = setup.with_events(["OnImConnectorMessageAdd", " "]).check();
        assert!(
            matches!(&error, Err(WorkflowError::InvalidSetup(invalid)) if invalid.parameter == "event"),
            "{error:?}"
        );
    }
}
