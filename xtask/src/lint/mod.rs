//! `cargo xtask spec-lint`: every file against `spec/schema.json`, then cross-checks the JSON
//! Schema cannot express (references resolve, names are unique, examples fit the parameters).

mod checker;
pub mod codes;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::helpers;
use crate::model::{Kind, Problem, Spec, Usage};
use crate::ty::TypeRef;
use checker::{is_type_name, Checker, Side};

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
                && method.item.response.ty.as_str() == ty.name
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
    let mut note = |ty: &TypeRef| {
        used.extend(ty.expr().names().into_iter().map(str::to_owned));
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
