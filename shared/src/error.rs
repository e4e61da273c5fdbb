//! The one error type of the `corebound` crate.
//!
//! The split that matters to callers is *final* versus *retryable*: invalid input will fail
//! the same way every time and must be reported to the user as-is, while an AWS failure may
//! be transient. Every message is written for the person reading a CloudFormation event or
//! an audit record: it names the rule that was hit and how to fix it.

/// Crate-level result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A required resource property was not given.
    #[error("property {property} is required but was not given; expected {expected}")]
    MissingProperty { property: String, expected: String },

    /// A resource property has a value the resource cannot accept.
    #[error("property {property} has value {value}; expected {expected}")]
    InvalidProperty {
        property: String,
        value: String,
        expected: String,
    },

    /// A property the resource type does not define (usually a typo in the template).
    #[error("property {property} (value {value}) is not a property of {resource_type}; known properties: {known}")]
    UnknownProperty {
        property: String,
        value: String,
        resource_type: String,
        known: String,
    },

    /// Input is well-formed but breaks a rule (for example a policy that would exceed the
    /// service's size limit, or a statement id already used by someone else's statement).
    #[error("{0}")]
    Rule(String),

    /// An AWS call failed. `message` already says what to do about it.
    #[error("{operation} failed: {message}")]
    Aws {
        operation: String,
        message: String,
        retryable: bool,
    },

    /// Something AWS returned does not have the shape the service documents.
    #[error("unexpected response from {operation}: {message}")]
    UnexpectedResponse { operation: String, message: String },

    /// Invalid function configuration (environment variables).
    #[error("configuration: {0}")]
    Config(String),
}

impl Error {
    /// Invalid input: retrying the same request cannot succeed.
    pub fn is_final(&self) -> bool {
        match self {
            Error::Aws { retryable, .. } => !retryable,
            _ => true,
        }
    }

    pub fn invalid(
        property: impl Into<String>,
        value: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        Error::InvalidProperty {
            property: property.into(),
            value: value.into(),
            expected: expected.into(),
        }
    }

    pub fn aws(operation: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Aws {
            operation: operation.into(),
            message: message.into(),
            retryable: false,
        }
    }
}
