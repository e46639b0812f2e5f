//! Documented examples: which of the page's JSON examples the spec lacks, which spec examples
//! the page lost, and where a changed one differs.

use std::collections::BTreeSet;

use serde_json::Value;

use super::extract::{DocExample, DocPage, ExampleKind};
use super::report::{Finding, Fix};
use crate::model::DriftKind;

/// Pairs the page's examples of one kind with the spec's `source: docs` ones. An example on
/// the page that the spec lacks, next to a spec example the page lost, is a change (in page
/// order); the rest are new or gone.
pub fn examples(
    kind: ExampleKind,
    ours: &[(usize, &Value)],
    doc: &DocPage,
    findings: &mut Vec<Finding>,
) {
    let mut seen: Vec<&Value> = Vec::new();
    let mut new: Vec<&DocExample> = Vec::new();
    for example in doc.examples.iter().filter(|example| example.kind == kind) {
        // A page may print one body twice (webhook and OAuth calls differ only in `auth`).
        if seen.contains(&&example.value) {
            continue;
        }
        seen.push(&example.value);
        if !ours.iter().any(|(_, value)| **value == example.value) {
            new.push(example);
        }
    }
    let gone: Vec<&(usize, &Value)> = ours
        .iter()
        .filter(|(_, value)| !seen.contains(value))
        .collect();
    let word = kind.word();
    for (index, example) in new.iter().enumerate() {
        match gone.get(index) {
            Some((at, old)) => findings.push(Finding {
                kind: DriftKind::ExampleChanged,
                name: word.to_owned(),
                detail: format!(
                    "page line {} differs from examples[{at}].{}: {}",
                    example.line,
                    kind.spec_key(),
                    describe_diff(old, &example.value)
                ),
                fix: Some(Fix::ReplaceExample {
                    index: *at,
                    key: kind.spec_key(),
                    text: example.text.clone(),
                }),
            }),
            None => findings.push(Finding {
                kind: DriftKind::ExampleNew,
                name: word.to_owned(),
                detail: format!("page line {}, not in the spec", example.line),
                fix: new_example(example),
            }),
        }
    }
    for (at, _) in gone.iter().skip(new.len()) {
        findings.push(Finding {
            kind: DriftKind::ExampleGone,
            name: word.to_owned(),
            detail: format!(
                "examples[{at}].{} (source: docs) is no longer on the page",
                kind.spec_key()
            ),
            fix: None,
        });
    }
}

/// A new error or event example stands alone; a new request or response needs its partner,
/// which only a person can pick.
fn new_example(example: &DocExample) -> Option<Fix> {
    let body = super::json_text::indent(&example.text, 2);
    match example.kind {
        ExampleKind::Error => example.http_status.map(|status| Fix::AddExample {
            text: format!(
                "{{\n  \"source\": \"docs\",\n  \"http_status\": {status},\n  \"error\": {body}\n}}"
            ),
        }),
        ExampleKind::Event => Some(Fix::AddExample {
            text: format!("{{\n  \"source\": \"docs\",\n  \"json\": {body}\n}}"),
        }),
        ExampleKind::Request | ExampleKind::Response => None,
    }
}

/// Where two JSON values differ, as paths (`result.LINE: 12 → 13`), at most five.
pub fn describe_diff(old: &Value, new: &Value) -> String {
    let mut out = Vec::new();
    diff_paths("", old, new, &mut out);
    let more = out.len().saturating_sub(5);
    out.truncate(5);
    if more > 0 {
        out.push(format!("and {more} more"));
    }
    out.join("; ")
}

fn diff_paths(path: &str, old: &Value, new: &Value, out: &mut Vec<String>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => diff_paths(&join(key), x, y, out),
                    (Some(_), None) => out.push(format!("{} removed", join(key))),
                    (None, Some(y)) => out.push(format!("{} added ({})", join(key), short(y))),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (index, (x, y)) in a.iter().zip(b).enumerate() {
                diff_paths(&format!("{path}[{index}]"), x, y, out);
            }
        }
        _ if old != new => {
            let at = if path.is_empty() { "(whole)" } else { path };
            out.push(format!("{at}: {} → {}", short(old), short(new)));
        }
        _ => {}
    }
}

/// A value in at most 40 characters.
fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(39).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_names_the_changed_paths() {
        let old = json!({"result": {"LINE": 12, "A": [1, 2]}, "time": {}});
        let new = json!({"result": {"LINE": 13, "A": [1, 3], "B": true}, "time": {}});
        assert_eq!(
            describe_diff(&old, &new),
            "result.A[1]: 2 → 3; result.B added (true); result.LINE: 12 → 13"
        );
    }
}
