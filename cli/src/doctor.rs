//! `corebound doctor` (scaffold: filled in by its issue).

use std::process::ExitCode;

use crate::error::CliError;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_args: Args) -> Result<ExitCode, CliError> {
    Err(CliError::Other(
        "`corebound doctor` is not built yet".to_string(),
    ))
}
