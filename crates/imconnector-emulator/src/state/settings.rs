//! Settings changed at run time, with what each change resets.

use crate::config::{OperatingLimit, RateLimit, SettingsPostShape, SoftErrorShape};
use crate::limits::OperatingReport;
use crate::state::{Portal, Settings};

impl Portal {
    /// The settings as they are now.
    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Switches the leaky bucket, and empties it.
    pub(crate) fn set_rate_limit(&mut self, rate_limit: RateLimit) {
        self.settings.rate_limit = rate_limit;
        self.bucket.reset();
    }

    /// Chooses where register/unregister soft errors go.
    pub(crate) fn set_soft_error_shape(&mut self, shape: SoftErrorShape) {
        self.settings.soft_error_shape = shape;
    }

    /// Turns the operating-time budget on or off.
    pub(crate) fn set_settings_post_shape(&mut self, shape: SettingsPostShape) {
        self.settings.settings_post_shape = shape;
    }

    pub(crate) fn set_operating_limit(&mut self, limit: Option<OperatingLimit>) {
        self.settings.operating = limit;
    }

    /// Whether `ledger_key`'s calls of `method` used up `budget` (emulated seconds) in the
    /// window; a refusal is counted in `operating_limit_rejections`.
    pub(crate) fn operating_blocked(
        &mut self,
        ledger_key: &str,
        method: &str,
        budget: f64,
    ) -> bool {
        let blocked = self
            .operating
            .is_blocked(ledger_key, method, self.now, budget);
        if blocked {
            self.counters.operating_limit_rejections += 1;
        }
        blocked
    }

    /// Charges a call `cost` (emulated seconds) of execution time and reports the window.
    pub(crate) fn charge_operating(
        &mut self,
        ledger_key: &str,
        method: &str,
        cost: f64,
    ) -> OperatingReport {
        self.operating.charge(ledger_key, method, self.now, cost)
    }

    /// Admits one REST request into the leaky bucket (always, with the limit off); a refusal
    /// is counted in `query_limit_rejections`.
    pub(crate) fn admit_request(&mut self) -> bool {
        let Some((per_second, burst)) = self.settings.rate_limit.parameters() else {
            return true;
        };
        let admitted = self.bucket.try_admit(self.now, per_second, burst);
        if !admitted {
            self.counters.query_limit_rejections += 1;
        }
        admitted
    }
}
