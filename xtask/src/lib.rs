//! Maintainer tasks of imconnector-rs: `codegen [--check]`, `spec-lint` and `docs-sync`.
//!
//! The spec (`spec/`) is the source of truth for `crates/imconnector-api/src/generated/` and the
//! transport's `ErrorCode` (from `spec/errors.json`, [`error_codes`]); this crate loads it
//! ([`model`]), checks it ([`lint`]), resolves it once into the IR ([`resolve`] into
//! [`ir::Model`]: every field's Rust types, conversion, checks and secrecy), renders Rust from
//! the IR alone ([`render`]) and writes or compares the result ([`check`]). `spec-lint` runs the
//! same lint and resolve steps.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod check;
pub mod docs_sync;
pub mod error_codes;
pub mod helpers;
pub mod ir;
pub mod lint;
pub mod lookup;
pub mod model;
pub mod render;
pub mod resolve;
pub mod ty;

use std::path::{Path, PathBuf};

use model::{Problem, Spec};

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map_or_else(|| manifest_dir.to_path_buf(), Path::to_path_buf)
}

/// Loads `spec_dir` and renders every generated file.
///
/// # Errors
/// Every problem that stops rendering.
pub fn render_spec(spec_dir: &Path) -> Result<render::Rendered, Vec<Problem>> {
    render::render(&checked_model(&Spec::load(spec_dir)?)?)
}

/// The lint's cross-checks, then [`resolve::resolve`]: the IR of a spec the renderers can trust.
///
/// # Errors
/// Every problem the cross-checks or resolving find.
pub fn checked_model(spec: &Spec) -> Result<ir::Model, Vec<Problem>> {
    let problems = lint::cross_check(spec);
    if problems.is_empty() {
        resolve::resolve(spec)
    } else {
        Err(problems)
    }
}

/// Every generated directory (relative to the workspace root) with its files, rendered from
/// `spec_dir`: the API crate's from the methods, types and events, the transport's `ErrorCode`
/// from `errors.json`.
///
/// # Errors
/// Every problem that stops rendering.
pub fn render_workspace(
    spec_dir: &Path,
) -> Result<Vec<(&'static str, render::Rendered)>, Vec<Problem>> {
    let api = render_spec(spec_dir);
    let codes = error_codes::load(spec_dir).and_then(|errors| error_codes::render(&errors));
    match (api, codes) {
        (Ok(api), Ok(codes)) => Ok(vec![
            (render::GENERATED_DIR, api),
            (error_codes::GENERATED_DIR, codes),
        ]),
        (api, codes) => Err(api.err().into_iter().chain(codes.err()).flatten().collect()),
    }
}

/// The full lint: schema, the generator's model, cross-checks. Returns (errors, warnings).
///
/// # Errors
/// When the spec cannot be loaded at all or the schema does not compile.
pub fn lint_spec(spec_dir: &Path) -> Result<(Vec<Problem>, Vec<Problem>), Vec<Problem>> {
    lint_with(spec_dir, |_| (Vec::new(), Vec::new()))
}

/// [`lint_spec`] of the workspace's `spec/`, plus every method's error codes checked against
/// `spec/errors.json` ([`lint::codes`]). Returns (errors, warnings).
///
/// # Errors
/// As [`lint_spec`].
pub fn lint_workspace(root: &Path) -> Result<(Vec<Problem>, Vec<Problem>), Vec<Problem>> {
    let spec_dir = root.join("spec");
    lint_with(&spec_dir, |spec| match error_codes::load(&spec_dir) {
        Ok(errors) => lint::codes::check(spec, &errors),
        Err(problems) => (problems, Vec::new()),
    })
}

/// Loads the spec once, validates it against the schema, runs `extra` on it, then cross-checks
/// and resolves it as codegen does ([`checked_model`]).
fn lint_with(
    spec_dir: &Path,
    extra: impl FnOnce(&Spec) -> (Vec<Problem>, Vec<Problem>),
) -> Result<(Vec<Problem>, Vec<Problem>), Vec<Problem>> {
    let schema_path = spec_dir.join("schema.json");
    let schema_text = std::fs::read_to_string(&schema_path).map_err(|error| {
        vec![Problem::new(
            "spec/schema.json",
            format!("cannot read: {error}"),
        )]
    })?;
    let schema: serde_json::Value = serde_json::from_str(&schema_text).map_err(|error| {
        vec![Problem::new(
            "spec/schema.json",
            format!("not JSON: {error}"),
        )]
    })?;
    let spec = Spec::load(spec_dir)?;
    let mut errors = lint::schema_problems(&spec, &schema).map_err(|problem| vec![problem])?;
    let mut warnings = lint::unused_types(&spec);
    let (extra_errors, extra_warnings) = extra(&spec);
    errors.extend(extra_errors);
    warnings.extend(extra_warnings);
    if let Err(problems) = checked_model(&spec) {
        errors.extend(problems);
    }
    Ok((errors, warnings))
}
