//! The middle step of load → resolve → render.
//!
//! Loading ([`Spec::load`]) parses every file and every type expression in it (a malformed one
//! is a load error naming the file and the key). Resolving checks what the JSON Schema cannot:
//! every name in every type expression exists, names are unique, examples fit the parameters
//! ([`lint::cross_check`]). A [`Model`] is the result, and the only thing rendering accepts:
//! codegen and `spec-lint` share this one step, and the renderer never meets an unchecked spec
//! (nor falls back to a default type).

use crate::lint;
use crate::model::{Problem, Spec};

/// A loaded spec whose type expressions all resolve and which passes the cross-checks.
#[derive(Debug, Clone)]
pub struct Model {
    spec: Spec,
}

impl Model {
    /// Resolves and cross-checks `spec`.
    ///
    /// # Errors
    /// Every problem found, each naming its spec file (and the field or key).
    pub fn resolve(spec: Spec) -> Result<Model, Vec<Problem>> {
        let problems = lint::cross_check(&spec);
        if problems.is_empty() {
            Ok(Model { spec })
        } else {
            Err(problems)
        }
    }

    /// The checked spec.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }
}
