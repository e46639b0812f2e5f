//! `cargo xtask docs-sync`: what changed in the upstream docs (`bitrix24/b24restdocs`) since the
//! spec was synced.
//!
//! For every method and event with a `docs_url`, the page is read ([`page`], [`extract`]) and
//! compared with the spec file ([`compare`], [`examples`]); differences the spec records under
//! `docs_differences` are not reported. [`report`] prints the rest, [`write`](mod@write) applies the
//! mechanical ones.

pub mod compare;
pub mod examples;
pub mod extract;
pub mod json_text;
pub mod page;
pub mod report;
pub mod write;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::model::{DocsDifference, DriftKind, Spec};
use report::{Finding, Fix, ItemReport, Report};

/// Prefix of every docs URL that maps to a page of the docs repository.
const DOCS_SITE: &str = "https://apidocs.bitrix24.com/";

/// Folders whose pages should all be covered by a spec file (method pages and event pages).
pub const WATCHED_FOLDERS: &[&str] = &[
    "api-reference/imopenlines/imconnector",
    "api-reference/imopenlines/imconnector/events",
    "api-reference/imopenlines/openlines/events",
];

/// Pages in [`WATCHED_FOLDERS`] that describe no method or event.
const NOT_REFERENCE_PAGES: &[&str] = &["index.md", "standard-method-info.md", "tutorials.md"];

/// What to compare and whether to write.
#[derive(Debug, Clone)]
pub struct Options {
    /// The spec directory (`spec/`).
    pub spec_dir: PathBuf,
    /// A checkout (or copy) of `bitrix24/b24restdocs`.
    pub docs: PathBuf,
    /// Only pages changed since this commit (needs a git checkout).
    pub since: Option<String>,
    /// Apply the mechanical edits.
    pub write: bool,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// What differs.
    pub report: Report,
    /// What `--write` changed, one line per file.
    pub written: Vec<String>,
}

/// The page a docs URL points at (`.../imconnector-status.html` →
/// `api-reference/.../imconnector-status.md`); `None` for other sites.
pub fn page_path(docs_url: &str) -> Option<String> {
    let path = docs_url.strip_prefix(DOCS_SITE)?;
    let path = path.split('#').next().unwrap_or(path);
    Some(format!("{}.md", path.strip_suffix(".html").unwrap_or(path)))
}

