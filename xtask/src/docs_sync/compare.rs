//! Compares what a docs page says with its spec file and lists the differences.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::examples::examples;
use super::extract::{DocField, DocPage, ExampleKind};
use super::page::Page;
use super::report::{Finding, Fix};
use crate::lookup::{self, Resolved};
use crate::model::{DriftKind, EventSpec, FieldSpec, Kind, MethodSpec, Source, Spec};
use crate::ty::TypeExpr;

/// How deep nested parameter tables are followed (the docs nest three levels at most; the limit
/// only guards against anchors that link in a circle).
const MAX_DEPTH: usize = 6;

/// Compares a method page with its spec file.
pub fn method(spec: &Spec, method: &MethodSpec, doc: &DocPage) -> Vec<Finding> {
    let mut findings = Vec::new();
    params(
        spec,
        &doc.page,
        "",
        &doc.params,
        &method.params,
        0,
        &mut findings,
    );
    errors(method, doc, &mut findings);
    added_fields(
        spec,
        method.response.ty.as_str(),
        &doc.result_fields,
        DriftKind::ResponseFieldAdded,
        &mut findings,
    );
    for kind in [
        ExampleKind::Request,
        ExampleKind::Response,
        ExampleKind::Error,
    ] {
        let ours: Vec<(usize, &Value)> = method
            .examples
            .iter()
            .enumerate()
            .filter(|(_, example)| example.source == Source::Docs)
            .filter_map(|(index, example)| {
                let value = match kind {
                    ExampleKind::Request => example.request.as_ref(),
                    ExampleKind::Response => example.response.as_ref(),
                    _ => example.error.as_ref(),
                };
                value.map(|value| (index, value))
            })
            .collect();
        examples(kind, &ours, doc, &mut findings);
    }
    unreadable(doc, &mut findings);
    findings
}

/// Compares an event page with its spec file.
pub fn event(spec: &Spec, event: &EventSpec, doc: &DocPage) -> Vec<Finding> {
    let mut findings = Vec::new();
    added_fields(
        spec,
        event.data.as_str(),
        &doc.data_fields,
        DriftKind::DataFieldAdded,
        &mut findings,
    );
    let ours: Vec<(usize, &Value)> = event
        .examples
        .iter()
        .enumerate()
        .filter(|(_, example)| example.source == Source::Docs)
        .filter_map(|(index, example)| example.json.as_ref().map(|json| (index, json)))
        .collect();
    examples(ExampleKind::Event, &ours, doc, &mut findings);
    unreadable(doc, &mut findings);
    findings
}

fn unreadable(doc: &DocPage, findings: &mut Vec<Finding>) {
    for (line, why) in &doc.unreadable {
        findings.push(Finding {
            kind: DriftKind::ExampleUnreadable,
            name: format!("line {line}"),
            detail: why.clone(),
            fix: None,
        });
    }
}

