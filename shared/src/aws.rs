//! Loading the AWS SDK configuration.
//!
//! This is the seam between the functions and AWS: `aws_config` honours `AWS_ENDPOINT_URL`
//! and the per-service `AWS_ENDPOINT_URL_<SERVICE_ID>` variables (for example
//! `AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL`), so the very same binary runs against AWS or
//! against the local emulators. `AWS_MAX_ATTEMPTS` caps SDK retries (tests use it because the
//! emulator answers unimplemented operations with HTTP 500, which the SDK would retry).

use aws_config::{BehaviorVersion, SdkConfig};

/// Load the shared SDK configuration from the Lambda environment.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// The parts of an SDK error that decide what to tell the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsFailure {
    /// The service's error code (e.g. `AccessDeniedException`, `NoSuchEntity`), when the
    /// service answered at all.
    pub code: Option<String>,
    /// The service's message, or a description of the transport failure.
    pub message: String,
}

impl AwsFailure {
    pub fn from_sdk<E, R>(error: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let code = error.code().map(str::to_string);
        let message = match (error.message(), &code) {
            (Some(m), _) => m.to_string(),
            (None, Some(_)) => String::new(),
            (None, None) => DisplayErrorContext(error).to_string(),
        };
        AwsFailure { code, message }
    }

    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    pub fn is_access_denied(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some("AccessDenied" | "AccessDeniedException" | "AccessDeniedFault")
        )
    }

    /// Throttling, server faults and transport failures may pass on a retry.
    pub fn is_retryable(&self) -> bool {
        match self.code.as_deref() {
            None => true,
            Some(code) => {
                code.contains("Throttl")
                    || code.contains("InternalServer")
                    || code == "ServiceUnavailable"
                    || code == "ServiceFailure"
                    || code == "RequestLimitExceeded"
                    || code == "TooManyRequestsException"
            }
        }
    }

    /// `code: message`, for embedding in a Reason.
    pub fn summary(&self) -> String {
        match (&self.code, self.message.is_empty()) {
            (Some(code), true) => code.clone(),
            (Some(code), false) => format!("{code}: {}", self.message),
            (None, _) => self.message.clone(),
        }
    }
}
