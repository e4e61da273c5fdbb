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

    /// A property the resource type does not define (usually a typo in the template). Its
    /// value is never shown: a misspelt property may hold a secret.
    #[error("property {property} is not a property of {resource_type}; known properties: {known}")]
    UnknownProperty {
        property: String,
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

    /// An environment variable of the function has a value it cannot use. Custom-resource
    /// functions report these to `custom_resource::serve`, which answers every request
    /// FAILED naming the variable instead of failing at start.
    #[error("{variable} is {value}; expected {expected}")]
    Setting {
        variable: String,
        value: String,
        expected: String,
    },
}

impl Error {
    /// Invalid input: retrying the same request cannot succeed.
    pub fn is_final(&self) -> bool {
        match self {
            Error::Aws { retryable, .. } => !retryable,
            _ => true,
        }
    }

    /// An invalid property. `value` is the received value as the caller rendered it; it is
    /// cut to a short excerpt, and hidden when it looks like a dynamic reference, here, so
    /// every caller follows the same echo rule.
    pub fn invalid(
        property: impl Into<String>,
        value: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        Error::InvalidProperty {
            property: property.into(),
            value: crate::custom_resource::excerpt(&value.into()),
            expected: expected.into(),
        }
    }

    /// An invalid environment variable: `raw` is quoted and cut to a short excerpt.
    pub fn setting(variable: impl Into<String>, raw: &str, expected: impl Into<String>) -> Self {
        Error::Setting {
            variable: variable.into(),
            value: crate::custom_resource::render_value(&serde_json::Value::String(
                raw.to_string(),
            )),
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
