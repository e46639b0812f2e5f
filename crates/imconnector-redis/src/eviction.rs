//! The start-up look at Redis's `maxmemory-policy`: under an `allkeys-*` policy Redis may evict
//! a portal's token pair or record when memory runs short, and the portal is then lost until
//! someone re-installs the application.

use std::collections::HashMap;

use redis::aio::ConnectionManager;

use crate::error::RedisBackendError;

/// What the backend does when Redis may evict keys that carry no expiry (an `allkeys-*`
/// `maxmemory-policy`); see [`RedisBackendBuilder::on_evicting_policy`](crate::RedisBackendBuilder::on_evicting_policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EvictingPolicy {
    /// Refuse to connect ([`RedisBackendError::EvictingPolicy`]): the default.
    #[default]
    Refuse,
    /// Connect and log a warning (e.g. a Redis whose `maxmemory` is far above what it holds).
    Warn,
}

/// Whether keys without an expiry (token pairs, portal records) can be evicted under `policy`.
pub(crate) fn evicts_persistent_keys(policy: &str) -> bool {
    policy.starts_with("allkeys-")
}

/// The server's `maxmemory-policy`: from `CONFIG GET`, else from `INFO memory` (managed Redis
/// services often refuse `CONFIG`), else `None` when both are refused.
pub(crate) async fn read_policy(connection: &mut ConnectionManager) -> Option<String> {
    let config: Result<HashMap<String, String>, _> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory-policy")
        .query_async(connection)
        .await;
    if let Some(policy) = config
        .ok()
        .and_then(|mut answer| answer.remove("maxmemory-policy"))
    {
        return Some(policy);
    }
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(connection)
        .await
        .ok()?;
    policy_from_info(&info)
}

/// `maxmemory_policy:…` of an `INFO memory` answer.
fn policy_from_info(info: &str) -> Option<String> {
    info.lines()
        .find_map(|line| line.trim().strip_prefix("maxmemory_policy:"))
        .map(|policy| policy.trim().to_owned())
        .filter(|policy| !policy.is_empty())
}

/// Applies `setting` to the policy read (`None`: it could not be read).
pub(crate) fn judge(
    policy: Option<&str>,
    setting: EvictingPolicy,
) -> Result<(), RedisBackendError> {
    match policy {
        None => {
            tracing::warn!(
                "cannot read Redis's maxmemory-policy (CONFIG GET and INFO refused); make sure it is `noeviction` or `volatile-*`: under `allkeys-*` Redis may evict portal tokens"
            );
            Ok(())
        }
        Some(policy) if evicts_persistent_keys(policy) => match setting {
            EvictingPolicy::Refuse => Err(RedisBackendError::EvictingPolicy {
                policy: policy.to_owned(),
            }),
            EvictingPolicy::Warn => {
                tracing::warn!(
                    policy,
                    "Redis may evict portal tokens and records under this maxmemory-policy; use `noeviction`"
                );
                Ok(())
            }
        },
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_is_read_from_an_info_answer() {
        let info = "# Memory\r\nused_memory:1\r\nmaxmemory:0\r\nmaxmemory_policy:allkeys-lru\r\n";
        assert_eq!(policy_from_info(info).as_deref(), Some("allkeys-lru"));
        assert_eq!(policy_from_info("# Memory\r\nused_memory:1\r\n"), None);
    }

    #[test]
    fn only_allkeys_policies_are_refused_by_default() {
        for policy in ["allkeys-lru", "allkeys-lfu", "allkeys-random"] {
            let refused = judge(Some(policy), EvictingPolicy::Refuse).unwrap_err();
            assert!(refused.to_string().contains(policy), "{refused}");
            assert!(judge(Some(policy), EvictingPolicy::Warn).is_ok());
        }
        for policy in ["noeviction", "volatile-lru", "volatile-ttl"] {
            assert!(
                judge(Some(policy), EvictingPolicy::Refuse).is_ok(),
                "{policy}"
            );
        }
        assert!(judge(None, EvictingPolicy::Refuse).is_ok());
    }
}
