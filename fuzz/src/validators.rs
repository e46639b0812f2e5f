//! Fuzz body: the checks requests make before anything is sent.

use imconnector_api::ids::{ConnectorId, LineId, SettingsUrl};
use imconnector_api::methods::{RegisterConnector, SendMessages};
use imconnector_api::transport::Method;
use imconnector_api::types::{Icon, MessageBody, MessageChat, MessageFile, MessageIn, MessageUser};

/// PHP's `empty()` for a string, which the portal applies to ids and texts.
fn php_empty(text: &str) -> bool {
    text.is_empty() || text == "0"
}

/// What the portal accepts as a connector id, once lowercased.
fn connector_id_ok(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 255
        && id
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
}

/// Cuts `data` into up to four texts at `0xFF` bytes (never part of UTF-8).
fn fields(data: &[u8]) -> [String; 4] {
    let mut parts = data.split(|&byte| byte == 0xFF);
    let mut next = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    [next(), next(), next(), next()]
}

/// Runs every validator on texts and numbers cut from `data`; each must accept exactly what
/// its documented rule accepts and name the parameter when it refuses.
///
/// # Panics
/// When a validator disagrees with its rule (that is the finding).
pub fn check(data: &[u8]) {
    let [first, second, third, fourth] = fields(data);

    let connector = ConnectorId::new(first.as_str());
    assert_eq!(
        connector.is_ok(),
        connector_id_ok(&first.to_ascii_lowercase()),
        "{first:?}"
    );
    if let Err(error) = &connector {
        assert_eq!(error.parameter, "CONNECTOR");
        assert!(!error.reason.is_empty());
    }

    let mut number = [0u8; 8];
    for (slot, byte) in number.iter_mut().zip(data) {
        *slot = *byte;
    }
    let line = i64::from_le_bytes(number);
    let line_id = LineId::new(line);
    assert_eq!(line_id.is_ok(), line > 0);
    if let Err(error) = &line_id {
        assert_eq!(error.parameter, "LINE");
    }

    // The icon is checked when the request holding it is validated.
    let Ok(settings) = SettingsUrl::parse("https://connector.example/settings") else {
        unreachable!("a valid settings URL")
    };
    let Ok(registered) = ConnectorId::new("fuzz_connector") else {
        unreachable!("a valid connector id")
    };
    let icon =
        RegisterConnector::new(registered, "Fuzz", Icon::new(second.as_str()), settings).validate();
    let prefix_ok = second
        .as_bytes()
        .get(..11)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(b"data:image/"));
    assert_eq!(
        icon.is_ok(),
        prefix_ok && !second.contains('\''),
        "{second:?}"
    );
    if let Err(error) = icon {
        assert_eq!(error.parameter, "ICON.DATA_IMAGE");
    }

    let (user, chat, text, file_url) = (first, second, third, fourth);
    let mut body = MessageBody::new().with_text(text.as_str());
    let with_file = !file_url.is_empty();
    if with_file {
        body = body.with_files([MessageFile::new(file_url.as_str())]);
    }
    let message = MessageIn::new(
        MessageUser::new(user.as_str()),
        body,
        MessageChat::new(chat.as_str()),
    );
    let Ok(connector) = ConnectorId::new("fuzz_connector") else {
        unreachable!("a valid connector id")
    };
    let Ok(line) = LineId::new(1) else {
        unreachable!("a valid line id")
    };
    let request = SendMessages::new(connector, line, [message]);
    let verdict = request.validate();
    // Text or a file is needed, and every file needs a url.
    let content_ok = if with_file {
        !php_empty(&file_url)
    } else {
        !php_empty(&text)
    };
    let expected = !php_empty(&user) && !php_empty(&chat) && content_ok;
    assert_eq!(
        verdict.is_ok(),
        expected,
        "{user:?} {chat:?} {text:?} {file_url:?}: {verdict:?}"
    );
    if let Err(error) = verdict {
        assert!(error.parameter.starts_with("MESSAGES[0]"), "{error}");
    }
}
