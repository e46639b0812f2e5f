//! Every error code the Bitrix24 REST API and its OAuth server are known to answer.

use std::{convert::Infallible, fmt, str::FromStr};

/// Declares the enum, its wire strings and the list of known codes from one table, so the three
/// can never drift apart.
macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = $wire:literal, )*) => {
        /// An error code from the `error` field of a response, a batch `result_error` entry, a
        /// soft error inside `result`, or the OAuth server.
        ///
        /// Codes are matched exactly (the portal mixes `UPPER_CASE` and `lower_case`, and
        /// `INVALID_REQUEST` is not `invalid_request`); anything unknown is kept in
        /// [`ErrorCode::Other`] so a new server code never breaks decoding.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
            /// A code this crate does not know yet, exactly as the server sent it.
            Other(String),
        }

        impl ErrorCode {
            /// Every known code (all variants but [`ErrorCode::Other`]).
            pub const KNOWN: &'static [ErrorCode] = &[ $( ErrorCode::$variant, )* ];

            /// The code as it appears on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( ErrorCode::$variant => $wire, )*
                    ErrorCode::Other(code) => code,
                }
            }

            /// Maps a wire code to its variant, or [`ErrorCode::Other`].
            pub fn from_wire(code: &str) -> ErrorCode {
                match code {
                    $( $wire => ErrorCode::$variant, )*
                    other => ErrorCode::Other(other.to_owned()),
                }
            }
        }
    };
}

error_codes! {
    // System codes, any method (reference section 1.9).
    /// 500: internal server error.
    InternalServerError = "INTERNAL_SERVER_ERROR",
    /// 500: the server returned an unexpected answer.
    ErrorUnexpectedAnswer = "ERROR_UNEXPECTED_ANSWER",
    /// 503: the portal's request-rate bucket is full; rejected before any work, always retryable.
    QueryLimitExceeded = "QUERY_LIMIT_EXCEEDED",
    /// 429: the method's operating-time budget is spent; rejected before any work.
    OperationTimeLimit = "OPERATION_TIME_LIMIT",
    /// A method that may not run inside `batch`.
    ErrorBatchMethodNotAllowed = "ERROR_BATCH_METHOD_NOT_ALLOWED",
    /// More than 50 commands in one `batch`.
    ErrorBatchLengthExceeded = "ERROR_BATCH_LENGTH_EXCEEDED",
    /// Wrong or missing authorisation data.
    NoAuthFound = "NO_AUTH_FOUND",
    /// HTTPS required (upper case; not the OAuth server's `invalid_request`).
    InvalidRequest = "INVALID_REQUEST",
    /// REST blocked manually on the portal.
    OverloadLimit = "OVERLOAD_LIMIT",
    /// Access denied (plan, module or permission).
    AccessDenied = "ACCESS_DENIED",
    /// The webhook user lacks rights, or the webhook is wrong.
    InvalidCredentials = "INVALID_CREDENTIALS",
    /// The application manifest is not available.
    ErrorManifestIsNotAvailable = "ERROR_MANIFEST_IS_NOT_AVAILABLE",
    /// The token or webhook lacks the method's scope (also an OAuth server code).
    InsufficientScope = "insufficient_scope",
    /// The access token has expired: refresh and replay.
    ExpiredToken = "expired_token",
    /// The access token is not (or no longer) valid, e.g. revoked by a reinstallation: refresh
    /// once and replay; if the new token is refused too, the call fails with this code.
    InvalidToken = "invalid_token",
    /// The user may not use the application.
    UserAccessError = "user_access_error",
    /// The portal was deleted or stopped.
    PortalDeleted = "PORTAL_DELETED",
    /// The method requires another kind of authorisation (imconnector methods: OAuth only).
    WrongAuthType = "WRONG_AUTH_TYPE",
    /// A missing or invalid argument; the body names it in `argument`.
    ErrorArgument = "ERROR_ARGUMENT",
    /// Unknown method, or a method outside every granted scope.
    ErrorMethodNotFound = "ERROR_METHOD_NOT_FOUND",
    /// Generic server failure (SQL error, duplicate event binding, ...).
    ErrorCore = "ERROR_CORE",
    /// The response could not be JSON-encoded.
    WrongEncoding = "WRONG_ENCODING",
    /// The token's application is not installed or not active.
    ApplicationNotFound = "APPLICATION_NOT_FOUND",
    /// The user could not be authorised.
    AuthorizationError = "authorization_error",
    /// The portal could not reach the OAuth server.
    ConnectionError = "CONNECTION_ERROR",
    /// The method waits for an administrator's confirmation.
    MethodConfirmWaiting = "METHOD_CONFIRM_WAITING",
    /// An administrator refused the method.
    MethodConfirmDenied = "METHOD_CONFIRM_DENIED",

    // imconnector codes (reference sections 4.7 and 4.14).
    /// The open line is inactive for this connector, or does not exist.
    NotActiveLine = "NOT_ACTIVE_LINE",
    /// No custom connector provider matches `CONNECTOR`.
    ImconnectorNoCorrectProvider = "IMCONNECTOR_NO_CORRECT_PROVIDER",
    /// Internal routing error of the message methods.
    ImconnectorNotSpecifiedCorrectCommand = "IMCONNECTOR_NOT_SPECIFIED_CORRECT_COMMAND",
    /// Internal: the provider object could not be created.
    ImconnectorCouldNotGetProviderObject = "IMCONNECTOR_COULD_NOT_GET_PROVIDER_OBJECT",
    /// A message lacks its user, chat, or both text and files (per-item failure).
    ImconnectorNotAllTheRequiredData = "IMCONNECTOR_NOT_ALL_THE_REQUIRED_DATA",
    /// `imconnector.chat.name.set` could not rename the chat.
    ChatRenamingFailed = "CHAT_RENAMING_FAILED",
    /// `imconnector.register` could not save the connector (soft error).
    ApplicationRegistrationError = "APPLICATION_REGISTRATION_ERROR",
    /// `imconnector.register`: the connector id contains a dot (soft error).
    ApplicationRegistrationErrorPoint = "APPLICATION_REGISTRATION_ERROR_POINT",
    /// `imconnector.register`: no connector id (soft error).
    ConnectorIdRequired = "CONNECTOR_ID_REQUIRED",
    /// `imconnector.register`: no name (soft error).
    NameRequired = "NAME_REQUIRED",
    /// `imconnector.register`: no icon (soft error).
    IconRequired = "ICON_REQUIRED",
    /// `imconnector.register`/`unregister`: the application id could not be resolved (soft error).
    NoApplicationId = "NO_APPLICATION_ID",
    /// `imconnector.register`: no placement handler URL (soft error).
    NoPlacementHandler = "NO_PLACEMENT_HANDLER",
    /// `imconnector.register`: documented generic failure (soft error).
    GeneralConnectorRegistrationError = "GENERAL_CONNECTOR_REGISTRATION_ERROR",
    /// `imconnector.unregister` failed (soft error).
    ApplicationUnregistrationError = "APPLICATION_UNREGISTRATION_ERROR",

    // event.* (reference section 5.3).
    /// `event.bind`: the event does not exist or is outside the granted scopes.
    ErrorEventNotFound = "ERROR_EVENT_NOT_FOUND",
    /// `event.bind`: the handler is already bound (documented spelling).
    ErrorHandlerAlreadyExist = "ERROR_HANDLER_ALREADY_EXIST",

    // placement.bind (reference section 6.2).
    /// `placement.bind`: too many handlers for the placement.
    ErrorPlacementMaxCount = "ERROR_PLACEMENT_MAX_COUNT",
    /// `placement.bind`: wrong user mode.
    ErrorPlacementUserMode = "ERROR_PLACEMENT_USER_MODE",
    /// `placement.bind`: empty handler URL.
    EmptyErrorHandlerUrl = "EMPTY_ERROR_HANDLER_URL",

    // imopenlines.config.* (reference section 7).
    /// `imopenlines.config.list.get`: malformed `PARAMS`/`OPTIONS`.
    InvalidFormat = "INVALID_FORMAT",
    /// `imopenlines.config.get`: no `CONFIG_ID`.
    ConfigIdEmpty = "CONFIG_ID_EMPTY",

    // OAuth server (reference section 1.8).
    /// OAuth server: malformed token request (lower case; not `INVALID_REQUEST`).
    OAuthInvalidRequest = "invalid_request",
    /// OAuth server: unknown client id or wrong client secret.
    InvalidClient = "invalid_client",
    /// OAuth server: the code or refresh token is invalid or expired; the user must re-authorise.
    InvalidGrant = "invalid_grant",
    /// OAuth server: the requested scope is invalid.
    InvalidScope = "invalid_scope",
    /// OAuth server: the application's subscription is not paid.
    PaymentRequired = "PAYMENT_REQUIRED",
}

