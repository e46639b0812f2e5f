//! What a docs page says, read from its tables and fences: parameters, error codes, response
//! and event fields, and the JSON examples.

use serde_json::Value;

use super::json_text;
use super::page::{Fence, Page, Table};

/// One row of a parameter or field table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocField {
    /// Name as written in bold (`CONNECTOR`).
    pub name: String,
    /// The type in backticks (`string`, `integer`, `object[]`).
    pub ty: String,
    /// Marked with `*` after the bold name.
    pub required: bool,
    /// Anchors (`#messages`) the description links to: the sub-table describing the value.
    pub anchors: Vec<String>,
}

/// One row of an error table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocError {
    /// The `error` code.
    pub code: String,
    /// HTTP status, when the table gives one.
    pub http_status: Option<u16>,
    /// The description columns joined, for a new spec entry.
    pub description: String,
}

/// Which part of the page an example comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExampleKind {
    /// The JSON body of a cURL call (without `auth`).
    Request,
    /// Under "Response Handling".
    Response,
    /// Under "Error Handling".
    Error,
    /// Under "What the Handler Receives".
    Event,
}

impl ExampleKind {
    /// The spec key holding this kind of example (`request`, `response`, `error`, `json`).
    pub fn spec_key(self) -> &'static str {
        match self {
            ExampleKind::Request => "request",
            ExampleKind::Response => "response",
            ExampleKind::Error => "error",
            ExampleKind::Event => "json",
        }
    }

    /// The word used in the report.
    pub fn word(self) -> &'static str {
        match self {
            ExampleKind::Event => "event",
            other => other.spec_key(),
        }
    }
}

/// A JSON example printed on the page.
#[derive(Debug, Clone)]
pub struct DocExample {
    /// Which kind.
    pub kind: ExampleKind,
    /// 1-based line of its fence.
    pub line: usize,
    /// The value (requests without `auth`).
    pub value: Value,
    /// The JSON exactly as printed, to copy it in the docs' key order.
    pub text: String,
    /// HTTP status the page gives for it (responses and errors).
    pub http_status: Option<u16>,
}

/// Everything read from one page.
#[derive(Debug, Clone, Default)]
pub struct DocPage {
    /// The parsed page, to follow anchors into sub-tables.
    pub page: Page,
    /// Rows of the method parameter table.
    pub params: Vec<DocField>,
    /// Rows of the object `result` links to.
    pub result_fields: Vec<DocField>,
    /// Rows of the event's `data` table.
    pub data_fields: Vec<DocField>,
    /// Error table rows.
    pub errors: Vec<DocError>,
    /// JSON examples.
    pub examples: Vec<DocExample>,
    /// Fences that should hold JSON but do not parse: (line, why).
    pub unreadable: Vec<(usize, String)>,
}

/// Reads what the compare step needs from a parsed page.
pub fn extract(page: Page) -> DocPage {
    let mut doc = DocPage::default();
    for table in &page.tables {
        if is_error_table(table) {
            doc.errors.extend(error_rows(table));
        }
    }
    if let Some(table) = page.tables.iter().find(|table| {
        table.section.level == 2
            && matches!(
                table.section.h2.as_str(),
                "Method Parameters" | "Request Parameters"
            )
            && is_field_table(table)
    }) {
        doc.params = field_rows(table);
    }
    doc.result_fields = linked_fields(&page, "Response Handling", "result");
    doc.data_fields = linked_fields(&page, "What the Handler Receives", "data");
    let errors = doc.errors.clone();
    for fence in &page.fences {
        match fence_example(fence, &errors) {
            Some(Ok(example)) => doc.examples.push(example),
            Some(Err(why)) => doc.unreadable.push((fence.line, why)),
            None => {}
        }
    }
    doc.page = page;
    doc
}

/// The fields of the table that row `row` of the first field table in section `h2` links to.
fn linked_fields(page: &Page, h2: &str, row: &str) -> Vec<DocField> {
    page.tables
        .iter()
        .filter(|table| table.section.h2 == h2 && is_field_table(table))
        .flat_map(field_rows)
        .find(|field| field.name == row)
        .and_then(|field| {
            field
                .anchors
                .iter()
                .find_map(|anchor| page.table_by_anchor(anchor))
        })
        .map(field_rows)
        .unwrap_or_default()
}

/// A table whose first header cell is the name column (`**Name**`, `**Parameter**`).
pub fn is_field_table(table: &Table) -> bool {
    table.header.first().is_some_and(|cell| {
        let cell = cell.to_ascii_lowercase();
        cell.starts_with("**name**") || cell.starts_with("**parameter**")
    })
}

fn is_error_table(table: &Table) -> bool {
    table.header.iter().any(|cell| cell == "**Code**")
}

/// Reads the rows of a field table. A row whose first cell has no bold name is skipped.
pub fn field_rows(table: &Table) -> Vec<DocField> {
    table
        .rows
        .iter()
        .filter_map(|row| {
            let first = row.first()?;
            let rest = first.strip_prefix("**")?;
            let end = rest.find("**")?;
            // Markdown escapes (`\_`) are not part of the name.
            let name = rest[..end].replace('\\', "");
            let after = &rest[end + 2..];
            let required = after.starts_with('*');
            let ty = between(after, '`', '`').unwrap_or_default();
            let description = row[1..].join(" | ");
            Some(DocField {
                name: name.trim().to_owned(),
                ty,
                required,
                anchors: anchors(&description),
            })
        })
        .collect()
}

