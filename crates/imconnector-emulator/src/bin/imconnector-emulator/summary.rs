//! What the binary prints at start: aligned text for people, or one JSON object for scripts.
//! Printing credentials is the point: a test harness reads them from here.

use imconnector_emulator::{Emulator, ExposeSecret};
use serde_json::{json, Value};

/// Every URL and credential a client needs.
pub(crate) fn summary(emulator: &Emulator) -> Value {
    let app = emulator.app();
    let tokens = emulator.tokens();
    let line_ids: Vec<i64> = emulator.lines().iter().map(|line| line.id).collect();
    json!({
        "portal": emulator.rest_url(),
        "base_url": emulator.base_url(),
        "oauth": emulator.oauth_url(),
        "control": emulator.control_url(),
        "webhook": emulator.webhook_url().expose_secret(),
        "client_id": app.client_id,
        "client_secret": app.client_secret.expose_secret(),
        "application_token": app.application_token.expose_secret(),
        "member_id": app.member_id,
        "domain": app.domain,
        "access_token": tokens.access_token.expose_secret(),
        "refresh_token": tokens.refresh_token.expose_secret(),
        "expires": tokens.expires,
        "expires_in": tokens.expires_in,
        "user_id": tokens.user_id,
        "lines": line_ids,
        "ca_file": emulator.tls_ca_file().map(|path| path.display().to_string()),
        "listen": emulator.address().to_string(),
    })
}

/// The same as `key: value` lines.
pub(crate) fn text(summary: &Value) -> String {
    let Value::Object(fields) = summary else {
        return String::new();
    };
    let mut out = String::new();
    for (key, value) in fields {
        let shown = match value {
            Value::String(text) => text.clone(),
            Value::Null => continue,
            other => other.to_string(),
        };
        out.push_str(&format!("{:<19}{shown}\n", format!("{key}:")));
    }
    out
}