impl ErrorCode {
    /// Whether the portal rejected the request before doing any work, so sending it again later
    /// is always safe (rate limit, operating-time limit, manual overload block).
    pub fn is_rejected_before_work(&self) -> bool {
        matches!(
            self,
            ErrorCode::QueryLimitExceeded
                | ErrorCode::OperationTimeLimit
                | ErrorCode::OverloadLimit
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for ErrorCode {
    type Err = Infallible;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Ok(ErrorCode::from_wire(code))
    }
}

impl From<&str> for ErrorCode {
    fn from(code: &str) -> Self {
        ErrorCode::from_wire(code)
    }
}

impl From<String> for ErrorCode {
    fn from(code: String) -> Self {
        ErrorCode::from_wire(&code)
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Ok(ErrorCode::from_wire(&code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::KNOWN {
            assert!(seen.insert(code.as_str()), "duplicate wire code {code}");
            assert_eq!(&ErrorCode::from_wire(code.as_str()), code);
        }
    }

    #[test]
    fn unknown_and_differently_cased_codes_stay_other() {
        assert_eq!(
            ErrorCode::from("SOMETHING_NEW"),
            ErrorCode::Other("SOMETHING_NEW".into())
        );
        assert_eq!(
            ErrorCode::from("invalid_request"),
            ErrorCode::OAuthInvalidRequest
        );
        assert_eq!(
            ErrorCode::from("INVALID_REQUEST"),
            ErrorCode::InvalidRequest
        );
        assert_eq!(ErrorCode::Other("x_y".into()).as_str(), "x_y");
    }
}
