//! `cargo xtask`: maintainer tasks (see `xtask --help`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xtask::{check, lint_workspace, model::Problem, render, render_spec, workspace_root};

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

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Codegen { check, spec } => codegen(check, spec),
        Command::SpecLint => spec_lint(),
    }
}