/// Compares a parameter table with spec fields, following sub-table links into named struct
/// types (`MESSAGES` → `#messages` → `MessageIn`).
fn params(
    spec: &Spec,
    page: &Page,
    prefix: &str,
    docs: &[DocField],
    ours: &[FieldSpec],
    depth: usize,
    findings: &mut Vec<Finding>,
) {
    let required = |yes: bool| if yes { "required" } else { "optional" };
    for doc in docs {
        let path = format!("{prefix}{}", doc.name);
        let Some(field) = ours.iter().find(|field| field.wire == doc.name) else {
            findings.push(Finding {
                kind: DriftKind::ParamAdded,
                name: path,
                detail: format!(
                    "documented ({}, `{}`), not in the spec",
                    required(doc.required),
                    doc.ty
                ),
                fix: None,
            });
            continue;
        };
        if doc.required != field.required {
            findings.push(Finding {
                kind: DriftKind::ParamRequired,
                name: path.clone(),
                detail: format!(
                    "docs: {}, spec: {}",
                    required(doc.required),
                    required(field.required)
                ),
                fix: None,
            });
        }
        if !fits(spec, &doc.ty, field.ty.expr()) {
            findings.push(Finding {
                kind: DriftKind::ParamType,
                name: path.clone(),
                detail: format!("docs: `{}`, spec: `{}`", doc.ty, field.ty),
                fix: None,
            });
        }
        let sub_table = doc
            .anchors
            .iter()
            .find_map(|anchor| page.table_by_anchor(anchor));
        let target = struct_fields(spec, field.ty.expr());
        if let (Some(table), Some((is_list, fields)), true) = (sub_table, target, depth < MAX_DEPTH)
        {
            let marker = if is_list { "[]" } else { "" };
            let rows = super::extract::field_rows(table);
            params(
                spec,
                page,
                &format!("{path}{marker}."),
                &rows,
                fields,
                depth + 1,
                findings,
            );
        }
    }
    for field in ours {
        if !docs.iter().any(|doc| doc.name == field.wire) {
            findings.push(Finding {
                kind: DriftKind::ParamRemoved,
                name: format!("{prefix}{}", field.wire),
                detail: format!(
                    "in the spec ({}, `{}`), not documented",
                    required(field.required),
                    field.ty
                ),
                fix: None,
            });
        }
    }
}

/// Fields the page documents that the spec's type lacks (responses and event data are decoded
/// leniently, so only additions matter: a field the docs drop still decodes).
fn added_fields(
    spec: &Spec,
    ty: &str,
    docs: &[DocField],
    kind: DriftKind,
    findings: &mut Vec<Finding>,
) {
    let Some((_, fields)) = TypeExpr::parse(ty)
        .ok()
        .and_then(|expr| struct_fields(spec, &expr))
    else {
        return;
    };
    for doc in docs {
        if !fields.iter().any(|field| field.wire == doc.name) {
            findings.push(Finding {
                kind,
                name: doc.name.clone(),
                detail: format!("documented (`{}`), not in `{ty}`", doc.ty),
                fix: None,
            });
        }
    }
}

/// The fields of the struct an expression holds, looking through lists and the wrapper helpers;
/// `true` when it is a list of them.
fn struct_fields<'a>(spec: &'a Spec, expr: &TypeExpr) -> Option<(bool, &'a [FieldSpec])> {
    match expr {
        TypeExpr::List(inner) => struct_fields(spec, inner).map(|(_, fields)| (true, fields)),
        TypeExpr::Named(name, args) => match lookup::resolve(spec, name)? {
            Resolved::Type(ty) if ty.kind == Kind::Struct => Some((false, &ty.fields)),
            Resolved::Type(_) => None,
            Resolved::Helper(_) => {
                let list = matches!(name.as_str(), "ByPosition");
                let inner = args.first()?;
                struct_fields(spec, inner).map(|(nested, fields)| (nested || list, fields))
            }
        },
        _ => None,
    }
}

/// Whether a docs type (`string`, `integer`, `object[]`) can describe a spec type expression.
fn fits(spec: &Spec, doc_ty: &str, expr: &TypeExpr) -> bool {
    let doc_ty = doc_ty.trim().to_ascii_lowercase();
    let doc = if doc_ty.ends_with("[]") {
        "array"
    } else {
        doc_ty.as_str()
    };
    // Dates and timestamps are written many ways; the docs' word says nothing checkable.
    if matches!(doc, "time" | "timestamp" | "datetime" | "date" | "") {
        return true;
    }
    kinds(spec, expr)
        .iter()
        .any(|kind| *kind == doc || *kind == "*")
}

