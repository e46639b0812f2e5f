//! Booleans and integers as PHP sends and reads them.

use serde::{de::Error as _, Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::decode::{lenient_bool, wire_decode_via_serde};

macro_rules! bool_newtype_common {
    ($name:ident) => {
        impl $name {
            /// The flag.
            pub fn get(self) -> bool {
                self.0
            }
        }

        impl From<bool> for $name {
            fn from(flag: bool) -> Self {
                Self(flag)
            }
        }

        impl From<$name> for bool {
            fn from(flag: $name) -> bool {
                flag.0
            }
        }

        impl PartialEq<bool> for $name {
            fn eq(&self, other: &bool) -> bool {
                self.0 == *other
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = Value::deserialize(deserializer)?;
                lenient_bool(&value).map(Self).map_err(D::Error::custom)
            }
        }
    };
}

/// A boolean sent as `"1"` or `"0"`.
///
/// The portal reads `ACTIVE` by PHP truthiness: the string `"N"` (and `"false"`) would turn a
/// connector **on**, so the SDK never sends those.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ActiveFlag(bool);
bool_newtype_common!(ActiveFlag);

impl Serialize for ActiveFlag {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(if self.0 { "1" } else { "0" })
    }
}

/// A boolean sent as `"Y"` or `"N"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct YesNo(bool);
bool_newtype_common!(YesNo);

impl Serialize for YesNo {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(if self.0 { "Y" } else { "N" })
    }
}

wire_decode_via_serde!(ActiveFlag, YesNo);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn active_flag_is_sent_as_one_or_zero_never_as_n() {
        assert_eq!(
            serde_json::to_value(ActiveFlag::from(true)).unwrap(),
            json!("1")
        );
        assert_eq!(
            serde_json::to_value(ActiveFlag::from(false)).unwrap(),
            json!("0")
        );
        let decoded: ActiveFlag = serde_json::from_value(json!("N")).unwrap();
        assert!(!decoded.get());
    }

    #[test]
    fn yes_no_is_sent_as_y_or_n() {
        assert_eq!(serde_json::to_value(YesNo::from(true)).unwrap(), json!("Y"));
        assert_eq!(
            serde_json::to_value(YesNo::from(false)).unwrap(),
            json!("N")
        );
    }
}
