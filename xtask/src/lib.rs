//! Maintainer tasks of imconnector-rs: `codegen [--check]`, `spec-lint` and `docs-sync`.
//!
//! The spec (`spec/`) is the source of truth for `crates/imconnector-api/src/generated/`; this
//! crate reads it ([`model`]), checks it ([`lint`]), renders Rust ([`render`]) and writes or
//! compares the result ([`check`]).

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod check;
pub mod docs_sync;
pub mod helpers;
pub mod lint;
pub mod model;
pub mod render;
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
    let spec = Spec::load(spec_dir)?;
    render::render(&spec)
}

/// The full lint: schema, the generator's model, cross-checks. Returns (errors, warnings).
///
/// # Errors
/// When the spec cannot be loaded at all or the schema does not compile.
pub fn lint_spec(spec_dir: &Path) -> Result<(Vec<Problem>, Vec<Problem>), Vec<Problem>> {
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
    errors.extend(lint::cross_check(&spec));
    Ok((errors, lint::unused_types(&spec)))
}
