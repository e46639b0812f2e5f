//! The hand-written wire helpers of `imconnector_api::wire` the spec may name, and the named
//! checks of `wire::checks`. This table mirrors the one in `spec/README.md`; a name missing here
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
    /// Implements `wire::SoftErrorSource`, so a method may name it as `response.soft_error`.
    pub soft_error: bool,
}

const fn helper(name: &'static str, arg: ArgStyle, example: ExampleStyle) -> Helper {
    Helper {
        name,
        arity: 0,
        arg,
        example,
        secret: false,
        soft_error: false,
        validates: false,
    }
}

/// Every helper, sorted by name.
pub const HELPERS: &[Helper] = &[
    helper("ActiveFlag", ArgStyle::Bool, ExampleStyle::Literal),
    Helper {
        validates: true,
        ..helper("ConnectorId", ArgStyle::AsIs, ExampleStyle::CheckedString)
    },
    Helper {
        validates: true,
        ..helper("DataImageUri", ArgStyle::IntoString, ExampleStyle::Literal)
    },
    helper("EmptyObject", ArgStyle::AsIs, ExampleStyle::Default),
    helper("EventsUrl", ArgStyle::AsIs, ExampleStyle::ParsedString),
    Helper {
        arity: 1,
        ..helper("FalseOr", ArgStyle::AsIs, ExampleStyle::Default)
    },
    helper("Id", ArgStyle::IntoString, ExampleStyle::Literal),
    Helper {
        validates: true,
        ..helper("LineId", ArgStyle::AsIs, ExampleStyle::CheckedInteger)
    },
    Helper {
        arity: 1,
        ..helper("ListOrMap", ArgStyle::AsIs, ExampleStyle::Default)
    },
    Helper {
        arity: 1,
        ..helper("MapOrEmptyList", ArgStyle::AsIs, ExampleStyle::Default)
    },
    Helper {
        soft_error: true,
        ..helper("NestedResult", ArgStyle::AsIs, ExampleStyle::Default)
    },
    Helper {
        secret: true,
        ..helper("SecretString", ArgStyle::AsIs, ExampleStyle::Default)
    },
    helper("SettingsUrl", ArgStyle::AsIs, ExampleStyle::ParsedString),
    Helper {
        soft_error: true,
        ..helper("SuccessFlag", ArgStyle::AsIs, ExampleStyle::Default)
    },
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
];

/// Names the generator itself gives to generated items, so no spec type may take them.
pub const RESERVED_TYPE_NAMES: &[&str] = &["Event", "EventDecodeError", "UnknownEvent"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_so_lookups_and_docs_stay_stable() {
        assert!(HELPERS.windows(2).all(|pair| pair[0].name < pair[1].name));
        assert!(CHECKS.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
