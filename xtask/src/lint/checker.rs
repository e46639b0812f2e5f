//! The per-file checks behind [`cross_check`](super::cross_check): fields, methods, examples.

use std::collections::BTreeSet;

use heck::{ToSnakeCase, ToUpperCamelCase};
use serde_json::Value;

use crate::helpers;
use crate::lookup::{self, resolve, Resolved};
use crate::model::{FieldSpec, Kind, MethodSpec, Problem, Spec};
use crate::ty::TypeRef;

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

fn is_ident(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&name)
}

pub(super) fn is_type_name(name: &str) -> bool {
    is_ident(name) && name.to_upper_camel_case() == name
}

fn is_field_name(name: &str) -> bool {
    // `with_` is the setters' prefix: a field `with_x` would get the setter `with_with_x`.
    is_ident(name) && name.to_snake_case() == name && name != "new" && !name.starts_with("with_")
}

/// Which side a type expression is used on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    /// Built by users and sent.
    Request,
    /// Decoded from the server.
    Response,
}

pub(super) struct Checker<'a> {
    pub(super) spec: &'a Spec,
    pub(super) problems: Vec<Problem>,
}

impl Checker<'_> {
    pub(super) fn report(&mut self, file: &str, message: impl Into<String>) {
        self.problems.push(Problem::new(file, message));
    }

    /// Resolves a (parsed) type expression and checks every named type fits `side`.
    pub(super) fn type_expr(&mut self, file: &str, context: &str, ty: &TypeRef, side: Side) {
        let expr = ty.expr();
        if let Err(message) = lookup::check(self.spec, expr) {
            return self.report(file, format!("{context}: {message}"));
        }
        for name in expr.names() {
            if let Some(Resolved::Type(named)) = resolve(self.spec, name) {
                let fits = match side {
                    Side::Request => named.usage.is_request() || named.kind == Kind::Enum,
                    Side::Response => named.usage.is_response() || named.kind == Kind::Enum,
                };
                if !fits {
                    let side = match side {
                        Side::Request => "a request",
                        Side::Response => "a response or event",
                    };
                    self.report(
                        file,
                        format!(
                            "{context}: `{name}` (usage {:?}) cannot be used in {side}",
                            named.usage
                        ),
                    );
                }
            }
        }
    }

    pub(super) fn fields(
        &mut self,
        file: &str,
        owner: &str,
        fields: &[FieldSpec],
        side: Side,
        ordered: bool,
    ) {
        let mut wires = BTreeSet::new();
        let mut rusts = BTreeSet::new();
        let mut seen_optional = false;
        for field in fields {
            let context = format!("{owner}.{}", field.wire);
            if !wires.insert(field.wire.as_str()) {
                self.report(file, format!("{context}: wire name used twice"));
            }
            if !rusts.insert(field.rust.as_str()) {
                self.report(
                    file,
                    format!("{context}: rust name `{}` used twice", field.rust),
                );
            }
            if !is_field_name(&field.rust) {
                self.report(
                    file,
                    format!("{context}: rust name `{}` must be a snake_case identifier, not a keyword, `new` or `with_*`", field.rust),
                );
            }
            if field.docs.trim().is_empty() {
                self.report(file, format!("{context}: empty docs"));
            }
            if ordered && field.required && seen_optional {
                self.report(
                    file,
                    format!("{context}: required parameters must come before optional ones"),
                );
            }
            seen_optional |= !field.required;
            self.type_expr(file, &context, &field.ty, side);
        }
    }

    pub(super) fn method(
        &mut self,
        file: &str,
        stem: &str,
        method: &MethodSpec,
        all_codes: &mut Vec<String>,
    ) {
        if stem != method.name {
            self.report(file, format!("file name must be `{}.json`", method.name));
        }
        if !is_type_name(&method.rust_name) {
            self.report(
                file,
                format!("rust_name `{}` must be UpperCamelCase", method.rust_name),
            );
        }
        match (&method.docs_url, method.documented) {
            (None, true) => self.report(file, "a documented method needs `docs_url`"),
            (Some(url), _) if !url.starts_with("https://") => {
                self.report(file, "`docs_url` must be an https:// link")
            }
            _ => {}
        }
        self.fields(file, &method.name, &method.params, Side::Request, true);
        for check in &method.validate {
            if !helpers::CHECKS.contains(&check.as_str()) {
                self.report(
                    file,
                    format!(
                        "validate: unknown check `{check}` (known: {})",
                        helpers::CHECKS.join(", ")
                    ),
                );
            }
        }
        self.type_expr(file, "response.type", &method.response.ty, Side::Response);
        if let Some(soft) = &method.response.soft_error {
            if !helpers::SOFT_ERROR_READERS.contains(&soft.as_str()) {
                self.report(
                    file,
                    format!(
                        "response.soft_error: unknown reader `{soft}` (known: {})",
                        helpers::SOFT_ERROR_READERS.join(", ")
                    ),
                );
            }
        }
        let mut codes = BTreeSet::new();
        for error in &method.errors {
            if !codes.insert(error.code.as_str()) {
                self.report(file, format!("error code `{}` listed twice", error.code));
            }
            all_codes.push(error.code.clone());
        }
        self.examples(file, method, &codes);
    }

    fn examples(&mut self, file: &str, method: &MethodSpec, codes: &BTreeSet<&str>) {
        if !method
            .examples
            .iter()
            .any(|example| example.request.is_some() && example.response.is_some())
        {
            self.report(
                file,
                "needs at least one example with both `request` and `response`",
            );
        }
        let wires: BTreeSet<&str> = method
            .params
            .iter()
            .map(|param| param.wire.as_str())
            .collect();
        for (index, example) in method.examples.iter().enumerate() {
            let context = format!("examples[{index}]");
            if example.request.is_none() && example.response.is_none() && example.error.is_none() {
                self.report(
                    file,
                    format!("{context}: needs `request`, `response` or `error`"),
                );
            }
            if example.response.is_some() && example.error.is_some() {
                self.report(
                    file,
                    format!("{context}: `response` and `error` are exclusive"),
                );
            }
            if let Some(request) = &example.request {
                match request.as_object() {
                    None => self.report(file, format!("{context}.request: must be an object")),
                    Some(object) => {
                        for key in object.keys() {
                            if !wires.contains(key.as_str()) {
                                self.report(
                                    file,
                                    format!("{context}.request: `{key}` is not a parameter"),
                                );
                            }
                        }
                        for param in method.params.iter().filter(|param| param.required) {
                            if !object.contains_key(&param.wire) {
                                self.report(
                                    file,
                                    format!(
                                        "{context}.request: required `{}` is missing",
                                        param.wire
                                    ),
                                );
                            }
                        }
                    }
                }
            }
            if let Some(response) = &example.response {
                if response.get("result").is_none() {
                    self.report(
                        file,
                        format!("{context}.response: the envelope needs `result`"),
                    );
                }
            }
            if let Some(error) = &example.error {
                let code = error
                    .get("error")
                    .and_then(Value::as_str)
                    .or_else(|| error.pointer("/result/error").and_then(Value::as_str));
                match code {
                    // A soft error may carry no code (old servers' `{"SUCCESS": false}`).
                    None if error.get("result").is_some() && method.response.soft_error.is_some() => {}
                    None => self.report(
                        file,
                        format!("{context}.error: needs an `error` code, or a `result` with a soft error"),
                    ),
                    Some(code) if !codes.contains(code) => self.report(
                        file,
                        format!("{context}.error: code `{code}` is not listed in `errors`"),
                    ),
                    Some(_) => {}
                }
            }
        }
    }
}
