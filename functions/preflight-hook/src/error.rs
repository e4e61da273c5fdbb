//! Why the hook could not check a request. Every variant is answered (InternalFailure, or
//! SUCCESS with a warning under HookFailureMode WARN), never left to time out.

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("malformed hook request: {0}")]
    Request(String),
    #[error("invalid function setting: {0}")]
    Setting(String),
    #[error("reading the stack's tags with cloudformation:DescribeStacks failed ({detail}){hint}", hint = if *denied { "; the hook function's role needs cloudformation:DescribeStacks" } else { "" })]
    DescribeStacks {
        transient: bool,
        denied: bool,
        detail: String,
    },
    #[error("fetching the template from the request's payload URL failed: {detail}")]
    Payload { transient: bool, detail: String },
    #[error("the template could not be read: {0}")]
    Template(String),
}

impl HookError {
    /// Whether calling again later could succeed (throttling, 5xx, a lost connection).
    pub fn is_transient(&self) -> bool {
        match self {
            HookError::DescribeStacks { transient, .. } | HookError::Payload { transient, .. } => {
                *transient
            }
            _ => false,
        }
    }
}
