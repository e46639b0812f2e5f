//! `cargo xtask spec-lint`: every file against `spec/schema.json`, then cross-checks the JSON
//! Schema cannot express (references resolve, names are unique, examples fit the parameters).

use std::collections::{BTreeMap, BTreeSet};

use heck::{ToSnakeCase, ToUpperCamelCase};
use serde_json::Value;

use crate::helpers;
use crate::model::{FieldSpec, Kind, MethodSpec, Problem, Spec, Usage};
use crate::ty::{self, resolve, Resolved, TypeExpr};

/// Validates every loaded file against the `$defs` of `schema` for its kind.
///
/// # Errors
/// A problem when the schema itself does not compile.
pub fn schema_problems(spec: &Spec, schema: &Value) -> Result<Vec<Problem>, Problem> {
    let validator = |definition: &str| {
        let mut root = schema.clone();
        if let Value::Object(map) = &mut root {
            map.remove("oneOf");
            map.insert(
                "$ref".into(),
                Value::String(format!("#/$defs/{definition}")),
            );
        }
        jsonschema::validator_for(&root)
            .map_err(|error| Problem::new("spec/schema.json", format!("does not compile: {error}")))
    };
    let method = validator("method")?;
    let types = validator("typesFile")?;
    let event = validator("event")?;
    let mut problems = Vec::new();
    let mut check = |validator: &jsonschema::Validator, path: &str, raw: &Value| {
        for error in validator.iter_errors(raw) {
            problems.push(Problem::new(
                path,
                format!("schema: at `{}`: {error}", error.instance_path),
            ));
        }
    };
    for file in &spec.methods {
        check(&method, &file.display_path, &file.raw);
    }
    for file in &spec.types {
        check(&types, &file.display_path, &file.raw);
    }
    for file in &spec.events {
        check(&event, &file.display_path, &file.raw);
    }
    Ok(problems)
}

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

fn is_type_name(name: &str) -> bool {
    is_ident(name) && name.to_upper_camel_case() == name
}

fn is_field_name(name: &str) -> bool {
    is_ident(name) && name.to_snake_case() == name && name != "new"
}

/// Which side a type expression is used on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Request,
    Response,
}