/// Compares the spec with the docs and, with `write`, applies the mechanical edits.
///
/// # Errors
/// Every reason the comparison cannot run: an unloadable spec, an unreadable `SOURCE.toml`, a
/// failing `git`, a file that cannot be written.
pub fn run(options: &Options) -> Result<Outcome, Vec<String>> {
    let spec = Spec::load(&options.spec_dir)
        .map_err(|problems| problems.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    let source_path = options.spec_dir.join("SOURCE.toml");
    let source_text = read(&source_path).map_err(|error| vec![error])?;
    let synced_commit = synced_commit(&source_text)
        .map_err(|error| vec![format!("{}: {error}", source_path.display())])?;
    let changed = match &options.since {
        Some(since) => Some(changed_pages(&options.docs, since).map_err(|error| vec![error])?),
        None => None,
    };
    let wanted = |page: &str| changed.as_ref().is_none_or(|set| set.contains(page));

    let mut report = Report {
        synced_commit,
        docs_commit: docs_commit(&options.docs),
        since: options.since.clone(),
        ..Report::default()
    };
    let mut covered = BTreeSet::new();
    let mut errors = Vec::new();
    for loaded in &spec.methods {
        let method = &loaded.item;
        let Some(page) = method.docs_url.as_deref().and_then(page_path) else {
            continue;
        };
        covered.insert(page.clone());
        if !method.documented || !wanted(&page) {
            continue;
        }
        let item = compare_page(options, &page, &loaded.display_path, &method.name, |doc| {
            compare::method(&spec, method, doc)
        });
        match item {
            Ok(item) => report
                .items
                .push(apply_deliberate(item, &method.docs_differences)),
            Err(error) => errors.push(error),
        }
    }
    for loaded in &spec.events {
        let event = &loaded.item;
        let Some(page) = event.docs_url.as_deref().and_then(page_path) else {
            continue;
        };
        covered.insert(page.clone());
        if !wanted(&page) {
            continue;
        }
        let item = compare_page(options, &page, &loaded.display_path, &event.name, |doc| {
            compare::event(&spec, event, doc)
        });
        match item {
            Ok(item) => report
                .items
                .push(apply_deliberate(item, &event.docs_differences)),
            Err(error) => errors.push(error),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let not_covered = not_covered(&source_text)
        .map_err(|error| vec![format!("{}: {error}", source_path.display())])?;
    for page in uncovered(&options.docs, &covered) {
        if !wanted(&page) {
            continue;
        }
        if not_covered.contains_key(&page) {
            report.not_covered += 1;
        } else {
            report.uncovered.push(page);
        }
    }
    // An acknowledged page that a spec file covers now, or that is gone from a folder the
    // checkout has, makes the entry obsolete.
    report.stale_not_covered = not_covered
        .keys()
        .filter(|page| wanted(page))
        .filter(|page| {
            let folder_present = Path::new(page.as_str())
                .parent()
                .is_some_and(|folder| options.docs.join(folder).is_dir());
            covered.contains(*page) || (folder_present && !options.docs.join(page).is_file())
        })
        .cloned()
        .collect();

    let mut written = Vec::new();
    if options.write {
        written = write_fixes(options, &report).map_err(|error| vec![error])?;
        if let Some(commit) = &report.docs_commit {
            if *commit != report.synced_commit {
                let updated = write::set_commit(&source_text, commit)
                    .map_err(|error| vec![format!("{}: {error}", source_path.display())])?;
                std::fs::write(&source_path, updated).map_err(|error| {
                    vec![format!("cannot write {}: {error}", source_path.display())]
                })?;
                written.push(format!("spec/SOURCE.toml: commit = \"{commit}\""));
            }
        }
    }
    Ok(Outcome { report, written })
}

/// Reads and compares one page; a missing page is a finding, not an error.
fn compare_page(
    options: &Options,
    page: &str,
    spec_file: &str,
    name: &str,
    compare: impl FnOnce(&extract::DocPage) -> Vec<Finding>,
) -> Result<ItemReport, String> {
    let mut item = ItemReport {
        name: name.to_owned(),
        spec_file: spec_file.to_owned(),
        page: page.to_owned(),
        ..ItemReport::default()
    };
    let path = options.docs.join(page);
    if !path.is_file() {
        item.page_missing = true;
        return Ok(item);
    }
    let text = read(&path)?;
    let doc = extract::extract(page::parse(&text));
    item.findings = compare(&doc);
    Ok(item)
}

/// Drops the findings the spec records as deliberate; keeps the recorded names that matched
/// nothing (the page agrees with the spec now, so that part of the record is obsolete).
fn apply_deliberate(mut item: ItemReport, records: &[DocsDifference]) -> ItemReport {
    let mut matched: BTreeSet<(DriftKind, &str)> = BTreeSet::new();
    let before = item.findings.len();
    item.findings.retain(|finding| {
        let record = records
            .iter()
            .find(|record| finding.kind == record.finding && record.names.contains(&finding.name));
        if let Some(record) = record {
            if let Some(name) = record.names.iter().find(|name| **name == finding.name) {
                matched.insert((record.finding, name.as_str()));
            }
        }
        record.is_none()
    });
    item.deliberate = before - item.findings.len();
    if !item.page_missing {
        item.stale = records
            .iter()
            .flat_map(|record| record.names.iter().map(move |name| (record.finding, name)))
            .filter(|(kind, name)| !matched.contains(&(*kind, name.as_str())))
            .map(|(kind, name)| (kind, name.clone()))
            .collect();
    }
    item
}

/// Applies every mechanical fix, file by file.
fn write_fixes(options: &Options, report: &Report) -> Result<Vec<String>, String> {
    let mut by_file: BTreeMap<&str, Vec<&Fix>> = BTreeMap::new();
    for item in &report.items {
        for fix in item
            .findings
            .iter()
            .filter_map(|finding| finding.fix.as_ref())
        {
            by_file
                .entry(item.spec_file.as_str())
                .or_default()
                .push(fix);
        }
    }
    let mut written = Vec::new();
    for (file, fixes) in by_file {
        // Display paths are `spec/<kind>/<file>`; the spec dir may live anywhere.
        let relative = file.strip_prefix("spec/").unwrap_or(file);
        let path = options.spec_dir.join(relative);
        let text = read(&path)?;
        let updated =
            write::apply(&text, &fixes).map_err(|error| format!("{}: {error}", path.display()))?;
        std::fs::write(&path, updated)
            .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
        written.push(format!("{file}: {} edit(s)", fixes.len()));
    }
    Ok(written)
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))
}

/// `[docs] commit` of `SOURCE.toml`.
fn synced_commit(text: &str) -> Result<String, String> {
    let document: toml_edit::DocumentMut =
        text.parse().map_err(|error| format!("not TOML: {error}"))?;
    document
        .get("docs")
        .and_then(|docs| docs.get("commit"))
        .and_then(toml_edit::Item::as_str)
        .map(str::to_owned)
        .ok_or_else(|| "no `commit` string in [docs]".to_owned())
}

/// `[not_covered]` of `SOURCE.toml`: pages of the watched folders the spec leaves out on
/// purpose, each with its reason.
fn not_covered(text: &str) -> Result<BTreeMap<String, String>, String> {
    let document: toml_edit::DocumentMut =
        text.parse().map_err(|error| format!("not TOML: {error}"))?;
    let Some(table) = document.get("not_covered") else {
        return Ok(BTreeMap::new());
    };
    let table = table
        .as_table_like()
        .ok_or("[not_covered] is not a table")?;
    table
        .iter()
        .map(|(page, reason)| {
            reason
                .as_str()
                .filter(|reason| !reason.trim().is_empty())
                .map(|reason| (page.to_owned(), reason.to_owned()))
                .ok_or_else(|| format!("[not_covered] \"{page}\" needs a reason (a string)"))
        })
        .collect()
}

/// The commit of the docs: `git rev-parse HEAD` in a checkout, else a `COMMIT` file (the partial
/// copy in shared/reference carries one).
fn docs_commit(docs: &Path) -> Option<String> {
    // Only the checkout's own `.git` (a directory, or a file for a worktree): a copy of the pages
    // inside some other repository must not report that repository's commit.
    let is_checkout = docs.join(".git").exists();
    let from_git = is_checkout
        .then(|| {
            Command::new("git")
                .arg("-C")
                .arg(docs)
                .args(["rev-parse", "HEAD"])
                .output()
                .ok()
                .filter(|output| output.status.success())
                .and_then(|output| String::from_utf8(output.stdout).ok())
        })
        .flatten();
    from_git
        .or_else(|| std::fs::read_to_string(docs.join("COMMIT")).ok())
        .map(|text| text.trim().to_owned())
        .filter(|commit| !commit.is_empty())
}

/// Pages changed since `since`, working-tree edits included (`git diff --name-only <since>`).
fn changed_pages(docs: &Path, since: &str) -> Result<BTreeSet<String>, String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(docs)
        // `--relative`: paths from the docs directory, even if it is not the repository root.
        .args(["diff", "--name-only", "--relative", since, "--"])
        .output()
        .map_err(|error| format!("cannot run git: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "git diff --name-only {since} in {} failed: {}",
            docs.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

/// Pages of the watched folders that no spec file's `docs_url` names. A folder the checkout
/// does not have is skipped (a partial copy need not carry it).
fn uncovered(docs: &Path, covered: &BTreeSet<String>) -> Vec<String> {
    let mut pages = Vec::new();
    for folder in WATCHED_FOLDERS {
        let Ok(entries) = std::fs::read_dir(docs.join(folder)) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.path().is_file())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".md") && !NOT_REFERENCE_PAGES.contains(&name.as_str()))
            .collect();
        names.sort();
        pages.extend(
            names
                .into_iter()
                .map(|name| format!("{folder}/{name}"))
                .filter(|page| !covered.contains(page)),
        );
    }
    pages
}
