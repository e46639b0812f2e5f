//! The hand-written wire helpers of `imconnector_api::wire` (crate-private) the spec may name,
//! the named checks of `wire::checks` and the result readers of `wire::responses`. This table mirrors the one in `spec/README.md`; a name missing here
//! is an unknown type to the generator, and one missing in `wire.rs` fails to compile.

/// How a request constructor or setter takes a value of a helper type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgStyle {
    /// The helper itself (`ConnectorId`, `LineId`: checked when built).
    AsIs,
    /// `impl Into<String>`, wrapped with `Helper::new(value.into())`.
    IntoString,
    /// A plain `bool`, wrapped with `Helper::from(value)`.
    Bool,
    /// `impl Into<Helper>` of a text id (`"ext-42"`, a `String`, or the id itself), so an id of
    /// another kind does not fit.
    IntoTextId,
    /// `impl Into<Helper>` of an integer id (`1807`, or the id itself).
    IntoIntegerId,
}

/// How a doc example writes a value of a helper type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExampleStyle {
    /// `Helper::new(<string literal>)?`
    CheckedString,
    /// `Helper::parse(<string literal>)?` (the URLs)
    ParsedString,
    /// `Helper::new(<integer literal>)?`
    CheckedInteger,
    /// The literal itself (a `bool` or a string, per [`ArgStyle`]).
    Literal,
    /// `Default::default()`
    Default,
}

/// One wire helper.
#[derive(Debug)]
pub struct Helper {
    /// Type name in `wire.rs` and in the spec.
    pub name: &'static str,
    /// Number of generic arguments.
    pub arity: usize,
    /// Constructor argument style.
    pub arg: ArgStyle,
    /// Doc example style.
    pub example: ExampleStyle,
    /// Holds a secret: no `Serialize`, no `PartialEq`.
    pub secret: bool,
    /// Implements `wire::Validate` with checks of its own (run by `Method::validate`).
    pub validates: bool,
    /// Which Rust type holds it.
    pub shape: Shape,
}

/// The Rust type of a helper: its own type in `wire`, or a standard one (decoded by that
/// type's `WireDecode`, so public types name no wire helper).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `crate::wire::<Name>` (re-exported publicly where users meet it, e.g. `ids`).
    Own,
    /// `BTreeMap<usize, T>`: items keyed by their position in the request, for a PHP list that
    /// turns into an object when items are missing (`{"1": ...}`).
    ByPosition,
    /// `Option<T>`, for a value PHP sends as `false` (or `null`) when there is none.
    Optional,
}

const fn helper(name: &'static str, arg: ArgStyle, example: ExampleStyle) -> Helper {
    Helper {
        name,
        arity: 0,
        arg,
        example,
        secret: false,
        validates: false,
        shape: Shape::Own,
    }
}

/// Every helper, sorted by name.
pub const HELPERS: &[Helper] = &[
    helper("ActiveFlag", ArgStyle::Bool, ExampleStyle::Literal),
    helper(
        "BitrixChatId",
        ArgStyle::IntoIntegerId,
        ExampleStyle::Literal,
    ),
    helper(
        "BitrixFileId",
        ArgStyle::IntoIntegerId,
        ExampleStyle::Literal,
    ),
    helper(
        "BitrixMessageId",
        ArgStyle::IntoIntegerId,
        ExampleStyle::Literal,
    ),
    helper(
        "BitrixUserId",
        ArgStyle::IntoIntegerId,
        ExampleStyle::Literal,
    ),
    Helper {
        arity: 1,
        shape: Shape::ByPosition,
        ..helper("ByPosition", ArgStyle::AsIs, ExampleStyle::Default)
    },
    Helper {
        validates: true,
        ..helper("ConnectorId", ArgStyle::AsIs, ExampleStyle::CheckedString)
    },
    Helper {
        validates: true,
        ..helper("DataImageUri", ArgStyle::IntoString, ExampleStyle::Literal)
    },
    helper("EventsUrl", ArgStyle::AsIs, ExampleStyle::ParsedString),
    helper(
        "ExternalChatId",
        ArgStyle::IntoTextId,
        ExampleStyle::Literal,
    ),
    helper(
        "ExternalMessageId",
        ArgStyle::IntoTextId,
        ExampleStyle::Literal,
    ),
    helper(
        "ExternalUserId",
        ArgStyle::IntoTextId,
        ExampleStyle::Literal,
    ),
    Helper {
        arity: 1,
        shape: Shape::Optional,
        ..helper("FalseOr", ArgStyle::AsIs, ExampleStyle::Default)
    },
    helper("Id", ArgStyle::IntoString, ExampleStyle::Literal),
    Helper {
        validates: true,
        ..helper("LineId", ArgStyle::AsIs, ExampleStyle::CheckedInteger)
    },
    helper("MemberId", ArgStyle::IntoTextId, ExampleStyle::Literal),
    Helper {
        secret: true,
        ..helper("SecretString", ArgStyle::AsIs, ExampleStyle::Default)
    },
    helper("SessionId", ArgStyle::IntoIntegerId, ExampleStyle::Literal),
    helper("SettingsUrl", ArgStyle::AsIs, ExampleStyle::ParsedString),
    helper("SourceKey", ArgStyle::IntoTextId, ExampleStyle::Literal),
    helper("YesNo", ArgStyle::Bool, ExampleStyle::Literal),
];

/// The helper called `name`.
pub fn find(name: &str) -> Option<&'static Helper> {
    HELPERS.iter().find(|helper| helper.name == name)
}

/// The functions of `wire::checks` a method's `validate` list may name.
pub const CHECKS: &[&str] = &[
    "delivery_items_complete",
    "messages_complete",
    "messages_identified",
    "messages_not_empty",
    "process_id_present",
];

/// What a check of [`CHECKS`] refuses, for the request's documentation (the checks themselves
/// are private to the crate).
pub fn check_summary(check: &str) -> &'static str {
    match check {
        "delivery_items_complete" => "every confirmation carries `im.chat_id`, `im.message_id`, a non-empty `message.id` and `chat.id`",
        "messages_complete" => "every message names `user.id` and `chat.id` and has `message.text` or `message.files`, every file a `url`",
        "messages_identified" => "every message names `user.id`, `message.id` and `chat.id`",
        "messages_not_empty" => "`MESSAGES` is not empty",
        "process_id_present" => "`process_id` is not empty",
        _ => "a named check",
    }
}

/// The readers of `wire::responses` a method's `response.soft_error` may name: each reads the
/// `result`, reports the failure the portal may send inside an HTTP 200 answer, and decodes the
/// response type from it.
pub const SOFT_ERROR_READERS: &[&str] = &["nested_result", "success_flag"];

/// Names the generator itself gives to generated items, so no spec type may take them.
pub const RESERVED_TYPE_NAMES: &[&str] = &["Event", "EventDecodeError", "UnknownEvent"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_so_lookups_and_docs_stay_stable() {
        assert!(HELPERS.windows(2).all(|pair| pair[0].name < pair[1].name));
        assert!(CHECKS.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(SOFT_ERROR_READERS.windows(2).all(|pair| pair[0] < pair[1]));
        for check in CHECKS {
            assert_ne!(check_summary(check), check_summary(""), "{check}");
        }
    }
}
