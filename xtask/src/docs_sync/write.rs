//! `--write`: the mechanical edits (documented examples, new error codes, the synced commit),
//! made as text edits so a hand-formatted spec file keeps its layout outside the edited value.

use std::ops::Range;

use super::json_text::{self, indent, Node};
use super::report::Fix;

/// Applies `fixes` to the text of a spec file.
///
/// # Errors
/// When the file is not JSON, a fix points at something the file lacks (no `errors` array,
/// an example index out of range), or the result would not be JSON.
pub fn apply(text: &str, fixes: &[&Fix]) -> Result<String, String> {
    let root = json_text::parse(text).map_err(|why| format!("not JSON: {why}"))?;
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    for fix in fixes {
        edits.push(edit(text, &root, fix)?);
    }
    // From the end, so earlier offsets stay valid; insertions at one spot keep their order.
    edits.sort_by_key(|(range, _)| range.start);
    let mut out = text.to_owned();
    for (range, replacement) in edits.into_iter().rev() {
        out.replace_range(range, &replacement);
    }
    serde_json::from_str::<serde_json::Value>(&out)
        .map_err(|error| format!("the edited file would not be JSON: {error}"))?;
    Ok(out)
}

fn edit(text: &str, root: &Node, fix: &Fix) -> Result<(Range<usize>, String), String> {
    match fix {
        Fix::ReplaceExample {
            index,
            key,
            text: new,
        } => {
            let example = root
                .get("examples")
                .and_then(|examples| examples.items().get(*index))
                .ok_or_else(|| format!("no examples[{index}]"))?;
            let value = example
                .get(key)
                .ok_or_else(|| format!("examples[{index}] has no `{key}`"))?;
            let span = value.span();
            // Keep the file's choice: a value written on one line stays on one line.
            let replacement = if text[span.clone()].contains('\n') {
                indent(new, line_indent(text, span.start))
            } else {
                let node = json_text::parse(new).map_err(|why| format!("not JSON: {why}"))?;
                json_text::print_compact(new, &node)
            };
            Ok((span, replacement))
        }
        Fix::AddExample { text: new } => append(text, root, "examples", new),
        Fix::AddError {
            code,
            http_status,
            description,
        } => {
            let quote = |text: &str| serde_json::Value::String(text.to_owned()).to_string();
            let entry = format!(
                "{{\n  \"code\": {},\n  \"http_status\": {http_status},\n  \"description\": {}\n}}",
                quote(code),
                quote(description)
            );
            append(text, root, "errors", &entry)
        }
    }
}

/// An insertion after the last element of the top-level array `key`.
fn append(
    text: &str,
    root: &Node,
    key: &str,
    entry: &str,
) -> Result<(Range<usize>, String), String> {
    let array = root
        .get(key)
        .ok_or_else(|| format!("no `{key}` array to add to"))?;
    let last = array
        .items()
        .last()
        .ok_or_else(|| format!("`{key}` is empty; add the first entry by hand"))?;
    let end = last.span().end;
    let pad = line_indent(text, last.span().start);
    Ok((
        end..end,
        format!(",\n{}{}", " ".repeat(pad), indent(entry, pad)),
    ))
}

/// The indentation of the line holding byte `at`.
fn line_indent(text: &str, at: usize) -> usize {
    let start = text[..at].rfind('\n').map_or(0, |newline| newline + 1);
    let line = &text[start..];
    line.len() - line.trim_start_matches(' ').len()
}

/// Sets `[docs] commit` in the text of `SOURCE.toml`, keeping its comments and layout.
///
/// # Errors
/// When the text is not TOML or has no `[docs]` table.
pub fn set_commit(source_toml: &str, commit: &str) -> Result<String, String> {
    let mut document: toml_edit::DocumentMut = source_toml
        .parse()
        .map_err(|error| format!("not TOML: {error}"))?;
    let docs = document
        .get_mut("docs")
        .and_then(toml_edit::Item::as_table_like_mut)
        .ok_or("no [docs] table")?;
    docs.insert("commit", toml_edit::value(commit));
    Ok(document.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "{\n  \"errors\": [\n    {\"code\": \"A\", \"http_status\": 400, \"description\": \"a\"}\n  ],\n  \"examples\": [\n    {\"source\": \"docs\", \"request\": {\"X\": 1}, \"response\": {\"result\": true}}\n  ]\n}\n";

    #[test]
    fn replaces_one_value_and_appends() {
        let replace = Fix::ReplaceExample {
            index: 0,
            key: "request",
            text: "{\n  \"X\": 2\n}".to_owned(),
        };
        let add = Fix::AddError {
            code: "B".to_owned(),
            http_status: 403,
            description: "b".to_owned(),
        };
        let out = apply(FILE, &[&replace, &add]).unwrap();
        assert_eq!(
            out,
            "{\n  \"errors\": [\n    {\"code\": \"A\", \"http_status\": 400, \"description\": \"a\"},\n    {\n      \"code\": \"B\",\n      \"http_status\": 403,\n      \"description\": \"b\"\n    }\n  ],\n  \"examples\": [\n    {\"source\": \"docs\", \"request\": {\"X\": 2}, \"response\": {\"result\": true}}\n  ]\n}\n"
        );
    }

    #[test]
    fn missing_targets_are_errors() {
        let fix = Fix::ReplaceExample {
            index: 3,
            key: "request",
            text: "{}".to_owned(),
        };
        assert!(apply(FILE, &[&fix]).is_err());
    }

    #[test]
    fn commit_is_replaced_and_comments_kept() {
        let out = set_commit("# keep\n[docs]\ncommit = \"aaa\" # old\n", "bbb").unwrap();
        assert!(out.starts_with("# keep\n[docs]\ncommit = \"bbb\""), "{out}");
    }
}
