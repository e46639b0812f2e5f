//! `docs-sync` against the fixture pages in `tests/docs_sync/` (see its README).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use xtask::docs_sync::{run, Options};
use xtask::model::Spec;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/docs_sync")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn options(spec_dir: PathBuf, docs: PathBuf) -> Options {
    Options {
        spec_dir,
        docs,
        since: None,
        write: false,
    }
}

#[test]
fn report_matches_the_golden_file() {
    let outcome = run(&options(fixtures().join("spec"), fixtures().join("docs"))).unwrap();
    let expected = std::fs::read_to_string(fixtures().join("expected-report.txt")).unwrap();
    let actual = outcome.report.render();
    assert_eq!(actual, expected, "actual report:\n{actual}");
    assert!(outcome.report.differs());
    assert!(outcome.written.is_empty());
}

#[test]
fn write_applies_the_mechanical_changes_only() {
    let temp = tempfile::tempdir().unwrap();
    let spec_dir = temp.path().join("spec");
    copy_dir(&fixtures().join("spec"), &spec_dir);
    let mut write = options(spec_dir.clone(), fixtures().join("docs"));
    write.write = true;
    let outcome = run(&write).unwrap();
    assert_eq!(
        outcome.written,
        vec![
            "spec/methods/fixture.echo.json: 3 edit(s)".to_owned(),
            "spec/SOURCE.toml: commit = \"1111111111111111111111111111111111111111\"".to_owned(),
        ]
    );

    // The edited file still loads, with the documented example and the new code.
    let spec = Spec::load(&spec_dir).unwrap();
    let method = &spec.methods[0].item;
    let codes: Vec<&str> = method.errors.iter().map(|e| e.code.as_str()).collect();
    assert_eq!(codes, ["WRONG_AUTH_TYPE", "ECHO_TOO_LONG"]);
    assert_eq!(method.errors[1].http_status, 400);
    assert_eq!(
        method.examples[0].response,
        Some(serde_json::json!({"result": {"LINE": 4, "TEXT": "hi"}}))
    );
    assert_eq!(
        method.examples[1].error,
        Some(
            serde_json::json!({"error": "ECHO_TOO_LONG", "error_description": "Text is over 10 characters"})
        )
    );
    assert_eq!(method.examples[1].http_status, Some(400));
    // Only the edited values moved: the request line is as it was written.
    let text = std::fs::read_to_string(spec_dir.join("methods/fixture.echo.json")).unwrap();
    assert!(text.contains(r#""request": {"CONNECTOR": "echoer", "LINE": 3, "TEXT": "hi"},"#));
    let source = std::fs::read_to_string(spec_dir.join("SOURCE.toml")).unwrap();
    assert!(source.starts_with("# The fixture docs"), "{source}");
    assert!(source.contains("commit = \"1111111111111111111111111111111111111111\""));

    // A second run finds only what needs a person.
    let again = run(&options(spec_dir, fixtures().join("docs"))).unwrap();
    let report = again.report.render();
    assert!(!report.contains("[--write]"), "{report}");
    assert!(report.contains("param_required TEXT"), "{report}");
    assert!(report.contains("7 difference(s): 0 mechanical"), "{report}");
    assert!(source.contains("[not_covered]"), "{source}");
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=docs-sync-test",
            "-c",
            "user.email=test@docs-sync.invalid",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(status.status.success(), "git {args:?}: {status:?}");
}

#[test]
fn since_limits_the_report_to_changed_pages() {
    let temp = tempfile::tempdir().unwrap();
    let docs = temp.path().join("docs");
    copy_dir(&fixtures().join("docs"), &docs);
    git(&docs, &["init", "-q"]);
    git(&docs, &["add", "."]);
    git(&docs, &["commit", "-qm", "docs"]);

    // Nothing changed since HEAD: nothing to report.
    let mut since = options(fixtures().join("spec"), docs.clone());
    since.since = Some("HEAD".to_owned());
    let quiet = run(&since).unwrap();
    assert!(!quiet.report.differs(), "{}", quiet.report.render());
    assert!(quiet.report.render().contains("no drift: 0 page(s)"));

    // Edit the event page: only its event is compared.
    let page = docs.join("api-reference/imopenlines/imconnector/events/on-fixture-echo.md");
    let text = std::fs::read_to_string(&page).unwrap();
    std::fs::write(
        &page,
        text.replace("\"TEXT\": \"hi\"", "\"TEXT\": \"hello\""),
    )
    .unwrap();
    let outcome = run(&since).unwrap();
    let report = outcome.report.render();
    assert_eq!(outcome.report.items.len(), 1, "{report}");
    assert!(
        report.contains("example_changed event: page line 7 differs from examples[0].json: data.TEXT: \"hi\" → \"hello\"  [--write]"),
        "{report}"
    );
    assert!(!report.contains("fixture.echo"), "{report}");
    assert!(!report.contains("on-fixture-forget"), "{report}");

    // A commit the checkout does not have is an error, not an empty report.
    since.since = Some("0123456789abcdef0123456789abcdef01234567".to_owned());
    let errors = run(&since).unwrap_err();
    assert!(errors[0].contains("git diff --name-only"), "{errors:?}");
}

#[test]
fn a_spec_that_does_not_load_is_an_error_naming_the_file() {
    let temp = tempfile::tempdir().unwrap();
    let spec_dir = temp.path().join("spec");
    copy_dir(&fixtures().join("spec"), &spec_dir);
    std::fs::write(spec_dir.join("methods/fixture.echo.json"), "{ not json").unwrap();
    let errors = run(&options(spec_dir, fixtures().join("docs"))).unwrap_err();
    assert!(
        errors[0].starts_with("spec/methods/fixture.echo.json: not JSON"),
        "{errors:?}"
    );
}

#[test]
fn pages_left_out_in_source_toml_are_not_listed() {
    let temp = tempfile::tempdir().unwrap();
    let spec_dir = temp.path().join("spec");
    copy_dir(&fixtures().join("spec"), &spec_dir);
    let source = spec_dir.join("SOURCE.toml");
    let text = std::fs::read_to_string(&source).unwrap();
    let left_out = text.replace("events/on-fixture-echo.md", "events/on-fixture-forget.md");
    std::fs::write(&source, &left_out).unwrap();
    let outcome = run(&options(spec_dir.clone(), fixtures().join("docs"))).unwrap();
    assert!(outcome.report.uncovered.is_empty());
    assert!(outcome.report.stale_not_covered.is_empty());
    assert_eq!(outcome.report.not_covered, 1);

    // An entry needs its reason.
    let reasonless = left_out.replace(
        "= \"Left out once; the spec covers it now, so this entry is obsolete.\"",
        "= \"\"",
    );
    assert_ne!(reasonless, left_out);
    std::fs::write(&source, reasonless).unwrap();
    let errors = run(&options(spec_dir, fixtures().join("docs"))).unwrap_err();
    assert!(errors[0].contains("needs a reason"), "{errors:?}");
}
