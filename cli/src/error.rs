//! The one error type of the `corebound` command. Exit codes: 0 clean, 1 findings, 2 error.

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}
