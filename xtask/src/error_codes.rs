//! `spec/errors.json`, the one list of the error codes the REST API and its OAuth server answer:
//! loaded and checked here, rendered into the transport's `ErrorCode`
//! ([`GENERATED_DIR`]`/error_code.rs`), and read by the lint that checks every method's `errors`
//! against it ([`crate::lint::codes`]).

use std::collections::BTreeMap;
use std::path::Path;

use heck::ToUpperCamelCase;
use proc_macro2::Ident;
use quote::{format_ident, quote};
use serde::Deserialize;

use crate::model::Problem;
use crate::render::{self, Rendered};

/// The file, relative to the spec directory.
pub const ERRORS_JSON: &str = "errors.json";

/// Where the transport's generated files go, relative to the workspace root.
pub const GENERATED_DIR: &str = "crates/imconnector-transport/src/generated";

/// `spec/errors.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorsFile {
    /// What the file is for (ignored).
    #[serde(rename = "$comment", default)]
    pub comment: String,
    /// The codes, grouped as the reference lists them.
    pub groups: Vec<ErrorGroup>,
}

/// The codes of one part of the reference.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorGroup {
    /// Which methods answer them (`System codes, any method`, `OAuth server`, ...).
    pub group: String,
    /// Where the reference lists them.
    pub reference: String,
    /// The codes.
    pub codes: Vec<ErrorCodeSpec>,
}

/// One error code.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorCodeSpec {
    /// The code exactly as the server sends it (case matters: `INVALID_REQUEST` is not
    /// `invalid_request`).
    pub code: String,
    /// The `ErrorCode` variant, UpperCamelCase.
    pub variant: String,
    /// The HTTP status the reference gives it (200 for soft errors inside `result`).
    pub http_status: u16,
    /// The variant's documentation.
    pub description: String,
    /// Why the code is listed when the reference's tables do not have it.
    #[serde(default)]
    pub note: Option<String>,
}

impl ErrorsFile {
    /// Every code, in file order.
    pub fn codes(&self) -> impl Iterator<Item = &ErrorCodeSpec> {
        self.groups.iter().flat_map(|group| &group.codes)
    }

    /// The code `wire`, if listed.
    pub fn find(&self, wire: &str) -> Option<&ErrorCodeSpec> {
        self.codes().find(|code| code.code == wire)
    }
}

/// Reads and checks `<spec_dir>/errors.json`: codes and variants unique, variants UpperCamelCase
/// (and not `Other`, the catch-all), descriptions present.
///
/// # Errors
/// Every problem found, each naming the file.
pub fn load(spec_dir: &Path) -> Result<ErrorsFile, Vec<Problem>> {
    let display = format!("spec/{ERRORS_JSON}");
    let problem = |message: String| vec![Problem::new(&display, message)];
    let text = std::fs::read_to_string(spec_dir.join(ERRORS_JSON))
        .map_err(|error| problem(format!("cannot read: {error}")))?;
    let raw: serde_json::Value =
        serde_json::from_str(&text).map_err(|error| problem(format!("not JSON: {error}")))?;
    let file: ErrorsFile = serde_path_to_error::deserialize(raw)
        .map_err(|error| problem(format!("at `{}`: {}", error.path(), error.inner())))?;
    let problems = check(&file, &display);
    if problems.is_empty() {
        Ok(file)
    } else {
        Err(problems)
    }
}

fn check(file: &ErrorsFile, display: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut codes = BTreeMap::new();
    let mut variants = BTreeMap::new();
    for spec in file.codes() {
        let mut problem = |message: String| {
            problems.push(Problem::new(display, format!("`{}`: {message}", spec.code)));
        };
        if let Some(first) = codes.insert(spec.code.as_str(), spec.variant.as_str()) {
            problem(format!("listed twice (first as `{first}`)"));
        }
        if let Some(first) = variants.insert(spec.variant.as_str(), spec.code.as_str()) {
            problem(format!(
                "variant `{}` is also the variant of `{first}`",
                spec.variant
            ));
        }
        if spec.variant.to_upper_camel_case() != spec.variant
            || syn::parse_str::<Ident>(&spec.variant).is_err()
        {
            problem(format!("variant `{}` is not UpperCamelCase", spec.variant));
        }
        if spec.variant == "Other" {
            problem("`Other` is the variant of the codes not listed".to_owned());
        }
        if spec.code.is_empty() || spec.code.chars().any(char::is_whitespace) {
            problem("a code is one non-empty word".to_owned());
        }
        if spec.description.trim().is_empty() {
            problem("no description".to_owned());
        }
    }
    if codes.is_empty() {
        problems.push(Problem::new(display, "lists no code"));
    }
    problems
}

