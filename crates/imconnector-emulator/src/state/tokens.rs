//! OAuth tokens and authorization codes with expiry and refresh-token rotation.
//!
//! Tokens are looked up by their first characters (the "selector") and then compared in full in
//! constant time, so the lookup never leaks how much of a guessed token was right.

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// Scopes granted to emulated apps (`scope` of token answers, events and the install POST).
pub(crate) const SCOPE: &str = "imopenlines,imconnector";
/// The `domain` the real OAuth server reports: its own, not the portal's.
pub(crate) const OAUTH_DOMAIN: &str = "oauth.bitrix.info";

/// Characters of a token used as the map key.
const SELECTOR_LEN: usize = 12;
/// Refresh tokens live 180 days (reference §1.8).
const REFRESH_TTL_SECS: f64 = 180.0 * 24.0 * 3600.0;
/// Authorization codes live 30 seconds.
const CODE_TTL_SECS: f64 = 30.0;

/// A 32-character lowercase hex token, like the portal's.
pub(crate) fn random_token(rng: &mut impl Rng) -> String {
    format!("{:032x}", rng.random::<u128>())
}

/// A generator seeded with `seed`, or from the thread's generator when there is none.
pub(crate) fn new_rng(seed: Option<u64>) -> StdRng {
    match seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_rng(&mut rand::rng()),
    }
}

fn selector(token: &str) -> Option<&str> {
    token.get(..SELECTOR_LEN)
}

/// Who a token acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grant {
    /// Index of the app in the portal's app list.
    pub(crate) app: usize,
    /// Portal user id.
    pub(crate) user: u64,
}

struct Stored {
    secret: SecretString,
    grant: Grant,
    expires_at: f64,
    used: bool,
    /// Of a refresh token: the selector of the access token issued beside it, which the portal
    /// invalidates when this refresh token is redeemed.
    paired_access: Option<String>,
}

#[derive(Default)]
struct Table {
    rows: HashMap<String, Stored>,
}

impl Table {
    fn insert(&mut self, rng: &mut StdRng, grant: Grant, expires_at: f64) -> String {
        loop {
            let token = random_token(rng);
            let Some(key) = selector(&token) else {
                continue;
            };
            if self.rows.contains_key(key) {
                continue;
            }
            self.rows.insert(
                key.to_owned(),
                Stored {
                    secret: SecretString::from(token.clone()),
                    grant,
                    expires_at,
                    used: false,
                    paired_access: None,
                },
            );
            return token;
        }
    }

    fn find(&mut self, token: &str) -> Option<&mut Stored> {
        let stored = self.rows.get_mut(selector(token)?)?;
        let equal: bool = stored
            .secret
            .expose_secret()
            .as_bytes()
            .ct_eq(token.as_bytes())
            .into();
        equal.then_some(stored)
    }

    fn prune(&mut self, now: f64) {
        self.rows
            .retain(|_, stored| stored.expires_at > now && !stored.used);
    }
}

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccessError {
    /// Unknown token (`invalid_token`).
    Invalid,
    /// Known but past its lifetime (`expired_token`).
    Expired,
}

/// A newly issued pair.
pub(crate) struct IssuedPair {
    pub(crate) access: String,
    pub(crate) refresh: String,
    pub(crate) expires_at: f64,
}

/// All tokens of the portal.
pub(crate) struct TokenStore {
    /// Draws every token (seeded for reproducible runs).
    rng: StdRng,
    access: Table,
    refresh: Table,
    codes: Table,
    /// Expired access tokens are kept this long so they answer `expired_token`, not `invalid_token`.
    issued_since_prune: u32,
}

impl Default for TokenStore {
    fn default() -> Self {
        Self::new(None)
    }
}

impl TokenStore {
    /// An empty store drawing tokens from a generator seeded with `seed` (if any).
    pub(crate) fn new(seed: Option<u64>) -> Self {
        Self {
            rng: new_rng(seed),
            access: Table::default(),
            refresh: Table::default(),
            codes: Table::default(),
            issued_since_prune: 0,
        }
    }

    /// Issues an access/refresh pair.
    pub(crate) fn issue(&mut self, grant: Grant, now: f64, ttl_secs: f64) -> IssuedPair {
        self.maybe_prune(now, ttl_secs);
        let expires_at = now + ttl_secs;
        let access = self.access.insert(&mut self.rng, grant, expires_at);
        let refresh = self
            .refresh
            .insert(&mut self.rng, grant, now + REFRESH_TTL_SECS);
        if let Some(stored) = self.refresh.find(&refresh) {
            stored.paired_access = selector(&access).map(str::to_owned);
        }
        IssuedPair {
            access,
            refresh,
            expires_at,
        }
    }

    /// Issues an access token alone (for event `auth[...]`, which carries no refresh token).
    pub(crate) fn issue_access(&mut self, grant: Grant, now: f64, ttl_secs: f64) -> (String, f64) {
        self.maybe_prune(now, ttl_secs);
        let expires_at = now + ttl_secs;
        (
            self.access.insert(&mut self.rng, grant, expires_at),
            expires_at,
        )
    }

    /// Checks an access token.
    pub(crate) fn check_access(&mut self, token: &str, now: f64) -> Result<Grant, AccessError> {
        let stored = self.access.find(token).ok_or(AccessError::Invalid)?;
        if stored.expires_at <= now {
            return Err(AccessError::Expired);
        }
        Ok(stored.grant)
    }

