//! Where the receiver finds the application token an event must carry.

use imconnector_transport::MemberId;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use secrecy::SecretString;

/// Looks up the application token a portal's events must carry, by the portal's `member_id`
/// (`auth[member_id]` of the event).
///
/// Bitrix24 gives the token once, in `OnAppInstall` (and in every placement POST as
/// `APPLICATION_TOKEN`); store it per portal. [`SingleToken`] serves one portal, [`TokenMap`]
/// a fixed set; implement the trait over your own store for more.
pub trait ApplicationTokens: Send + Sync + 'static {
    /// The token expected from portal `member_id`; `None` refuses its events (401).
    fn application_token(
        &self,
        member_id: &MemberId,
    ) -> impl Future<Output = Option<SecretString>> + Send;
}

/// One application token, for an application installed on one portal (any `member_id`, or
/// only the one given to [`for_member`](Self::for_member)).
#[derive(Clone)]
pub struct SingleToken {
    token: SecretString,
    member_id: Option<String>,
}

impl SingleToken {
    /// Accepts events carrying `token`.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: SecretString::from(token.into()),
            member_id: None,
        }
    }

    /// Accepts them only from the portal `member_id`.
    #[must_use]
    pub fn for_member(mut self, member_id: impl Into<String>) -> Self {
        self.member_id = Some(member_id.into());
        self
    }
}

impl From<SecretString> for SingleToken {
    fn from(token: SecretString) -> Self {
        Self {
            token,
            member_id: None,
        }
    }
}

impl fmt::Debug for SingleToken {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SingleToken")
            .field("token", &"[redacted]")
            .field("member_id", &self.member_id)
            .finish()
    }
}

impl ApplicationTokens for SingleToken {
    fn application_token(
        &self,
        member_id: &MemberId,
    ) -> impl Future<Output = Option<SecretString>> + Send {
        let accepted = self
            .member_id
            .as_deref()
            .is_none_or(|only| only == member_id.as_str());
        let token = accepted.then(|| self.token.clone());
        async move { token }
    }
}

/// Application tokens of several portals, by `member_id`.
#[derive(Clone, Default)]
pub struct TokenMap {
    tokens: HashMap<String, SecretString>,
}

impl TokenMap {
    /// No portal yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the token of portal `member_id`.
    #[must_use]
    pub fn with(mut self, member_id: impl Into<String>, token: impl Into<String>) -> Self {
        self.insert(member_id, token);
        self
    }

    /// Adds (or replaces) the token of portal `member_id`.
    pub fn insert(&mut self, member_id: impl Into<String>, token: impl Into<String>) {
        self.tokens
            .insert(member_id.into(), SecretString::from(token.into()));
    }

    /// How many portals are known.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether no portal is known.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

impl fmt::Debug for TokenMap {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut portals: Vec<&str> = self.tokens.keys().map(String::as_str).collect();
        portals.sort_unstable();
        formatter
            .debug_struct("TokenMap")
            .field("portals", &portals)
            .finish_non_exhaustive()
    }
}

impl ApplicationTokens for TokenMap {
    fn application_token(
        &self,
        member_id: &MemberId,
    ) -> impl Future<Output = Option<SecretString>> + Send {
        let token = self.tokens.get(member_id.as_str()).cloned();
        async move { token }
    }
}

impl<T: ApplicationTokens> ApplicationTokens for Arc<T> {
    fn application_token(
        &self,
        member_id: &MemberId,
    ) -> impl Future<Output = Option<SecretString>> + Send {
        T::application_token(self, member_id)
    }
}
