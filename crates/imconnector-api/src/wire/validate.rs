//! Local validation with parameter paths.

use std::collections::BTreeMap;

use crate::transport::InvalidRequest;

/// A request value that can check itself before it is sent.
///
/// `path` names the value in errors the way the portal's parameters are written:
/// `LINE`, `ICON.DATA_IMAGE`, `MESSAGES[0].user.id`.
pub trait Validate {
    /// Checks the value found at `path`.
    ///
    /// # Errors
    /// [`InvalidRequest`] naming the offending parameter with its path.
    fn validate_at(&self, path: &str) -> Result<(), InvalidRequest>;
}

/// `parent.child`, or `child` at the top level.
pub fn join_path(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_owned()
    } else {
        format!("{parent}.{child}")
    }
}

impl<T: Validate> Validate for Option<T> {
    fn validate_at(&self, path: &str) -> Result<(), InvalidRequest> {
        self.as_ref()
            .map_or(Ok(()), |value| value.validate_at(path))
    }
}

impl<T: Validate> Validate for Vec<T> {
    fn validate_at(&self, path: &str) -> Result<(), InvalidRequest> {
        self.iter()
            .enumerate()
            .try_for_each(|(index, item)| item.validate_at(&format!("{path}[{index}]")))
    }
}

impl<T: Validate> Validate for BTreeMap<String, T> {
    fn validate_at(&self, path: &str) -> Result<(), InvalidRequest> {
        self.iter()
            .try_for_each(|(key, item)| item.validate_at(&format!("{path}[{key}]")))
    }
}