/// The docs type words that describe a spec type expression (`*`: any).
fn kinds(spec: &Spec, expr: &TypeExpr) -> Vec<&'static str> {
    match expr {
        TypeExpr::String => vec!["string", "char"],
        TypeExpr::Bool => vec!["boolean"],
        TypeExpr::I64 | TypeExpr::U64 => vec!["integer"],
        TypeExpr::F64 => vec!["double", "number", "float", "integer"],
        TypeExpr::Json => vec!["*"],
        TypeExpr::List(_) => vec!["array"],
        TypeExpr::Map(_) => vec!["object"],
        TypeExpr::Named(name, args) => match name.as_str() {
            "ConnectorId" | "DataImageUri" | "SecretString" | "SettingsUrl" | "EventsUrl" => {
                vec!["string"]
            }
            "LineId" | "LenientI64" => vec!["integer"],
            "Id" | "ExternalChatId" | "ExternalUserId" | "ExternalMessageId" | "MemberId"
            | "BitrixChatId" | "BitrixMessageId" | "BitrixUserId" | "SessionId"
            | "BitrixFileId" => vec!["string", "integer"],
            "SourceKey" => vec!["string"],
            "ActiveFlag" => vec!["boolean", "integer"],
            // A `Y`/`N` flag has no docs type of its own: pages call it char, string or boolean.
            "YesNo" | "LenientBool" => vec!["boolean", "char", "string"],
            "ByPosition" => vec!["array", "object"],
            "FalseOr" => {
                let mut inner = args.first().map(|arg| kinds(spec, arg)).unwrap_or_default();
                inner.push("boolean");
                inner
            }
            _ => match spec.find_type(name) {
                Some(ty) if ty.kind == Kind::Enum => vec!["string", "char"],
                Some(_) => vec!["object"],
                None => vec!["*"],
            },
        },
    }
}

fn errors(method: &MethodSpec, doc: &DocPage, findings: &mut Vec<Finding>) {
    // A code may sit in the table more than once (one row per message); its statuses are a set.
    let mut documented: BTreeMap<&str, BTreeSet<u16>> = BTreeMap::new();
    for error in &doc.errors {
        let statuses = documented.entry(error.code.as_str()).or_default();
        statuses.extend(error.http_status);
    }
    for (code, statuses) in &documented {
        match method.errors.iter().find(|error| error.code == *code) {
            None => {
                // One description for the spec entry: every row of the code, in table order.
                let description = doc
                    .errors
                    .iter()
                    .filter(|error| error.code == *code)
                    .map(|error| error.description.as_str())
                    .collect::<Vec<_>>()
                    .join("; ");
                let status = statuses.iter().next().copied();
                findings.push(Finding {
                    kind: DriftKind::ErrorAdded,
                    name: (*code).to_owned(),
                    detail: format!(
                        "in the page's error table (HTTP {}), not in the spec",
                        status.map_or_else(|| "?".to_owned(), |status| status.to_string())
                    ),
                    fix: status.map(|http_status| Fix::AddError {
                        code: (*code).to_owned(),
                        http_status,
                        description,
                    }),
                });
            }
            Some(ours) if !statuses.is_empty() && !statuses.contains(&ours.http_status) => {
                findings.push(Finding {
                    kind: DriftKind::ErrorStatus,
                    name: (*code).to_owned(),
                    detail: format!(
                        "docs: HTTP {}, spec: HTTP {}",
                        statuses
                            .iter()
                            .map(u16::to_string)
                            .collect::<Vec<_>>()
                            .join("/"),
                        ours.http_status
                    ),
                    fix: None,
                });
            }
            Some(_) => {}
        }
    }
    for error in &method.errors {
        if !documented.contains_key(error.code.as_str()) {
            findings.push(Finding {
                kind: DriftKind::ErrorRemoved,
                name: error.code.clone(),
                detail: format!(
                    "in the spec (HTTP {}), not in the page's error table",
                    error.http_status
                ),
                fix: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_words_fit_spec_types() {
        let spec = Spec::default();
        let fit = |doc: &str, ty: &str| fits(&spec, doc, &TypeExpr::parse(ty).unwrap());
        assert!(fit("integer", "LineId"));
        assert!(fit("object[]", "list<json>"));
        assert!(!fit("string", "ActiveFlag"));
        assert!(!fit("integer", "string"));
        assert!(fit("timestamp", "string"));
    }
}
