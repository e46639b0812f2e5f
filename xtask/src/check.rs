//! Writing the rendered files, or comparing them with what is on disk (`--check`).

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::render::Rendered;

/// How the generated directory differs from a fresh rendering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drift {
    /// On disk with different contents.
    pub stale: Vec<String>,
    /// Rendered but not on disk.
    pub missing: Vec<String>,
    /// On disk but not rendered (a stray file, or one whose spec file is gone).
    pub orphan: Vec<String>,
}

impl Drift {
    /// Nothing differs.
    pub fn is_empty(&self) -> bool {
        self.stale.is_empty() && self.missing.is_empty() && self.orphan.is_empty()
    }
}

impl Drift {
    /// One line per file, `stale: <prefix>/<path>`, and so on.
    pub fn report(&self, prefix: &str) -> String {
        let mut text = String::new();
        for (label, files) in [
            ("stale", &self.stale),
            ("missing", &self.missing),
            ("orphan", &self.orphan),
        ] {
            for file in files {
                text.push_str(&format!("{label}: {prefix}{file}\n"));
            }
        }
        text
    }
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.report(""))
    }
}

/// Every file under `dir`, as paths relative to it with `/` separators, sorted.
fn files_on_disk(dir: &Path) -> io::Result<BTreeSet<String>> {
    let mut found = BTreeSet::new();
    if !dir.exists() {
        return Ok(found);
    }
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        for entry in std::fs::read_dir(dir.join(&relative))? {
            let entry = entry?;
            let relative = relative.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                pending.push(relative);
            } else {
                let parts: Vec<String> = relative
                    .components()
                    .map(|part| part.as_os_str().to_string_lossy().into_owned())
                    .collect();
                found.insert(parts.join("/"));
            }
        }
    }
    Ok(found)
}

/// Compares `rendered` with the files under `dir` without writing anything.
///
/// # Errors
/// When `dir` cannot be read.
pub fn compare(rendered: &Rendered, dir: &Path) -> io::Result<Drift> {
    let on_disk = files_on_disk(dir)?;
    let mut drift = Drift::default();
    for (path, contents) in rendered {
        if on_disk.contains(path) {
            // A file that is not UTF-8 is stale too.
            let current = std::fs::read(dir.join(path))?;
            if current != contents.as_bytes() {
                drift.stale.push(path.clone());
            }
        } else {
            drift.missing.push(path.clone());
        }
    }
    drift.orphan = on_disk
        .into_iter()
        .filter(|path| !rendered.contains_key(path))
        .collect();
    Ok(drift)
}

/// Makes `dir` match `rendered`: writes stale and missing files, deletes orphans and empty
/// directories. Returns what changed.
///
/// # Errors
/// When a file cannot be read, written or removed.
pub fn write(rendered: &Rendered, dir: &Path) -> io::Result<Drift> {
    let drift = compare(rendered, dir)?;
    for path in drift.stale.iter().chain(&drift.missing) {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(target, &rendered[path])?;
    }
    for path in &drift.orphan {
        std::fs::remove_file(dir.join(path))?;
    }
    remove_empty_dirs(dir)?;
    Ok(drift)
}

fn remove_empty_dirs(dir: &Path) -> io::Result<bool> {
    let mut empty = true;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() && remove_empty_dirs(&entry.path())? {
            std::fs::remove_dir(entry.path())?;
        } else {
            empty = false;
        }
    }
    Ok(empty)
}
