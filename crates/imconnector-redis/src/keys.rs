//! Key names. Every key of one portal carries the portal's `member_id` as a Redis Cluster hash
//! tag (`{…}`), so the scripts that touch several of them stay within one slot.

use crate::error::RedisBackendError;

/// The first part of the default key prefix, `imconnector:<client_id>`.
pub const DEFAULT_PREFIX: &str = "imconnector";

/// The longest `member_id` accepted (Bitrix24's are 32 hex characters).
const MAX_MEMBER_ID_LEN: usize = 128;

/// The keys of one portal.
#[derive(Debug, Clone)]
pub(crate) struct PortalKeys {
    /// Hash: `pair` (JSON), `version` (the stored pair's fence), `fence` (the counter).
    pub(crate) tokens: String,
    /// String: the lease id of the process refreshing; expires with the lease.
    pub(crate) lock: String,
    /// Hash: `level`, `last` of the shared leaky bucket.
    pub(crate) bucket: String,
    /// String: the registry's portal record (JSON).
    pub(crate) portal: String,
    /// Sorted set: the portal's started code-flow authorizations, state -> expiry (µs); expires
    /// with its last state.
    pub(crate) authorizations: String,
    /// String `1` once the connector is provisioned on the portal; absent otherwise.
    pub(crate) provisioned: String,
    /// String: the offline poller's `process_id` (`RedisOfflineCursors`).
    pub(crate) offline_cursor: String,
}

/// Set: the `member_id` of every stored portal (the one key not of one portal).
pub(crate) fn portal_index(prefix: &str) -> String {
    format!("{prefix}:portals")
}

impl PortalKeys {
    /// The keys of portal `member_id` under `prefix`.
    ///
    /// # Errors
    /// [`RedisBackendError::InvalidMemberId`] for an empty or over-long id, or one with
    /// characters other than ASCII letters, digits, `.`, `_` and `-` (braces would break the hash
    /// tag, and a key must not be forgeable from another portal's id).
    pub(crate) fn new(prefix: &str, member_id: &str) -> Result<Self, RedisBackendError> {
        check_member_id(member_id)?;
        let base = format!("{prefix}:{{{member_id}}}");
        Ok(Self {
            tokens: format!("{base}:tokens"),
            lock: format!("{base}:refresh-lock"),
            bucket: format!("{base}:bucket"),
            portal: format!("{base}:portal"),
            authorizations: format!("{base}:authorizations"),
            provisioned: format!("{base}:provisioned"),
            offline_cursor: format!("{base}:offline-cursor"),
        })
    }
}

/// Checks a `member_id` before it becomes part of a key.
pub(crate) fn check_member_id(member_id: &str) -> Result<(), RedisBackendError> {
    let reason = if member_id.is_empty() {
        Some("must not be empty")
    } else if member_id.len() > MAX_MEMBER_ID_LEN {
        Some("must be at most 128 characters")
    } else if !member_id
        .chars()
        .all(|character| character.is_ascii_alphanumeric() || matches!(character, '.' | '_' | '-'))
    {
        Some("may hold only ASCII letters, digits, `.`, `_` and `-`")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(RedisBackendError::InvalidMemberId {
            member_id: member_id.chars().take(40).collect(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Checks the application's `client_id` before it becomes part of the default prefix.
pub(crate) fn check_client_id(client_id: &str) -> Result<(), RedisBackendError> {
    let valid = !client_id.is_empty()
        && client_id.len() < MAX_MEMBER_ID_LEN - DEFAULT_PREFIX.len()
        && client_id
            .chars()
            .all(|character| character.is_ascii_graphic() && !matches!(character, '{' | '}'));
    if valid {
        Ok(())
    } else {
        Err(RedisBackendError::InvalidSetting {
            name: "client_id",
            reason: "must be 1 to 116 printable ASCII characters without braces or spaces"
                .to_owned(),
        })
    }
}

/// Checks a key prefix (any printable ASCII without braces or spaces, not empty).
pub(crate) fn check_prefix(prefix: &str) -> Result<(), RedisBackendError> {
    let valid = !prefix.is_empty()
        && prefix.len() <= MAX_MEMBER_ID_LEN
        && prefix
            .chars()
            .all(|character| character.is_ascii_graphic() && !matches!(character, '{' | '}'));
    if valid {
        Ok(())
    } else {
        Err(RedisBackendError::InvalidPrefix {
            prefix: prefix.chars().take(40).collect(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_the_member_id_hash_tag() {
        let keys = PortalKeys::new("app", "bac1cd5c8940947a75e0d71b1a84e348").unwrap();
        assert_eq!(keys.tokens, "app:{bac1cd5c8940947a75e0d71b1a84e348}:tokens");
        assert_eq!(
            keys.lock,
            "app:{bac1cd5c8940947a75e0d71b1a84e348}:refresh-lock"
        );
        assert!(keys.bucket.contains("{bac1cd5c8940947a75e0d71b1a84e348}"));
        assert!(keys.portal.contains("{bac1cd5c8940947a75e0d71b1a84e348}"));
        assert!(keys
            .authorizations
            .contains("{bac1cd5c8940947a75e0d71b1a84e348}"));
    }

    #[test]
    fn a_member_id_that_could_escape_its_hash_tag_is_refused_by_name() {
        for bad in ["", "a}b", "a{b", "a b", "a:b", &"x".repeat(129)] {
            let error = PortalKeys::new("app", bad).unwrap_err();
            assert!(error.to_string().contains("member_id"), "{error}");
        }
        assert!(check_prefix("my app").is_err());
        assert!(check_prefix("{x}").is_err());
        assert!(check_prefix("imconnector").is_ok());
    }
}
