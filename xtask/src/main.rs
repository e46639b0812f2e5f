//! `cargo xtask`: maintainer tasks (see `xtask --help`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xtask::{check, docs_sync, lint_workspace, model::Problem, render_workspace, workspace_root};

#[derive(Parser)]
#[command(about = "Maintainer tasks of imconnector-rs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes crates/imconnector-api/src/generated/ and the transport's ErrorCode
    /// (crates/imconnector-transport/src/generated/) from spec/.
    Codegen {
        /// Writes nothing; fails listing stale, missing and orphan files.
        #[arg(long)]
        check: bool,
        /// Reads the spec from this directory instead of the workspace's spec/.
        #[arg(long, value_name = "DIR")]
        spec: Option<std::path::PathBuf>,
    },
    /// Validates spec/ against spec/schema.json and the generator's model, and every method's
    /// error codes against spec/errors.json.
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
    let outputs = match render_workspace(&spec_dir.unwrap_or_else(|| root.join("spec"))) {
        Ok(outputs) => outputs,
        Err(problems) => {
            print_problems(&problems);
            eprintln!(
                "codegen: the spec has {} problem(s); run `cargo xtask spec-lint`",
                problems.len()
            );
            return ExitCode::FAILURE;
        }
    };
    let files: usize = outputs.iter().map(|(_, rendered)| rendered.len()).sum();
    let mut changed = 0;
    let mut failed = false;
    for (generated_dir, rendered) in &outputs {
        let dir = root.join(generated_dir);
        let prefix = format!("{generated_dir}/");
        let outcome = if check_only {
            check::compare(rendered, &dir)
        } else {
            check::write(rendered, &dir)
        };
        match outcome {
            Ok(drift) => {
                if check_only {
                    eprint!("{}", drift.report(&prefix));
                    failed |= !drift.is_empty();
                } else {
                    print!("{}", drift.report(&prefix));
                }
                changed += drift.stale.len() + drift.missing.len() + drift.orphan.len();
            }
            Err(error) => {
                eprintln!("codegen: cannot read or write {}: {error}", dir.display());
                return ExitCode::FAILURE;
            }
        }
    }
    if !check_only {
        println!("codegen: {files} files, {changed} changed");
        ExitCode::SUCCESS
    } else if failed {
        eprintln!("codegen --check: generated code differs from spec/; run `cargo xtask codegen`");
        ExitCode::FAILURE
    } else {
        println!("codegen --check: {files} generated files are up to date");
        ExitCode::SUCCESS
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
