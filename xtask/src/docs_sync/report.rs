//! The text report: per spec file, what differs from its page and whether `--write` can do it.

use std::fmt::Write as _;

use crate::model::DriftKind;

/// One difference between a page and its spec file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What kind of difference.
    pub kind: DriftKind,
    /// What it is about (parameter path, error code, field, example kind).
    pub name: String,
    /// The difference in words.
    pub detail: String,
    /// The edit `--write` makes, when the difference is mechanical.
    pub fix: Option<Fix>,
}

/// An edit to a spec file that `--write` can make without a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    /// Replace `examples[index].<key>` with this JSON text.
    ReplaceExample {
        /// Index into `examples`.
        index: usize,
        /// `request`, `response`, `error` or `json`.
        key: &'static str,
        /// The documented JSON, in the docs' key order.
        text: String,
    },
    /// Append this example object to `examples`.
    AddExample {
        /// The whole example object as JSON text.
        text: String,
    },
    /// Append this entry to `errors`.
    AddError {
        /// The code.
        code: String,
        /// Its status.
        http_status: u16,
        /// From the error table.
        description: String,
    },
}

/// What was found for one method or event.
#[derive(Debug, Clone, Default)]
pub struct ItemReport {
    /// Wire name of the method, or the event name.
    pub name: String,
    /// The spec file (`spec/methods/imconnector.status.json`).
    pub spec_file: String,
    /// The page inside the docs checkout.
    pub page: String,
    /// The page is not in the checkout.
    pub page_missing: bool,
    /// Differences not recorded as deliberate.
    pub findings: Vec<Finding>,
    /// How many differences the spec records as deliberate.
    pub deliberate: usize,
    /// Recorded deliberate differences that no longer occur (the docs now agree with the spec).
    pub stale: Vec<(DriftKind, String)>,
}

impl ItemReport {
    /// Anything a maintainer must look at.
    pub fn differs(&self) -> bool {
        self.page_missing || !self.findings.is_empty() || !self.stale.is_empty()
    }
}

/// The whole run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The commit in `SOURCE.toml`.
    pub synced_commit: String,
    /// The commit of the docs checkout, when known.
    pub docs_commit: Option<String>,
    /// `--since`, if given.
    pub since: Option<String>,
    /// One entry per compared method or event, in spec order.
    pub items: Vec<ItemReport>,
    /// Pages in the watched folders that no spec file names.
    pub uncovered: Vec<String>,
    /// Uncovered pages `SOURCE.toml` lists under `[not_covered]` (not reported).
    pub not_covered: usize,
    /// `[not_covered]` entries that no longer apply (the page is covered now, or gone).
    pub stale_not_covered: Vec<String>,
}

impl Report {
    /// Anything differs: the run should exit 1.
    pub fn differs(&self) -> bool {
        !self.uncovered.is_empty()
            || !self.stale_not_covered.is_empty()
            || self.items.iter().any(ItemReport::differs)
    }

    /// Renders the report.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let short = |commit: &str| commit.chars().take(12).collect::<String>();
        let _ = writeln!(
            out,
            "docs-sync: docs at {} against spec/ synced at {}{}",
            self.docs_commit
                .as_deref()
                .map_or_else(|| "an unknown commit".to_owned(), short),
            short(&self.synced_commit),
            self.since
                .as_deref()
                .map(|since| format!(" (pages changed since {})", short(since)))
                .unwrap_or_default()
        );
        let (mut mechanical, mut todo, mut deliberate) = (0, 0, 0);
        for item in &self.items {
            deliberate += item.deliberate;
            if !item.differs() {
                continue;
            }
            let _ = writeln!(out, "\n{} ({})", item.name, item.spec_file);
            let _ = writeln!(out, "  page: {}", item.page);
            if item.page_missing {
                todo += 1;
                let _ = writeln!(
                    out,
                    "  page_missing: the page is not in the checkout (moved or removed?)  [to-do]"
                );
            }
            for finding in &item.findings {
                let how = if finding.fix.is_some() {
                    mechanical += 1;
                    "[--write]"
                } else {
                    todo += 1;
                    "[to-do]"
                };
                let _ = writeln!(
                    out,
                    "  {} {}: {}  {how}",
                    finding.kind.as_str(),
                    finding.name,
                    finding.detail
                );
            }
            for (kind, name) in &item.stale {
                todo += 1;
                let _ = writeln!(
                    out,
                    "  {} {name}: recorded as deliberate, but the page agrees now; remove it from docs_differences  [to-do]",
                    kind.as_str()
                );
            }
        }
        if !self.uncovered.is_empty() {
            let _ = writeln!(out, "\npages no spec file covers:");
            for page in &self.uncovered {
                todo += 1;
                let _ = writeln!(out, "  {page}  [to-do]");
            }
        }
        if !self.stale_not_covered.is_empty() {
            let _ = writeln!(
                out,
                "\n[not_covered] entries of SOURCE.toml that no longer apply (covered now, or gone):"
            );
            for page in &self.stale_not_covered {
                todo += 1;
                let _ = writeln!(out, "  {page}  [to-do]");
            }
        }
        let _ = writeln!(out);
        if mechanical + todo == 0 {
            let _ = writeln!(
                out,
                "no drift: {} page(s) agree with the spec ({deliberate} deliberate difference(s) recorded in the spec, {} page(s) left out in SOURCE.toml)",
                self.items.len(),
                self.not_covered
            );
        } else {
            let _ = writeln!(
                out,
                "{} difference(s): {mechanical} mechanical (--write applies them), {todo} to-do for a person; not reported: {deliberate} deliberate difference(s) recorded in the spec, {} page(s) left out in SOURCE.toml",
                mechanical + todo,
                self.not_covered
            );
        }
        out
    }
}
