//! Reads one docs page: its headings, its YFM tables (`#| || a | b || |#`) and its code fences.
//!
//! The docs are Yandex Flavored Markdown. Their tables are not CommonMark tables, so a CommonMark
//! parser would hand them back as paragraphs of pipes; a line scanner that knows the three
//! constructs the pages use is shorter and keeps line numbers for the report.

/// Where a table or fence sits: the `##` section and the nearest heading above it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    /// Title of the enclosing `##` heading ("Method Parameters", "Error Handling", ...).
    pub h2: String,
    /// Title of the nearest heading (any level), without its `{#anchor}`.
    pub heading: String,
    /// Level of the nearest heading (2 for `##`).
    pub level: usize,
    /// The `{#anchor}` of the nearest heading, if it has one.
    pub anchor: Option<String>,
}

/// A YFM table: the header row and the body rows, each a list of raw cell texts.
#[derive(Debug, Clone)]
pub struct Table {
    /// Where it sits.
    pub section: Section,
    /// 1-based line of `#|`.
    pub line: usize,
    /// Header cells (`**Name**\n`type``, `**Code**`, ...).
    pub header: Vec<String>,
    /// Body rows.
    pub rows: Vec<Vec<String>>,
}

/// A fenced code block.
#[derive(Debug, Clone)]
pub struct Fence {
    /// Where it sits.
    pub section: Section,
    /// The `{% list tabs %}` tab it is in ("cURL (OAuth)"), if any.
    pub tab: Option<String>,
    /// Info string after the backticks (`json`, `bash`).
    pub info: String,
    /// Content, with the fence's own indentation removed.
    pub text: String,
    /// 1-based line of the opening fence.
    pub line: usize,
    /// The HTTP statuses of the last "HTTP Status: **200**" line of the section above the fence.
    pub http_statuses: Vec<u16>,
}

/// What [`parse`] finds in a page.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Every table, in page order.
    pub tables: Vec<Table>,
    /// Every code fence, in page order.
    pub fences: Vec<Fence>,
}

impl Page {
    /// The table under the heading with `{#anchor}`.
    pub fn table_by_anchor(&self, anchor: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|table| table.section.anchor.as_deref() == Some(anchor))
    }
}

/// An open code fence while scanning.
struct OpenFence {
    indent: usize,
    info: String,
    line: usize,
    lines: Vec<String>,
}

/// Scans a page. Never fails: text that is not a heading, table or fence is skipped, and an
/// unclosed table or fence ends at the end of the page.
pub fn parse(text: &str) -> Page {
    let mut page = Page::default();
    let mut section = Section::default();
    let mut tab: Option<String> = None;
    let mut in_tabs = false;
    let mut statuses: Vec<u16> = Vec::new();
    let mut fence: Option<OpenFence> = None;
    let mut table: Option<(usize, Vec<String>)> = None;

    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim();
        if let Some(open) = fence.as_mut() {
            if !trimmed.is_empty() && trimmed.chars().all(|c| c == '`') {
                let open = fence.take().map(|open| Fence {
                    section: section.clone(),
                    tab: tab.clone(),
                    info: open.info,
                    text: open.lines.join("\n"),
                    line: open.line,
                    http_statuses: statuses.clone(),
                });
                page.fences.extend(open);
            } else {
                open.lines.push(strip_indent(line, open.indent).to_owned());
            }
            continue;
        }
        if let Some((_, lines)) = table.as_mut() {
            if trimmed == "|#" {
                if let Some((start, lines)) = table.take() {
                    page.tables
                        .push(build_table(section.clone(), start, &lines));
                }
            } else {
                lines.push(line.to_owned());
            }
            continue;
        }
        if trimmed == "#|" {
            table = Some((number, Vec::new()));
        } else if let Some(info) = fence_opener(trimmed) {
            fence = Some(OpenFence {
                indent: line.len() - line.trim_start().len(),
                info: info.to_owned(),
                line: number,
                lines: Vec::new(),
            });
        } else if let Some((level, title)) = heading(line) {
            let (title, anchor) = split_anchor(title);
            if level <= 2 {
                section.h2 = title.clone();
            }
            section.heading = title;
            section.level = level;
            section.anchor = anchor;
            statuses.clear();
            tab = None;
        } else if trimmed.starts_with("{% list tabs") {
            in_tabs = true;
        } else if trimmed.starts_with("{% endlist") {
            in_tabs = false;
            tab = None;
        } else if in_tabs && line.starts_with("- ") {
            tab = Some(line[2..].trim().to_owned());
        } else if trimmed.to_ascii_lowercase().starts_with("http status") {
            statuses = bold_numbers(trimmed);
        }
    }
    if let Some((start, lines)) = table {
        page.tables.push(build_table(section, start, &lines));
    }
    page
}