struct Checker<'a> {
    spec: &'a Spec,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn report(&mut self, file: &str, message: impl Into<String>) {
        self.problems.push(Problem::new(file, message));
    }

    /// Parses and resolves a type expression and checks every named type fits `side`.
    fn type_expr(&mut self, file: &str, context: &str, text: &str, side: Side) {
        let expr = match TypeExpr::parse(text) {
            Ok(expr) => expr,
            Err(message) => return self.report(file, format!("{context}: {message}")),
        };
        if let Err(message) = ty::check(self.spec, &expr) {
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

    fn fields(&mut self, file: &str, owner: &str, fields: &[FieldSpec], side: Side, ordered: bool) {
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
                    format!("{context}: rust name `{}` must be a snake_case identifier, not a keyword or `new`", field.rust),
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

    fn method(&mut self, file: &str, stem: &str, method: &MethodSpec, all_codes: &mut Vec<String>) {
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
            match helpers::find(soft) {
                Some(helper) if helper.soft_error => {
                    if soft_error_access(self.spec, &method.response.ty, soft).is_none() {
                        self.report(
                            file,
                            format!("response.soft_error `{soft}` must be response.type or the type of one of its fields"),
                        );
                    }
                }
                _ => self.report(
                    file,
                    format!("response.soft_error: `{soft}` is not a soft-error wire helper"),
                ),
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

/// Where a method's soft-error helper sits in its response: `Some(None)` when the response is
/// the helper itself, `Some(Some(field))` when it is a field of the response struct.
pub fn soft_error_access(spec: &Spec, response_ty: &str, helper: &str) -> Option<Option<String>> {
    let helper_expr = TypeExpr::Named(helper.to_owned(), Vec::new());
    let response = TypeExpr::parse(response_ty).ok()?;
    if response == helper_expr {
        return Some(None);
    }
    let TypeExpr::Named(name, _) = &response else {
        return None;
    };
    let Some(Resolved::Type(ty)) = resolve(spec, name) else {
        return None;
    };
    ty.fields
        .iter()
        .find(|field| TypeExpr::parse(&field.ty).ok().as_ref() == Some(&helper_expr))
        .map(|field| Some(field.rust.clone()))
}

/// Everything the schema cannot check. An empty list means the spec can be rendered.
pub fn cross_check(spec: &Spec) -> Vec<Problem> {
    let mut checker = Checker {
        spec,
        problems: Vec::new(),
    };
    // Every generated type name, with the file that claims it.
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut claim = |checker: &mut Checker<'_>, name: String, file: &str| {
        if helpers::find(&name).is_some() || helpers::RESERVED_TYPE_NAMES.contains(&name.as_str()) {
            checker.report(
                file,
                format!("`{name}` is a wire helper or a reserved name"),
            );
        }
        if let Some(other) = names.insert(name.clone(), file.to_owned()) {
            checker.report(
                file,
                format!("type name `{name}` is also defined by {other}"),
            );
        }
    };
    let mut all_codes = Vec::new();
    for loaded in &spec.methods {
        let method = &loaded.item;
        claim(&mut checker, method.rust_name.clone(), &loaded.display_path);
        claim(
            &mut checker,
            format!("{}Response", method.rust_name),
            &loaded.display_path,
        );
        checker.method(&loaded.display_path, &loaded.stem, method, &mut all_codes);
    }
    for (file, ty) in spec.named_types() {
        let path = file.display_path.as_str();
        // A method's response may be a named type called `<Method>Response`: not a clash.
        let is_method_response = spec.methods.iter().any(|method| {
            format!("{}Response", method.item.rust_name) == ty.name
                && method.item.response.ty == ty.name
        });
        if !is_method_response {
            claim(&mut checker, ty.name.clone(), path);
        }
        if !is_type_name(&ty.name) {
            checker.report(
                path,
                format!("type name `{}` must be UpperCamelCase", ty.name),
            );
        }
        match ty.kind {
            Kind::Struct => {
                if !ty.values.is_empty() {
                    checker.report(
                        path,
                        format!("{}: a struct has `fields`, not `values`", ty.name),
                    );
                }
                let side = if ty.usage == Usage::Request {
                    Side::Request
                } else {
                    Side::Response
                };
                checker.fields(path, &ty.name, &ty.fields, side, ty.usage.is_request());
                if ty.usage == Usage::Both {
                    checker.fields(path, &ty.name, &ty.fields, Side::Request, true);
                }
                if ty.keep_unknown && !ty.usage.is_response() {
                    checker.report(
                        path,
                        format!("{}: keep_unknown only applies to response types", ty.name),
                    );
                }
                if ty.keep_unknown && ty.fields.iter().any(|field| field.rust == "extra") {
                    checker.report(
                        path,
                        format!("{}: `extra` is taken by keep_unknown", ty.name),
                    );
                }
            }
            Kind::Enum => {
                if !ty.fields.is_empty() || ty.keep_unknown {
                    checker.report(path, format!("{}: an enum has only `values`", ty.name));
                }
                if ty.values.is_empty() {
                    checker.report(path, format!("{}: an enum needs `values`", ty.name));
                }
                let mut seen = (BTreeSet::new(), BTreeSet::new());
                for value in &ty.values {
                    if !seen.0.insert(value.wire.as_str()) || !seen.1.insert(value.rust.as_str()) {
                        checker.report(
                            path,
                            format!("{}: value `{}` listed twice", ty.name, value.wire),
                        );
                    }
                    if !is_type_name(&value.rust) || value.rust == "Unknown" {
                        checker.report(
                            path,
                            format!(
                                "{}: variant `{}` must be UpperCamelCase and not `Unknown`",
                                ty.name, value.rust
                            ),
                        );
                    }
                }
            }
        }
    }
    for loaded in &spec.events {
        let path = loaded.display_path.as_str();
        let event = &loaded.item;
        if loaded.stem != event.name {
            checker.report(path, format!("file name must be `{}.json`", event.name));
        }
        if event.wire_name != event.name.to_ascii_uppercase() {
            checker.report(
                path,
                format!("wire_name must be `{}`", event.name.to_ascii_uppercase()),
            );
        }
        if !is_type_name(&event.rust_name) || event.rust_name == "Unknown" {
            checker.report(path, "rust_name must be UpperCamelCase and not `Unknown`");
        }
        claim(&mut checker, format!("{}Event", event.rust_name), path);
        checker.type_expr(path, "data", &event.data, Side::Response);
        if event.examples.is_empty() {
            checker.report(path, "needs at least one example");
        }
        for (index, example) in event.examples.iter().enumerate() {
            let sent_name = match (&example.json, &example.form) {
                (Some(json), None) => json.get("event").and_then(Value::as_str).map(str::to_owned),
                (None, Some(form)) => form
                    .split('&')
                    .find_map(|pair| pair.strip_prefix("event="))
                    .map(str::to_owned),
                _ => {
                    checker.report(
                        path,
                        format!("examples[{index}]: exactly one of `json` and `form`"),
                    );
                    continue;
                }
            };
            if !sent_name.is_some_and(|name| name.eq_ignore_ascii_case(&event.wire_name)) {
                checker.report(
                    path,
                    format!(
                        "examples[{index}]: its `event` is not `{}`",
                        event.wire_name
                    ),
                );
            }
        }
    }
    if !spec.events.is_empty() {
        match spec.find_type("EventAuth") {
            Some(auth) if auth.kind == Kind::Struct && auth.usage.is_response() => {}
            _ => checker.report(
                "spec/types",
                "events need a response struct `EventAuth` (the `auth` block)",
            ),
        }
    }
    checker.problems.sort();
    checker.problems.dedup();
    checker.problems
}

/// Types no method, event or other type refers to (warnings: a spec may be mid-edit).
pub fn unused_types(spec: &Spec) -> Vec<Problem> {
    let mut used: BTreeSet<String> = BTreeSet::from(["EventAuth".to_owned()]);
    let mut note = |text: &str| {
        if let Ok(expr) = TypeExpr::parse(text) {
            used.extend(expr.names().into_iter().map(str::to_owned));
        }
    };
    for method in &spec.methods {
        method.item.params.iter().for_each(|param| note(&param.ty));
        note(&method.item.response.ty);
    }
    for event in &spec.events {
        note(&event.item.data);
    }
    for (_, ty) in spec.named_types() {
        ty.fields.iter().for_each(|field| note(&field.ty));
    }
    spec.named_types()
        .filter(|(_, ty)| !used.contains(&ty.name))
        .map(|(file, ty)| {
            Problem::new(
                &file.display_path,
                format!("type `{}` is not used", ty.name),
            )
        })
        .collect()
}
