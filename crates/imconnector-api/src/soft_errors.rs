//! The codes of failures the portal reports inside an HTTP 200 answer without naming them; a
//! call that meets one fails with `Error::Api` carrying the code.

/// `imconnector.send.messages` and the other message and status methods answered
/// `{"SUCCESS": false}` (old servers, for an inactive line or an unknown connector).
pub const SUCCESS_FALSE: &str = "SUCCESS_FALSE";

/// `imconnector.register` or `.unregister` answered `{"result": false}` without an `error`.
pub const RESULT_FALSE: &str = "RESULT_FALSE";
