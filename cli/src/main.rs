//! `corebound`: the command-line entry point. Each subcommand lives in its own module and
//! calls the same code as the Lambdas (`corebound::…` decisions, the remediator's effects):
//!
//! - `corebound sweep`  — the scheduled sweep, in-process (issue: continuous compliance);
//! - `corebound check`  — preflight rules on CloudFormation/SAM templates;
//! - `corebound doctor` — read-only diagnosis of the caller's account against the boundary patterns.
//!
//! This file only parses the command line and wires logging.

mod check;
mod doctor;
mod error;
mod sweep;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "corebound",
    version,
    about = "AgentCore under a permissions boundary: sweep, check, doctor"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sweep every in-scope resource of the account and region (report or enforce).
    Sweep(sweep::Args),
    /// Check CloudFormation/SAM templates against the boundary rules before deploying.
    Check(check::Args),
    /// Diagnose the calling principal's account against the boundary patterns (read-only).
    Doctor(doctor::Args),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs on stderr: stdout carries the results (text, JSON, SARIF).
    corebound::logging::init_cli();
    let result = match cli.command {
        Command::Sweep(args) => sweep::run(args).await,
        Command::Check(args) => check::run(args).await,
        Command::Doctor(args) => doctor::run(args).await,
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("corebound: {error}");
            ExitCode::from(2)
        }
    }
}
