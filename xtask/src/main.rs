//! `cargo xtask`: maintainer tasks (see `xtask --help`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xtask::{
    check, docs_sync, lint_workspace, model::Problem, render, render_spec, workspace_root,
};

#[derive(Parser)]
#[command(about = "Maintainer tasks of imconnector-rs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes crates/imconnector-api/src/generated/ from spec/.
    Codegen {
        /// Writes nothing; fails listing stale, missing and orphan files.
        #[arg(long)]
        check: bool,
        /// Reads the spec from this directory instead of the workspace's spec/.
        #[arg(long, value_name = "DIR")]
        spec: Option<std::path::PathBuf>,
    },
    /// Validates spec/ against spec/schema.json and the generator's model, and the spec's error
    /// codes against the transport's ErrorCode::KNOWN and its tests' reference table.
    SpecLint,
    /// Compares spec/ with a checkout of bitrix24/b24restdocs; exits 1 when anything differs.
    DocsSync {
        /// The docs checkout (or a copy of its pages).
        #[arg(long, value_name = "DIR")]
        docs: std::path::PathBuf,
        /// Applies the mechanical changes: documented examples, new error codes, the commit in
        /// spec/SOURCE.toml. The rest is printed as a to-do.
        #[arg(long)]
        write: bool,
        /// Only pages changed since this commit (`git diff --name-only`; needs a git checkout).
        #[arg(long, value_name = "COMMIT")]
        since: Option<String>,
        /// Reads the spec from this directory instead of the workspace's spec/.
        #[arg(long, value_name = "DIR")]
        spec: Option<std::path::PathBuf>,
    },
}

fn print_problems(problems: &[Problem]) {
    for problem in problems {
        eprintln!("error: {problem}");
    }
}

fn codegen(check_only: bool, spec_dir: Option<std::path::PathBuf>) -> ExitCode {
    let root = workspace_root();
    let rendered = match render_spec(&spec_dir.unwrap_or_else(|| root.join("spec"))) {
        Ok(rendered) => rendered,
        Err(problems) => {
            print_problems(&problems);
            eprintln!(
                "codegen: the spec has {} problem(s); run `cargo xtask spec-lint`",
                problems.len()
            );
            return ExitCode::FAILURE;
        }
    };
    let dir = root.join(render::GENERATED_DIR);
    if check_only {
        match check::compare(&rendered, &dir) {
            Ok(drift) if drift.is_empty() => {
                println!(
                    "codegen --check: {} generated files are up to date",
                    rendered.len()
                );
                ExitCode::SUCCESS
            }
            Ok(drift) => {
                eprint!("{}", drift.report(&format!("{}/", render::GENERATED_DIR)));
                eprintln!(
                    "codegen --check: generated code differs from spec/; run `cargo xtask codegen`"
                );
                ExitCode::FAILURE
            }
            Err(error) => {
                eprintln!("codegen --check: cannot read {}: {error}", dir.display());
                ExitCode::FAILURE
            }
        }
    } else {
        match check::write(&rendered, &dir) {
            Ok(drift) => {
                print!("{}", drift.report(&format!("{}/", render::GENERATED_DIR)));
                println!(
                    "codegen: {} files, {} changed",
                    rendered.len(),
                    drift.stale.len() + drift.missing.len() + drift.orphan.len()
                );
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("codegen: cannot write {}: {error}", dir.display());
                ExitCode::FAILURE
            }
        }
    }
}

fn spec_lint() -> ExitCode {
    match lint_workspace(&workspace_root()) {
        Ok((errors, warnings)) => {
            for warning in &warnings {
                eprintln!("warning: {warning}");
            }
            print_problems(&errors);
            if errors.is_empty() {
                println!("spec-lint: ok");
                ExitCode::SUCCESS
            } else {
                eprintln!("spec-lint: {} error(s)", errors.len());
                ExitCode::FAILURE
            }
        }
        Err(problems) => {
            print_problems(&problems);
            ExitCode::FAILURE
        }
    }
}

fn docs_sync(options: &docs_sync::Options) -> ExitCode {
    match docs_sync::run(options) {
        Ok(outcome) => {
            print!("{}", outcome.report.render());
            for line in &outcome.written {
                println!("wrote {line}");
            }
            if outcome.report.differs() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(errors) => {
            for error in &errors {
                eprintln!("error: {error}");
            }
            // 2, so a scheduled job can tell "cannot compare" from "differs".
            ExitCode::from(2)
        }
    }
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Codegen { check, spec } => codegen(check, spec),
        Command::SpecLint => spec_lint(),
        Command::DocsSync {
            docs,
            write,
            since,
            spec,
        } => docs_sync(&docs_sync::Options {
            spec_dir: spec.unwrap_or_else(|| workspace_root().join("spec")),
            docs,
            since,
            write,
        }),
    }
}
