//! Reading and changing the portal's settings at run time.

use std::time::Duration;

use super::{ControlError, EmulatorHandle};
use crate::config::{
    Faults, OAuthFaults, OperatingLimit, RateLimit, SettingsPostShape, SoftErrorShape,
};
use crate::state::token_hold::TokenRequestHold;

impl EmulatorHandle {
    /// Switches the leaky bucket (and empties it).
    ///
    /// # Errors
    /// [`ControlError::InvalidSetting`] for a negative rate or a zero burst.
    pub fn set_rate_limit(&self, rate_limit: RateLimit) -> Result<(), ControlError> {
        rate_limit.check().map_err(ControlError::InvalidSetting)?;
        self.shared.run(|portal| portal.set_rate_limit(rate_limit));
        Ok(())
    }

    /// Replaces the fault configuration (`None` turns faults off); the generator restarts
    /// from the seed.
    ///
    /// # Errors
    /// [`ControlError::InvalidSetting`] for shares out of range.
    pub fn set_faults(&self, faults: Option<Faults>) -> Result<(), ControlError> {
        if let Some(faults) = &faults {
            faults.check().map_err(ControlError::InvalidSetting)?;
        }
        self.shared.run(|portal| portal.set_faults(faults));
        Ok(())
    }

    /// Replaces the OAuth server's faults (`None` turns them off); the request count and the
    /// generator start again.
    ///
    /// # Errors
    /// [`ControlError::InvalidSetting`] when the shortest delay exceeds the longest.
    pub fn set_oauth_faults(&self, faults: Option<OAuthFaults>) -> Result<(), ControlError> {
        if let Some(faults) = &faults {
            faults.check().map_err(ControlError::InvalidSetting)?;
        }
        self.shared.run(|portal| portal.set_oauth_faults(faults));
        Ok(())
    }

    /// The current OAuth server faults.
    pub fn oauth_faults(&self) -> Option<OAuthFaults> {
        self.read(|portal| portal.settings().oauth_faults.clone())
    }

    /// Holds the next request to `/oauth/token/` before anything is redeemed, until the
    /// returned hold is released or dropped: to have a refresh in flight at a moment of the
    /// test's choosing. Only one request is held; a second call replaces a hold no request
    /// reached yet.
    pub fn hold_next_token_request(&self) -> TokenRequestHold {
        self.shared.hold_next_token_request()
    }

    /// Chooses what the connector settings page's POST carries from now on (see
    /// [`EmulatorHandle::connect_connector`]).
    pub fn set_settings_post_shape(&self, shape: SettingsPostShape) {
        self.shared
            .run(|portal| portal.set_settings_post_shape(shape));
    }

    /// Chooses where register/unregister soft errors go.
    pub fn set_soft_error_shape(&self, shape: SoftErrorShape) {
        self.shared.run(|portal| portal.set_soft_error_shape(shape));
    }

    /// Turns the operating-time budget on or off.
    pub fn set_operating_limit(&self, limit: Option<OperatingLimit>) {
        self.shared.run(|portal| portal.set_operating_limit(limit));
    }

    /// The current leaky-bucket setting.
    pub fn rate_limit(&self) -> RateLimit {
        self.read(|portal| portal.settings().rate_limit)
    }

    /// The current fault configuration.
    pub fn faults(&self) -> Option<Faults> {
        self.read(|portal| portal.settings().faults.clone())
    }

    /// The current operating-time budget.
    pub fn operating_limit(&self) -> Option<OperatingLimit> {
        self.read(|portal| portal.settings().operating)
    }

    /// Where register/unregister soft errors currently go.
    pub fn soft_error_shape(&self) -> SoftErrorShape {
        self.read(|portal| portal.settings().soft_error_shape)
    }

    /// Access-token lifetime (emulated time).
    pub fn token_ttl(&self) -> Duration {
        self.read(|portal| portal.settings().token_ttl)
    }
}
