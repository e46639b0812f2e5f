//! Event handler bindings (`event.bind`, reference §5.3): per app, no duplicates, and the row the
//! portal adds itself for an API-only app's install URL.

use crate::state::{next_id, Portal};

/// An `event.bind` registration.
#[derive(Debug, Clone)]
pub(crate) struct Binding {
    pub(crate) id: u64,
    pub(crate) app: usize,
    /// Uppercase event name.
    pub(crate) event: String,
    pub(crate) handler: String,
    /// `auth_type`: the user whose tokens the event carries (0 = whoever triggered it).
    pub(crate) auth_type: u64,
    pub(crate) offline: bool,
    /// `auth_connector`: the source key an offline binding's rows are queued under.
    pub(crate) source: String,
    /// `options[minTimeout]` of an `ONOFFLINEEVENT` binding, in seconds.
    pub(crate) min_timeout: f64,
}

/// What `event.bind` asks for.
#[derive(Debug, Clone)]
pub(crate) struct NewBinding {
    /// Uppercase event name.
    pub(crate) event: String,
    /// Empty for an offline binding.
    pub(crate) handler: String,
    pub(crate) auth_type: u64,
    pub(crate) offline: bool,
    pub(crate) source: String,
    pub(crate) min_timeout: f64,
}

/// The same binding exists already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Duplicate;

impl Portal {
    /// The bindings of `app`, oldest first.
    pub(crate) fn app_bindings(&self, app: usize) -> impl Iterator<Item = &Binding> {
        self.bindings
            .iter()
            .filter(move |binding| binding.app == app)
    }

    /// Adds a binding of `app` (the id is the next of the sequence), unless the same one
    /// exists.
    pub(crate) fn bind(&mut self, app: usize, new: NewBinding) -> Result<u64, Duplicate> {
        let duplicate = self.bindings.iter().any(|binding| {
            binding.app == app
                && binding.event == new.event
                && binding.handler == new.handler
                && binding.auth_type == new.auth_type
                && binding.offline == new.offline
                && binding.source == new.source
        });
        if duplicate {
            return Err(Duplicate);
        }
        let id = next_id(&mut self.ids.binding);
        self.bindings.push(Binding {
            id,
            app,
            event: new.event,
            handler: new.handler,
            auth_type: new.auth_type,
            offline: new.offline,
            source: new.source,
            min_timeout: new.min_timeout,
        });
        Ok(id)
    }

    /// Removes the bindings of `app` that `matches` picks; returns how many.
    pub(crate) fn unbind(&mut self, app: usize, matches: impl Fn(&Binding) -> bool) -> usize {
        let before = self.bindings.len();
        self.bindings
            .retain(|binding| binding.app != app || !matches(binding));
        before - self.bindings.len()
    }

    /// Removes every binding of `app` (uninstall).
    pub(crate) fn unbind_app(&mut self, app: usize) {
        self.bindings.retain(|binding| binding.app != app);
        self.drop_offline_of(app);
    }

    pub(crate) fn bindings_of<'a>(
        &'a self,
        app: usize,
        event: &'a str,
    ) -> impl Iterator<Item = &'a Binding> {
        self.bindings
            .iter()
            .filter(move |binding| binding.app == app && binding.event == event && !binding.offline)
    }

    /// The ONAPPINSTALL → install URL row the portal adds for an API-only app.
    pub(crate) fn bind_install_handler(&mut self, app: usize, handler: &str) -> u64 {
        if let Some(binding) = self
            .bindings_of(app, "ONAPPINSTALL")
            .find(|binding| binding.handler == handler && binding.auth_type == 0)
        {
            return binding.id;
        }
        let id = next_id(&mut self.ids.binding);
        self.bindings.push(Binding {
            id,
            app,
            event: "ONAPPINSTALL".to_owned(),
            handler: handler.to_owned(),
            auth_type: 0,
            offline: false,
            source: String::new(),
            min_timeout: 0.0,
        });
        id
    }
}
