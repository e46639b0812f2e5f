//! Who may install: only a portal administrator. Every user who opens the app gets genuine
//! tokens of this app on this portal, so proving the tokens says *where* they come from, not
//! *who* sends them; `user.admin`, asked with the proven tokens, says who.

use imconnector_transport::portals::PortalStore;
use imconnector_transport::{Client, Tokens};
use serde_json::{json, Value};

use super::{InstallError, Installer};

impl<S: PortalStore> Installer<S> {
    /// Asks the portal, with the proven `fresh` pair, whether its user is an administrator;
    /// refuses with [`InstallError::NotAdministrator`] otherwise. Returns a client on that pair
    /// and the pair to keep (the client's, should the call have rotated it).
    pub(crate) async fn require_administrator(
        &self,
        fresh: Tokens,
    ) -> Result<(Client, Tokens), InstallError> {
        let client = self.standalone_client(fresh.clone())?;
        // `user.admin` is not in the spec (it is no imconnector method): a raw call.
        let answer = client
            .call_raw("user.admin", json!({}))
            .await
            .map_err(InstallError::Portal)?;
        if !is_true(&answer.result) {
            // Debug-formatted: the OAuth server's text, escaped in the log.
            let user_id = fresh.user_id.as_deref();
            tracing::warn!(?user_id, "the tokens are not an administrator's; refused");
            return Err(InstallError::NotAdministrator);
        }
        let tokens = client.tokens().unwrap_or(fresh);
        Ok((client, tokens))
    }
}

/// `user.admin`'s answer: `true` on the portal; a flag in any of the server's other spellings
/// counts too, anything else is "no".
pub(super) fn is_true(result: &Value) -> bool {
    match result {
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_u64() == Some(1),
        Value::String(text) => matches!(text.as_str(), "Y" | "y" | "1" | "true"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_true;
    use serde_json::json;

    #[test]
    fn only_a_clear_yes_is_an_administrator() {
        for yes in [json!(true), json!(1), json!("Y"), json!("1"), json!("true")] {
            assert!(is_true(&yes), "{yes}");
        }
        for no in [
            json!(false),
            json!(0),
            json!("N"),
            json!(""),
            json!(null),
            json!([]),
            json!({"result": true}),
        ] {
            assert!(!is_true(&no), "{no}");
        }
    }
}
