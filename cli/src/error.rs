//! The one error type of the `corebound` command. Exit codes: 0 clean, 1 findings, 2 error.

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A setting (flag or environment variable) is invalid; the message names it.
    #[error("{0}")]
    Settings(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}