fn error_rows(table: &Table) -> Vec<DocError> {
    let column = |name: &str| table.header.iter().position(|cell| cell == name);
    let Some(code_at) = column("**Code**") else {
        return Vec::new();
    };
    let status_at = column("**Status**");
    table
        .rows
        .iter()
        .filter_map(|row| {
            let code = row.get(code_at)?.trim().trim_matches('`').trim().to_owned();
            if code.is_empty() {
                return None;
            }
            let http_status = status_at
                .and_then(|at| row.get(at))
                .and_then(|cell| cell.trim().trim_matches('`').trim().parse().ok());
            let description = row
                .iter()
                .enumerate()
                .filter(|(at, _)| *at != code_at && Some(*at) != status_at)
                .map(|(_, cell)| cell.replace('\n', " "))
                .collect::<Vec<_>>()
                .join(": ");
            Some(DocError {
                code,
                http_status,
                description,
            })
        })
        .collect()
}

/// The text between the first `open` and the next `close`.
fn between(text: &str, open: char, close: char) -> Option<String> {
    let start = text.find(open)? + open.len_utf8();
    let len = text[start..].find(close)?;
    Some(text[start..start + len].to_owned())
}

/// Every `](#anchor)` in a description.
fn anchors(text: &str) -> Vec<String> {
    text.split("](#")
        .skip(1)
        .filter_map(|part| part.split(')').next())
        .map(str::to_owned)
        .collect()
}

/// The example a fence holds, if it is one: `None` for fences that are not examples (other
/// languages), `Some(Err)` for an example that is not JSON.
fn fence_example(fence: &Fence, errors: &[DocError]) -> Option<Result<DocExample, String>> {
    let kind = match fence.section.h2.as_str() {
        "Code Examples" | "Request Examples"
            if fence
                .tab
                .as_deref()
                .is_some_and(|tab| tab.starts_with("cURL")) =>
        {
            ExampleKind::Request
        }
        "Response Handling" if fence.info == "json" => ExampleKind::Response,
        "Error Handling" if fence.info == "json" => ExampleKind::Error,
        "What the Handler Receives" if fence.info == "json" => ExampleKind::Event,
        _ => return None,
    };
    let text = if kind == ExampleKind::Request {
        match curl_body(&fence.text) {
            Some(body) => body,
            None => return Some(Err("a cURL call without a `-d '...'` JSON body".to_owned())),
        }
    } else {
        fence.text.clone()
    };
    let node = match json_text::parse(&text) {
        Ok(node) => node,
        Err(why) => return Some(Err(format!("not JSON: {why}"))),
    };
    let mut value: Value = match serde_json::from_str(&text) {
        Ok(value) => value,
        Err(error) => return Some(Err(format!("not JSON: {error}"))),
    };
    // The spec keeps requests without credentials (see spec/README.md).
    let skip = if kind == ExampleKind::Request {
        if let Some(object) = value.as_object_mut() {
            object.remove("auth");
        }
        Some("auth")
    } else {
        None
    };
    // Reprinted with the spec's two-space indent, in the docs' key order.
    let text = json_text::print(&text, &node, 0, skip);
    let http_status = match kind {
        ExampleKind::Response => fence.http_statuses.first().copied(),
        ExampleKind::Error => error_status(&value, fence, errors),
        _ => None,
    };
    Some(Ok(DocExample {
        kind,
        line: fence.line,
        value,
        text,
        http_status,
    }))
}

/// An error example's status: 200 when the error sits inside `result` (a soft error), else the
/// status the error table gives its code, else the section's only "HTTP Status".
fn error_status(value: &Value, fence: &Fence, errors: &[DocError]) -> Option<u16> {
    let Some(code) = value.get("error").and_then(Value::as_str) else {
        return Some(200);
    };
    errors
        .iter()
        .find(|error| error.code == code && error.http_status.is_some())
        .and_then(|error| error.http_status)
        .or(match fence.http_statuses.as_slice() {
            [only] => Some(*only),
            _ => None,
        })
}

/// The single-quoted body of `-d '...'` (or `--data '...'`) in a cURL command.
fn curl_body(command: &str) -> Option<String> {
    let at = command
        .find("-d '")
        .map(|at| at + 4)
        .or_else(|| command.find("--data '").map(|at| at + 8))?;
    let len = command[at..].find('\'')?;
    Some(command[at..at + len].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docs_sync::page::parse;

    #[test]
    fn curl_body_drops_auth_and_keeps_order() {
        let page = parse("## Code Examples\n\n{% list tabs %}\n\n- cURL (OAuth)\n\n    ```bash\n    curl -X POST \\\n    -d '{\"Z\": 1, \"auth\": \"t\", \"A\": [2]}' \\\n    https://x/rest/m\n    ```\n\n{% endlist %}\n");
        let doc = extract(page);
        assert_eq!(doc.examples.len(), 1);
        assert_eq!(doc.examples[0].value, serde_json::json!({"Z": 1, "A": [2]}));
        assert_eq!(
            doc.examples[0].text,
            "{\n  \"Z\": 1,\n  \"A\": [\n    2\n  ]\n}"
        );
    }

    #[test]
    fn error_rows_and_status() {
        let page = parse("## Error Handling\n\n```json\n{\"error\": \"E1\"}\n```\n\n#|\n|| **Status** | **Code** | **Description** ||\n|| `403` | `E1` | Nope ||\n|#\n");
        let doc = extract(page);
        assert_eq!(
            doc.errors,
            vec![DocError {
                code: "E1".to_owned(),
                http_status: Some(403),
                description: "Nope".to_owned()
            }]
        );
        assert_eq!(doc.examples[0].http_status, Some(403));
    }
}