/// The info string of a fence opener (three or more backticks, no backtick after them).
fn fence_opener(trimmed: &str) -> Option<&str> {
    let rest = trimmed.strip_prefix("```")?;
    let info = rest.trim_start_matches('`').trim();
    (!info.contains('`')).then_some(info)
}

/// Removes up to `indent` leading spaces (tab content is indented under its list item).
fn strip_indent(line: &str, indent: usize) -> &str {
    let spaces = line.len() - line.trim_start_matches(' ').len();
    &line[spaces.min(indent)..]
}

/// `## Title` → (2, "Title"); `#|` and `#tag` are not headings.
fn heading(line: &str) -> Option<(usize, &str)> {
    let level = line.len() - line.trim_start_matches('#').len();
    if level == 0 || level > 6 {
        return None;
    }
    let rest = &line[level..];
    rest.starts_with(' ').then(|| (level, rest.trim()))
}

/// `Parameter data {#data}` → ("Parameter data", Some("data")).
fn split_anchor(title: &str) -> (String, Option<String>) {
    if let Some(start) = title.rfind("{#") {
        if let Some(anchor) = title[start + 2..].strip_suffix('}') {
            return (title[..start].trim().to_owned(), Some(anchor.to_owned()));
        }
    }
    (title.to_owned(), None)
}

/// Every `**NNN**` in "HTTP Status: **400**, **403**".
fn bold_numbers(line: &str) -> Vec<u16> {
    line.split("**")
        .skip(1)
        .step_by(2)
        .filter_map(|part| part.trim().parse().ok())
        .collect()
}

/// Groups the lines between `#|` and `|#` into rows (`|| ... ||`, possibly over many lines) and
/// splits each row into cells.
fn build_table(section: Section, line: usize, lines: &[String]) -> Table {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut current: Option<String> = None;
    for text in lines {
        let trimmed = text.trim();
        match current.as_mut() {
            None if trimmed.starts_with("||") => current = Some(trimmed[2..].to_owned()),
            None => continue,
            Some(row) => {
                row.push('\n');
                row.push_str(trimmed);
            }
        }
        let ends = current
            .as_deref()
            .is_some_and(|row| row.trim_end().ends_with("||"));
        if ends {
            if let Some(row) = current.take() {
                let body = row.trim_end().trim_end_matches("||");
                rows.push(split_cells(body));
            }
        }
    }
    let header = if rows.is_empty() {
        Vec::new()
    } else {
        rows.remove(0)
    };
    Table {
        section,
        line,
        header,
        rows,
    }
}

/// Splits a row at each `|` with whitespace on both sides, so `online|offline` in a description
/// stays one cell.
fn split_cells(row: &str) -> Vec<String> {
    let chars: Vec<char> = row.chars().collect();
    let mut cells = Vec::new();
    let mut cell = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let spaced = i > 0
            && chars[i - 1].is_whitespace()
            && chars.get(i + 1).is_none_or(|next| next.is_whitespace());
        if c == '|' && spaced {
            cells.push(cell.trim().to_owned());
            cell.clear();
        } else {
            cell.push(c);
        }
    }
    cells.push(cell.trim().to_owned());
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "# m\n\n## Method Parameters\n\n#|\n|| **Name**\n`type` | **Description** ||\n|| **A***\n[`string`](x.md) | a|b | three\n\nmore ||\n|#\n\n## Response Handling\n\nHTTP Status: **200**, **403**\n\n{% list tabs %}\n\n- cURL\n\n    ```json\n    {\"a\": 1}\n    ```\n\n{% endlist %}\n";

    #[test]
    fn tables_rows_and_cells() {
        let page = parse(PAGE);
        assert_eq!(page.tables.len(), 1);
        let table = &page.tables[0];
        assert_eq!(table.section.h2, "Method Parameters");
        assert_eq!(table.header, vec!["**Name**\n`type`", "**Description**"]);
        assert_eq!(
            table.rows,
            vec![vec![
                "**A***\n[`string`](x.md)".to_owned(),
                "a|b".to_owned(),
                "three\n\nmore".to_owned()
            ]]
        );
    }

    #[test]
    fn fences_know_their_tab_and_status() {
        let page = parse(PAGE);
        assert_eq!(page.fences.len(), 1);
        let fence = &page.fences[0];
        assert_eq!(fence.tab.as_deref(), Some("cURL"));
        assert_eq!(fence.http_statuses, vec![200, 403]);
        assert_eq!(fence.text, "{\"a\": 1}");
        assert_eq!(fence.section.h2, "Response Handling");
    }
}
