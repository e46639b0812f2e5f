//! Reading values the way the portal writes them, for your own serde types of what it POSTs
//! (e.g. a placement's `PLACEMENT_OPTIONS`); the SDK's types decode this way already.

use serde::Deserializer;

/// `#[serde(deserialize_with = "imconnector_api::php::deserialize_bool")]`: a boolean as PHP
/// spells it: `true`/`false`, `1`/`0`, `"1"`/`"0"`, `"Y"`/`"N"`, `"true"`/`"false"`, `""`.
///
/// # Errors
/// Any other value, named in the message.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Options {
///     #[serde(rename = "ACTIVE", deserialize_with = "imconnector_api::php::deserialize_bool")]
///     active: bool,
/// }
/// let options: Options = serde_json::from_str(r#"{"ACTIVE": "Y"}"#)?;
/// assert!(options.active);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn deserialize_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    crate::wire::decode(deserializer)
}
