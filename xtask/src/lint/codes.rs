//! The error codes in three places, checked against one another: the spec's `errors` lists,
//! the transport's `ErrorCode::KNOWN` (`error_codes! { Variant = "WIRE", ... }` in
//! `code.rs`), and the transport tests' `REFERENCE_CODES` table (code and HTTP status). The
//! transport is read as text: the xtask does not depend on it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::model::{Problem, Spec};

/// Where `ErrorCode::KNOWN` is declared, relative to the workspace root.
pub const CODE_RS: &str = "crates/imconnector-transport/src/code.rs";

/// Where the transport tests' table of reference codes is, relative to the workspace root.
pub const TABLE_RS: &str = "crates/imconnector-transport/tests/transport/errors.rs";

/// The wire codes of the `error_codes!` invocation in `code.rs`.
///
/// # Errors
/// When the invocation is not found or lists no code.
pub fn known_codes(code_rs: &str) -> Result<BTreeSet<String>, String> {
    let start = code_rs
        .find("\nerror_codes! {")
        .ok_or("no `error_codes! {` invocation")?;
    let body = &code_rs[start..];
    let body = &body[..body.find("\n}").unwrap_or(body.len())];
    let codes: BTreeSet<String> = body
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.starts_with("//") {
                return None;
            }
            let (_, wire) = line.split_once(" = \"")?;
            wire.strip_suffix("\",").map(str::to_owned)
        })
        .collect();
    if codes.is_empty() {
        return Err("`error_codes!` lists no `Variant = \"CODE\",` line".to_owned());
    }
    Ok(codes)
}

/// The `("CODE", status)` rows of `REFERENCE_CODES` in the transport tests.
///
/// # Errors
/// When the table is not found, lists no row, or a status is not a number.
pub fn table_codes(table_rs: &str) -> Result<BTreeMap<String, u16>, String> {
    let start = table_rs
        .find("const REFERENCE_CODES")
        .ok_or("no `const REFERENCE_CODES` table")?;
    let body = &table_rs[start..];
    let body = &body[..body.find("];").unwrap_or(body.len())];
    let mut rows = BTreeMap::new();
    for line in body.lines() {
        let Some(row) = line
            .trim()
            .strip_prefix("(\"")
            .and_then(|row| row.strip_suffix("),"))
        else {
            continue;
        };
        let Some((code, status)) = row.split_once("\", ") else {
            continue;
        };
        let status = status
            .trim()
            .parse()
            .map_err(|_| format!("`{code}`: status `{status}` is not a number"))?;
        rows.insert(code.to_owned(), status);
    }
    if rows.is_empty() {
        return Err("`REFERENCE_CODES` has no `(\"CODE\", status),` row".to_owned());
    }
    Ok(rows)
}

/// Checks the spec's codes, `ErrorCode::KNOWN` and the tests' table against one another.
/// Returns (errors, warnings): a code missing somewhere is an error; a method documenting
/// another HTTP status than the reference table is a warning (a method may answer its own).
pub fn check(spec: &Spec, code_rs: &str, table_rs: &str) -> (Vec<Problem>, Vec<Problem>) {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let known = match known_codes(code_rs) {
        Ok(known) => known,
        Err(message) => return (vec![Problem::new(CODE_RS, message)], warnings),
    };
    let table = match table_codes(table_rs) {
        Ok(table) => table,
        Err(message) => return (vec![Problem::new(TABLE_RS, message)], warnings),
    };
    for code in known.iter().filter(|code| !table.contains_key(*code)) {
        errors.push(Problem::new(
            TABLE_RS,
            format!("`{code}` is in ErrorCode::KNOWN ({CODE_RS}) but not in REFERENCE_CODES"),
        ));
    }
    for code in table.keys().filter(|code| !known.contains(*code)) {
        errors.push(Problem::new(
            CODE_RS,
            format!("`{code}` is in REFERENCE_CODES ({TABLE_RS}) but not in ErrorCode::KNOWN"),
        ));
    }
    for loaded in &spec.methods {
        for error in &loaded.item.errors {
            if !known.contains(&error.code) {
                errors.push(Problem::new(
                    &loaded.display_path,
                    format!(
                        "error code `{}` is not in ErrorCode::KNOWN ({CODE_RS}): add a variant and a REFERENCE_CODES row",
                        error.code
                    ),
                ));
            }
            if let Some(&status) = table.get(&error.code) {
                if status != error.http_status {
                    warnings.push(Problem::new(
                        &loaded.display_path,
                        format!(
                            "error code `{}` is documented with HTTP {}, the reference table ({TABLE_RS}) says {status}",
                            error.code, error.http_status
                        ),
                    ));
                }
            }
        }
    }
    (errors, warnings)
}

/// Reads the two transport files under `root` and runs [`check`].
pub fn check_workspace(spec: &Spec, root: &Path) -> (Vec<Problem>, Vec<Problem>) {
    let read = |path: &str| {
        std::fs::read_to_string(root.join(path))
            .map_err(|error| Problem::new(path, format!("cannot read: {error}")))
    };
    match (read(CODE_RS), read(TABLE_RS)) {
        (Ok(code_rs), Ok(table_rs)) => check(spec, &code_rs, &table_rs),
        (code_rs, table_rs) => (
            code_rs.err().into_iter().chain(table_rs.err()).collect(),
            Vec::new(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE_RS_SAMPLE: &str = "macro_rules! error_codes { () => {} }\n\nerror_codes! {\n    // System codes.\n    /// 500.\n    InternalServerError = \"INTERNAL_SERVER_ERROR\",\n    /// 400.\n    ErrorArgument = \"ERROR_ARGUMENT\",\n}\n";
    const TABLE_RS_SAMPLE: &str = "const REFERENCE_CODES: &[(&str, u16)] = &[\n    (\"INTERNAL_SERVER_ERROR\", 500),\n    (\"ERROR_ARGUMENT\", 400),\n    (\"EXTRA\", 401),\n];\n";

    #[test]
    fn reads_the_codes_of_both_files() {
        assert_eq!(
            known_codes(CODE_RS_SAMPLE).unwrap(),
            BTreeSet::from([
                "ERROR_ARGUMENT".to_owned(),
                "INTERNAL_SERVER_ERROR".to_owned()
            ])
        );
        let table = table_codes(TABLE_RS_SAMPLE).unwrap();
        assert_eq!(table.get("EXTRA"), Some(&401));
        assert!(known_codes("fn main() {}").is_err());
        assert!(table_codes("const OTHER: u8 = 0;").is_err());
    }

    #[test]
    fn reports_codes_missing_on_either_side() {
        let (errors, warnings) = check(&Spec::default(), CODE_RS_SAMPLE, TABLE_RS_SAMPLE);
        assert!(warnings.is_empty());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].message.contains("`EXTRA`"), "{errors:?}");
    }
}
