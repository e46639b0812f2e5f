//! The portal's side of the OAuth server: issuing pairs, and the `authorization_code` and
//! `refresh_token` grants with their counters. `crate::oauth` parses the request and renders
//! the answer.

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use crate::snapshot::Tokens;
use crate::state::tokens::{AccessError, Grant};
use crate::state::Portal;

/// Why a grant was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GrantRefusal {
    /// Unknown `client_id` or wrong `client_secret` (`invalid_client`).
    InvalidClient,
    /// Unknown, used, expired or another app's code or refresh token (`invalid_grant`).
    InvalidGrant,
}

/// Which grant a token request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GrantKind {
    /// `authorization_code` with `code`.
    AuthorizationCode,
    /// `refresh_token` with `refresh_token` (rotation: the token works once).
    RefreshToken,
}

impl Portal {
    /// Issues a pair for `grant` and returns it in the public form.
    pub(crate) fn issue_tokens(&mut self, grant: Grant) -> Tokens {
        let ttl = self.token_ttl_secs();
        let pair = self.tokens.issue(grant, self.now, ttl);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Tokens {
            access_token: SecretString::from(pair.access),
            refresh_token: SecretString::from(pair.refresh),
            expires_in: ttl.round() as u64,
            expires: pair.expires_at.floor() as i64,
            user_id: grant.user,
            client_id: self.apps[grant.app].client_id.clone(),
        }
    }

    /// A single-use authorization code for `grant`.
    pub(crate) fn issue_code(&mut self, grant: Grant) -> String {
        self.tokens.issue_code(grant, self.now)
    }

    /// Makes every access token issued so far expired.
    pub(crate) fn expire_access_tokens(&mut self) {
        let now = self.now;
        self.tokens.expire_all(now);
    }

    /// Forgets every access token (each then answers `invalid_token`).
    pub(crate) fn revoke_access_tokens(&mut self) {
        self.tokens.revoke_access();
    }

    /// Who an access token acts for; refusals are counted (`expired_token_rejections`,
    /// `invalid_token_rejections`).
    pub(crate) fn check_access_token(&mut self, token: &str) -> Result<Grant, AccessError> {
        let checked = self.tokens.check_access(token, self.now);
        match checked {
            Err(AccessError::Expired) => self.counters.expired_token_rejections += 1,
            Err(AccessError::Invalid) => self.counters.invalid_token_rejections += 1,
            Ok(_) => {}
        }
        checked
    }

    /// The app whose `client_id` and `client_secret` both match (the secret compared in
    /// constant time).
    fn authenticate_client(&self, client_id: &str, client_secret: &str) -> Option<usize> {
        let app = self.app_index(client_id)?;
        let expected = self.apps[app].client_secret.expose_secret().as_bytes();
        bool::from(expected.ct_eq(client_secret.as_bytes())).then_some(app)
    }

    /// Redeems `secret` (a code or a refresh token, as `kind` says) for a new pair of the
    /// authenticated client. Refresh grants are counted in `refreshes` or
    /// `refresh_rejections`.
    pub(crate) fn redeem_grant(
        &mut self,
        kind: GrantKind,
        client_id: &str,
        client_secret: &str,
        secret: &str,
    ) -> Result<Tokens, GrantRefusal> {
        let refreshing = kind == GrantKind::RefreshToken;
        let redeemed = match self.authenticate_client(client_id, client_secret) {
            None => Err(GrantRefusal::InvalidClient),
            Some(app) => match kind {
                GrantKind::RefreshToken => self.tokens.consume_refresh(secret, app, self.now),
                GrantKind::AuthorizationCode => self.tokens.consume_code(secret, app, self.now),
            }
            .ok_or(GrantRefusal::InvalidGrant),
        };
        match redeemed {
            Ok(grant) => {
                if refreshing {
                    self.counters.refreshes += 1;
                }
                let tokens = self.issue_tokens(grant);
                self.last_grant = Some(tokens.clone());
                Ok(tokens)
            }
            Err(refusal) => {
                if refreshing {
                    self.counters.refresh_rejections += 1;
                }
                Err(refusal)
            }
        }
    }
}
