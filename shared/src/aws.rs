//! Loading the AWS SDK configuration.
//!
//! This is the seam between the functions and AWS: `aws_config` honours `AWS_ENDPOINT_URL`
//! and the per-service `AWS_ENDPOINT_URL_<SERVICE_ID>` variables (for example
//! `AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL`), so the very same binary runs against AWS or
//! against the local emulators. `AWS_MAX_ATTEMPTS` caps SDK retries (tests use it because the
//! emulator answers unimplemented operations with HTTP 500, which the SDK would retry).

use aws_config::{BehaviorVersion, SdkConfig};

/// Load the shared SDK configuration from the Lambda environment.
///
/// The SDK's HTTP client connects with the process's one TLS configuration
/// ([`crate::http`]), built here, during init, so the system trust store is read once and
/// the first AWS call and the first ResponseURL answer do not pay for it.
pub async fn load_sdk_config() -> SdkConfig {
    drop_empty_endpoint_url();
    crate::http::client_config();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(crate::http::sdk_http_client())
        .load()
        .await
}

/// The endpoint variable the template declares empty (`AWS_ENDPOINT_URL: ''`).
const ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";

/// An empty `AWS_ENDPOINT_URL` means "not overridden".
///
/// `sam local invoke --env-vars` only overrides variables a function already declares, so the
/// template declares `AWS_ENDPOINT_URL` with an empty value for local runs to fill in. In AWS
/// the value stays empty, and `aws_config` would log "invalid value for endpoint URL setting"
/// on every cold start (it rejects the empty URL, then carries on without one). Removing the
/// empty variable first gives the same configuration without the warning. It runs before the
/// SDK or any other thread reads the environment: the functions' tokio runtime is
/// single-threaded and this is called once at start.
fn drop_empty_endpoint_url() {
    if std::env::var_os(ENDPOINT_URL).is_some_and(|value| value.to_string_lossy().trim().is_empty())
    {
        std::env::remove_var(ENDPOINT_URL);
    }
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

#[cfg(test)]
mod endpoint_tests {
    use super::*;

    // The only test in this crate that touches AWS_ENDPOINT_URL, so no other test races it.
    #[test]
    fn empty_endpoint_url_is_removed_and_a_real_one_kept() {
        std::env::set_var(ENDPOINT_URL, " ");
        drop_empty_endpoint_url();
        assert_eq!(std::env::var_os(ENDPOINT_URL), None);

        std::env::set_var(ENDPOINT_URL, "http://127.0.0.1:4599");
        drop_empty_endpoint_url();
        assert_eq!(
            std::env::var(ENDPOINT_URL).as_deref(),
            Ok("http://127.0.0.1:4599")
        );
        std::env::remove_var(ENDPOINT_URL);
    }
}
