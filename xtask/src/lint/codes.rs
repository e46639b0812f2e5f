//! Every code a method's `errors` lists must be in `spec/errors.json`, the list the transport's
//! `ErrorCode` is generated from, so every documented code decodes to a typed variant.

use crate::error_codes::{ErrorsFile, ERRORS_JSON};
use crate::model::{Problem, Spec};

/// Checks the methods' codes against `errors`. Returns (errors, warnings): a code missing from
/// `errors.json` is an error; a method documenting another HTTP status than `errors.json` is a
/// warning (a method may answer its own).
pub fn check(spec: &Spec, errors: &ErrorsFile) -> (Vec<Problem>, Vec<Problem>) {
    let mut missing = Vec::new();
    let mut warnings = Vec::new();
    for loaded in &spec.methods {
        for error in &loaded.item.errors {
            match errors.find(&error.code) {
                None => missing.push(Problem::new(
                    &loaded.display_path,
                    format!(
                        "error code `{}` is not in spec/{ERRORS_JSON}: add it there (the transport's ErrorCode is generated from it)",
                        error.code
                    ),
                )),
                Some(known) if known.http_status != error.http_status => {
                    warnings.push(Problem::new(
                        &loaded.display_path,
                        format!(
                            "error code `{}` is documented with HTTP {}, spec/{ERRORS_JSON} says {}",
                            error.code, error.http_status, known.http_status
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    (missing, warnings)
}
