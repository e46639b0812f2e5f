#![allow(clippy::unwrap_used)]
//! The generator against the real spec (no drift, lint clean), against a tiny golden spec
//! (exact expected output), and against broken specs (each problem is reported).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use xtask::{check, lint_spec, lint_workspace, render_spec, render_workspace, workspace_root};

fn golden_spec() -> PathBuf {
    workspace_root().join("xtask/tests/golden/spec")
}

/// A scratch directory unique to this test process and `name`, empty.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn generated_code_matches_the_spec() {
    let root = workspace_root();
    let outputs = render_workspace(&root.join("spec")).unwrap_or_else(|problems| {
        panic!(
            "the spec does not render:\n{}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    let dirs: Vec<&str> = outputs.iter().map(|(dir, _)| *dir).collect();
    assert_eq!(
        dirs,
        [
            "crates/imconnector-api/src/generated",
            "crates/imconnector-transport/src/generated"
        ]
    );
    for (dir, rendered) in &outputs {
        let drift = check::compare(rendered, &root.join(dir)).unwrap();
        assert!(
            drift.is_empty(),
            "{dir} is out of date; run `cargo xtask codegen`:\n{drift}"
        );
    }
}

#[test]
fn the_spec_passes_lint() {
    // Also checks every method's error codes against spec/errors.json.
    let (errors, _warnings) = lint_workspace(&workspace_root()).unwrap_or_else(|problems| {
        panic!(
            "{}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    assert!(
        errors.is_empty(),
        "{}",
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn lint_reports_a_method_error_code_missing_from_errors_json_and_a_status_that_differs() {
    let root = scratch("errors-json");
    copy_dir(&workspace_root().join("spec"), &root.join("spec"));
    let path = root.join("spec/methods/imconnector.register.json");
    let mut method: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let errors = method["errors"].as_array_mut().unwrap();
    errors[0]["http_status"] = json!(418);
    let first = errors[0]["code"].as_str().unwrap().to_owned();
    errors.push(json!({"code": "BRAND_NEW_CODE", "http_status": 400, "description": "New."}));
    std::fs::write(&path, serde_json::to_string_pretty(&method).unwrap()).unwrap();

    let (errors, warnings) = lint_workspace(&root).unwrap();
    std::fs::remove_dir_all(&root).unwrap();
    let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let warnings: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert!(
        errors
            .iter()
            .any(|error| error.contains("error code `BRAND_NEW_CODE` is not in spec/errors.json")),
        "{errors:?}"
    );
    assert!(
        warnings.iter().any(|warning| warning.contains(&format!(
            "error code `{first}` is documented with HTTP 418, spec/errors.json says"
        ))),
        "{warnings:?}"
    );
}

#[test]
fn codegen_refuses_a_spec_whose_errors_json_lists_a_code_twice() {
    let root = scratch("errors-json-twice");
    copy_dir(&workspace_root().join("spec"), &root);
    let path = root.join("errors.json");
    let mut file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let codes = file["groups"][0]["codes"].as_array_mut().unwrap();
    let mut twin = codes[0].clone();
    twin["variant"] = json!("SomethingElse");
    codes.push(twin);
    std::fs::write(&path, serde_json::to_string_pretty(&file).unwrap()).unwrap();

    let problems = render_workspace(&root).unwrap_err();
    std::fs::remove_dir_all(&root).unwrap();
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        text.iter().any(|problem| problem
            .starts_with("spec/errors.json: `INTERNAL_SERVER_ERROR`: listed twice")),
        "{text:?}"
    );
}

/// Set `UPDATE_GOLDEN=1` to rewrite the expected files after an intended generator change. The
/// expected files are also compiled, and their example tests run, by `cargo test -p xtask-golden`
/// (`xtask/golden-compile/`).
#[test]
fn golden_spec_renders_to_the_expected_files() {
    let rendered = render_spec(&golden_spec()).unwrap();
    let expected = workspace_root().join("xtask/tests/golden/expected");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        check::write(&rendered, &expected).unwrap();
    }
    let drift = check::compare(&rendered, &expected).unwrap();
    assert!(
        drift.is_empty(),
        "golden output differs (UPDATE_GOLDEN=1 rewrites it):\n{drift}"
    );
    // Every file names its source and says not to edit it.
    for (path, text) in &rendered {
        assert!(
            text.starts_with("// @generated by `cargo xtask codegen` from spec/"),
            "{path}"
        );
        assert!(text.contains("Do not edit"), "{path}");
    }
}

#[test]
fn rendering_is_deterministic() {
    assert_eq!(
        render_spec(&golden_spec()).unwrap(),
        render_spec(&golden_spec()).unwrap()
    );
}

#[test]
fn check_reports_stale_missing_and_orphan_files_and_write_repairs_them() {
    let rendered = render_spec(&golden_spec()).unwrap();
    let dir = scratch("drift");
    assert_eq!(
        check::write(&rendered, &dir).unwrap().missing.len(),
        rendered.len()
    );
    assert!(check::compare(&rendered, &dir).unwrap().is_empty());

    let stale = dir.join("methods/widget_set.rs");
    let text = std::fs::read_to_string(&stale).unwrap();
    std::fs::write(&stale, text.replacen("WidgetSet", "WidgetSeT", 1)).unwrap();
    std::fs::remove_file(dir.join("types/widgets.rs")).unwrap();
    std::fs::create_dir_all(dir.join("stray")).unwrap();
    std::fs::write(dir.join("stray/notes.txt"), "hand-written").unwrap();

    let drift = check::compare(&rendered, &dir).unwrap();
    assert_eq!(drift.stale, ["methods/widget_set.rs"]);
    assert_eq!(drift.missing, ["types/widgets.rs"]);
    assert_eq!(drift.orphan, ["stray/notes.txt"]);
    let report = drift.to_string();
    assert!(
        report.contains("stale: methods/widget_set.rs")
            && report.contains("orphan: stray/notes.txt")
    );

    check::write(&rendered, &dir).unwrap();
    assert!(check::compare(&rendered, &dir).unwrap().is_empty());
    assert!(!dir.join("stray").exists(), "empty directories are removed");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Copies the golden spec (with the real schema), applies `edit` to one file, and returns
/// every lint error as text.
fn lint_after(name: &str, file: &str, edit: impl FnOnce(&mut Value)) -> String {
    let dir = scratch(name);
    copy_dir(&golden_spec(), &dir);
    std::fs::copy(
        workspace_root().join("spec/schema.json"),
        dir.join("schema.json"),
    )
    .unwrap();
    let path = dir.join(file);
    let mut value: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut value);
    std::fs::write(&path, serde_json::to_string_pretty(&value).unwrap()).unwrap();
    let problems = match lint_spec(&dir) {
        Ok((errors, _)) => errors,
        Err(problems) => problems,
    };
    std::fs::remove_dir_all(&dir).unwrap();
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

const METHOD: &str = "methods/demo.widget.set.json";
const TYPES: &str = "types/widgets.json";

#[test]
fn the_golden_spec_is_lint_clean() {
    assert_eq!(lint_after("clean", METHOD, |_| {}), "");
}

#[test]
fn lint_reports_unknown_types() {
    let errors = lint_after("unknown-type", METHOD, |method| {
        method["params"][4]["type"] = json!("list<Wdget>")
    });
    assert!(
        errors.contains("demo.widget.set.NAME: unknown type `Wdget`"),
        "{errors}"
    );
}

#[test]
fn lint_reports_unknown_keys_through_the_model_and_the_schema() {
    let errors = lint_after("unknown-key", METHOD, |method| {
        method["params"][0]["colour"] = json!(1)
    });
    assert!(errors.contains("unknown field `colour`"), "{errors}");
}

#[test]
fn lint_reports_what_only_the_schema_knows() {
    let errors = lint_after("schema-only", "events/OnDemoWidget.json", |event| {
        event["docs_url"] = json!("http://example.com/insecure");
    });
    assert!(errors.contains("schema: at `/docs_url`"), "{errors}");
}

#[test]
fn lint_reports_required_parameters_after_optional_ones() {
    let errors = lint_after("order", METHOD, |method| {
        method["params"][5]["required"] = json!(true)
    });
    assert!(
        errors.contains("TAGS: required parameters must come before optional ones"),
        "{errors}"
    );
}

#[test]
fn lint_reports_a_method_without_a_request_and_response_example() {
    let errors = lint_after("examples", METHOD, |method| {
        method["examples"][0]
            .as_object_mut()
            .unwrap()
            .remove("response");
    });
    assert!(
        errors.contains("needs at least one example with both `request` and `response`"),
        "{errors}"
    );
}

#[test]
fn lint_reports_duplicate_type_names() {
    let errors = lint_after("duplicate", TYPES, |types| {
        let copy = types["types"][0].clone();
        types["types"].as_array_mut().unwrap().push(copy);
    });
    assert!(
        errors.contains("type name `Widget` is also defined by spec/types/widgets.json"),
        "{errors}"
    );
}

#[test]
fn lint_reports_example_keys_and_codes_the_method_does_not_declare() {
    let errors = lint_after("example-keys", METHOD, |method| {
        method["examples"][0]["request"]["COLOUR"] = json!("red");
        method["examples"][1]["error"]["error"] = json!("NOT_LISTED");
    });
    assert!(
        errors.contains("examples[0].request: `COLOUR` is not a parameter"),
        "{errors}"
    );
    assert!(
        errors.contains("examples[1].error: code `NOT_LISTED` is not listed in `errors`"),
        "{errors}"
    );
}

#[test]
fn lint_reports_unknown_checks_and_soft_error_readers() {
    let errors = lint_after("checks", METHOD, |method| {
        method["validate"] = json!(["messages_everywhere"]);
        method["response"]["soft_error"] = json!("SuccessFlag");
    });
    assert!(
        errors.contains("unknown check `messages_everywhere`"),
        "{errors}"
    );
    assert!(
        errors.contains("response.soft_error: unknown reader `SuccessFlag`"),
        "{errors}"
    );
}

#[test]
fn lint_reports_response_types_used_in_requests() {
    let errors = lint_after("sides", METHOD, |method| {
        method["params"][4]["type"] = json!("WidgetResult")
    });
    assert!(
        errors.contains("`WidgetResult` (usage Response) cannot be used in a request"),
        "{errors}"
    );
}

#[test]
fn a_malformed_type_expression_names_the_file_and_the_key() {
    let message = lint_after("malformed-type", "types/widgets.json", |spec| {
        spec["types"][0]["fields"][0]["type"] = Value::String("list<".to_owned());
    });
    assert!(message.contains("spec/types/widgets.json"), "{message}");
    assert!(message.contains("types[0].fields[0].type"), "{message}");
}
