//! The error type of a storage hook (inbox, outbox, offline cursors, portal store), declared
//! once: what failed, in words that never hold a token, and the underlying error if known.

/// Declares `$name`: a storage hook's error, displayed as `"$prefix: {message}"`, with its
/// underlying error as the [`source`](std::error::Error::source).
macro_rules! storage_hook_error {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, thiserror::Error)]
        #[error("{prefix}: {message}", prefix = $prefix)]
        pub struct $name {
            message: String,
            #[source]
            source: Option<$crate::BoxError>,
        }

        impl $name {
            /// An error described by `message` (never put a token in it), caused by `source`,
            /// if any.
            pub fn new(message: impl Into<String>, source: Option<$crate::BoxError>) -> Self {
                Self {
                    message: message.into(),
                    source,
                }
            }
        }
    };
}

pub(crate) use storage_hook_error;