/// Renders `error_code.rs` (relative to [`GENERATED_DIR`]): the `ErrorCode` enum, its `KNOWN`
/// list and both directions of the wire mapping. The hand-written rest (`Display`, serde,
/// `is_rejected_before_work`) stays in the transport's `code.rs`.
///
/// # Errors
/// When the rendered code does not parse.
pub fn render(file: &ErrorsFile) -> Result<Rendered, Vec<Problem>> {
    let variants: Vec<Ident> = file
        .codes()
        .map(|spec| format_ident!("{}", spec.variant))
        .collect();
    let wires: Vec<&str> = file.codes().map(|spec| spec.code.as_str()).collect();
    let docs = file.codes().map(|spec| {
        let description = format!(" {}", spec.description);
        let note = spec.note.as_ref().map(|note| {
            let note = format!(" {note}");
            quote!(#[doc = ""] #[doc = #note])
        });
        quote!(#[doc = #description] #note)
    });
    let tokens = quote! {
        /// An error code from the `error` field of a response, a batch `result_error` entry, a
        /// soft error inside `result`, or the OAuth server.
        ///
        /// Codes are matched exactly (the portal mixes `UPPER_CASE` and `lower_case`, and
        /// `INVALID_REQUEST` is not `invalid_request`); anything unknown is kept in
        /// [`ErrorCode::Other`] so a new server code never breaks decoding.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            #( #docs #variants, )*
            /// A code this crate does not know yet, exactly as the server sent it.
            Other(String),
        }

        impl ErrorCode {
            /// Every known code (all variants but [`ErrorCode::Other`]).
            pub const KNOWN: &'static [ErrorCode] = &[ #( ErrorCode::#variants, )* ];

            /// The code as it appears on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    #( ErrorCode::#variants => #wires, )*
                    ErrorCode::Other(code) => code,
                }
            }

            /// Maps a wire code to its variant, or [`ErrorCode::Other`].
            pub fn from_wire(code: &str) -> ErrorCode {
                match code {
                    #( #wires => ErrorCode::#variants, )*
                    other => ErrorCode::Other(other.to_owned()),
                }
            }
        }
    };
    let path = "error_code.rs".to_owned();
    match render::finish(&[&format!("spec/{ERRORS_JSON}")], tokens) {
        Ok(text) => Ok(Rendered::from([(path, text)])),
        Err(message) => Err(vec![Problem::new(path, message)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(codes: &[(&str, &str)]) -> ErrorsFile {
        ErrorsFile {
            comment: String::new(),
            groups: vec![ErrorGroup {
                group: "System codes".into(),
                reference: "section 1.9".into(),
                codes: codes
                    .iter()
                    .map(|(code, variant)| ErrorCodeSpec {
                        code: (*code).into(),
                        variant: (*variant).into(),
                        http_status: 400,
                        description: "What it means.".into(),
                        note: None,
                    })
                    .collect(),
            }],
        }
    }

    #[test]
    fn a_clean_list_passes_and_renders_both_directions_of_the_mapping() {
        let file = file(&[
            ("INVALID_REQUEST", "InvalidRequest"),
            ("invalid_request", "OAuthInvalidRequest"),
        ]);
        assert!(check(&file, "spec/errors.json").is_empty());
        let text = &render(&file).unwrap()["error_code.rs"];
        assert!(text.starts_with("// @generated by `cargo xtask codegen` from spec/errors.json."));
        assert!(text.contains("ErrorCode::InvalidRequest => \"INVALID_REQUEST\""));
        assert!(text.contains("\"invalid_request\" => ErrorCode::OAuthInvalidRequest"));
        assert!(text.contains("/// What it means."));
    }

    #[test]
    fn duplicates_bad_variants_and_empty_codes_are_reported() {
        let file = file(&[
            ("A_CODE", "ACode"),
            ("A_CODE", "AnotherCode"),
            ("B_CODE", "ACode"),
            ("C_CODE", "c_code"),
            ("D_CODE", "Other"),
            ("", "Empty"),
        ]);
        let problems: Vec<String> = check(&file, "spec/errors.json")
            .iter()
            .map(ToString::to_string)
            .collect();
        let all = problems.join("\n");
        assert!(
            all.contains("`A_CODE`: listed twice (first as `ACode`)"),
            "{all}"
        );
        assert!(
            all.contains("`B_CODE`: variant `ACode` is also the variant of `A_CODE`"),
            "{all}"
        );
        assert!(
            all.contains("`C_CODE`: variant `c_code` is not UpperCamelCase"),
            "{all}"
        );
        assert!(all.contains("`D_CODE`: `Other` is the variant"), "{all}");
        assert!(all.contains("``: a code is one non-empty word"), "{all}");
        assert_eq!(problems.len(), 5, "{all}");
    }
}