    /// Consumes a refresh token of `app`: valid once, then invalid (rotation). The access
    /// token issued beside it stops working (`invalid_token`), as on the portal.
    pub(crate) fn consume_refresh(&mut self, token: &str, app: usize, now: f64) -> Option<Grant> {
        let stored = self.refresh.find(token)?;
        if stored.used || stored.expires_at <= now || stored.grant.app != app {
            return None;
        }
        stored.used = true;
        let grant = stored.grant;
        if let Some(access) = stored.paired_access.take() {
            self.access.rows.remove(&access);
        }
        Some(grant)
    }

    /// Issues a single-use authorization code.
    pub(crate) fn issue_code(&mut self, grant: Grant, now: f64) -> String {
        self.codes.insert(&mut self.rng, grant, now + CODE_TTL_SECS)
    }

    /// Consumes an authorization code of `app`.
    pub(crate) fn consume_code(&mut self, code: &str, app: usize, now: f64) -> Option<Grant> {
        let stored = self.codes.find(code)?;
        if stored.used || stored.expires_at <= now || stored.grant.app != app {
            return None;
        }
        stored.used = true;
        Some(stored.grant)
    }

    /// Revokes every token and code of `app` (uninstall).
    pub(crate) fn revoke_app(&mut self, app: usize) {
        for table in [&mut self.access, &mut self.refresh, &mut self.codes] {
            table.rows.retain(|_, stored| stored.grant.app != app);
        }
    }

    /// Makes every access token expired now.
    pub(crate) fn expire_all(&mut self, now: f64) {
        for stored in self.access.rows.values_mut() {
            stored.expires_at = stored.expires_at.min(now);
        }
    }

    /// Forgets every access token: each then answers `invalid_token`, as after a revocation on
    /// the portal. Refresh tokens stay valid.
    pub(crate) fn revoke_access(&mut self) {
        self.access.rows.clear();
    }

    /// Drops long-dead tokens now and then so a long run does not grow without bound. Expired
    /// access tokens stay for a day of emulated time (or ten lifetimes) to keep answering
    /// `expired_token`.
    fn maybe_prune(&mut self, now: f64, ttl_secs: f64) {
        self.issued_since_prune += 1;
        if self.issued_since_prune < 1024 {
            return;
        }
        self.issued_since_prune = 0;
        let grace = (ttl_secs * 10.0).max(86_400.0);
        self.access.prune(now - grace);
        self.refresh.prune(now);
        self.codes.prune(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRANT: Grant = Grant { app: 0, user: 1 };

    #[test]
    fn access_tokens_expire_and_unknown_ones_are_invalid() {
        let mut store = TokenStore::default();
        let pair = store.issue(GRANT, 1000.0, 3600.0);
        assert_eq!(store.check_access(&pair.access, 1000.0), Ok(GRANT));
        assert_eq!(
            store.check_access(&pair.access, 4600.0),
            Err(AccessError::Expired)
        );
        assert_eq!(
            store.check_access("nope", 1000.0),
            Err(AccessError::Invalid)
        );
        let mut forged = pair.access.clone();
        forged.pop();
        forged.push('x');
        assert_eq!(
            store.check_access(&forged, 1000.0),
            Err(AccessError::Invalid)
        );
    }

    #[test]
    fn refresh_tokens_rotate() {
        let mut store = TokenStore::default();
        let pair = store.issue(GRANT, 1000.0, 3600.0);
        assert_eq!(
            store.consume_refresh(&pair.refresh, 1, 1000.0),
            None,
            "other app"
        );
        assert_eq!(store.consume_refresh(&pair.refresh, 0, 1000.0), Some(GRANT));
        assert_eq!(
            store.consume_refresh(&pair.refresh, 0, 1000.0),
            None,
            "reused"
        );
    }

    #[test]
    fn redeeming_a_refresh_token_invalidates_the_access_token_of_its_pair() {
        let mut store = TokenStore::default();
        let old = store.issue(GRANT, 1000.0, 3600.0);
        let other = store.issue(GRANT, 1000.0, 3600.0);
        assert_eq!(store.consume_refresh(&old.refresh, 0, 1000.0), Some(GRANT));
        assert_eq!(
            store.check_access(&old.access, 1000.0),
            Err(AccessError::Invalid)
        );
        assert_eq!(
            store.check_access(&other.access, 1000.0),
            Ok(GRANT),
            "another pair is untouched"
        );
    }

    #[test]
    fn revoked_access_tokens_are_invalid_and_refresh_tokens_still_rotate() {
        let mut store = TokenStore::default();
        let pair = store.issue(GRANT, 1000.0, 3600.0);
        store.revoke_access();
        assert_eq!(
            store.check_access(&pair.access, 1000.0),
            Err(AccessError::Invalid)
        );
        assert_eq!(store.consume_refresh(&pair.refresh, 0, 1000.0), Some(GRANT));
        let next = store.issue(GRANT, 1000.0, 3600.0);
        assert_eq!(store.check_access(&next.access, 1000.0), Ok(GRANT));
    }

    #[test]
    fn expire_all_expires_now() {
        let mut store = TokenStore::default();
        let pair = store.issue(GRANT, 1000.0, 3600.0);
        store.expire_all(1001.0);
        assert_eq!(
            store.check_access(&pair.access, 1001.0),
            Err(AccessError::Expired)
        );
    }
}
