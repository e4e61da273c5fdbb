//! AWS call failures, how they are classified, and the bounded retry around every call.
//!
//! A resource is often not yet visible to the reading API for a moment after its create
//! event (eventual consistency), and any call may be throttled. Both are retried with
//! exponential backoff, a bounded number of times; everything else fails at once.
//! The SDK's own retries (throttling and 5xx, `AWS_MAX_ATTEMPTS`) happen inside each try.
//!
//! Settings (environment, read once at start):
//! - `REMEDIATION_RETRY_ATTEMPTS`: tries per call, 1..=20, default 5.
//! - `REMEDIATION_RETRY_BACKOFF_MS`: wait before the second try, doubled before each
//!   further try (capped at 8 s), 0..=60000, default 500. With the defaults a call gives
//!   up after about 7.5 s of waiting, well inside the template's 60 s timeout.
//!
//! Each invocation also bounds the retries by its Lambda deadline ([`RetryPolicy::until`]):
//! a wait that would end too close to it is not started, so the audit records, the alert
//! and the error still go out before Lambda stops the function.

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use corebound::aws::AwsFailure;
use corebound::remediation::ConfigError;

/// Error codes meaning "no such resource", across the services handled.
const NOT_FOUND_CODES: [&str; 9] = [
    "NotFound",                                // SNS
    "NotFoundException",                       // KMS
    "ResourceNotFoundException",               // Logs, Secrets Manager, AgentCore
    "NoSuchEntity",                            // IAM
    "NoSuchBucket",                            // S3
    "NoSuchKey",                               // S3 (never expected, kept for completeness)
    "AWS.SimpleQueueService.NonExistentQueue", // SQS (query-compatible code)
    "QueueDoesNotExist",                       // SQS (JSON protocol code)
    "NoSuchResource",
];

/// Error codes meaning "try again": a conflicting concurrent change, or a fault inside the
/// service, that AWS documents as retryable but the generic classification does not know.
const RETRYABLE_CODES: [&str; 8] = [
    "OperationAborted",                // S3: a conflicting operation on the bucket
    "OperationAbortedException",       // Logs: concurrent requests on the same resource
    "ConcurrentModification",          // IAM (query protocol code)
    "ConcurrentModificationException", // IAM (exception name), other services
    "ConcurrentAccess",                // SNS TagResource (query protocol code)
    "ConcurrentAccessException",       // SNS (exception name)
    "KMSInternalException",            // KMS
    "DependencyTimeoutException",      // KMS
];

/// How a failure is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The resource is not (yet) visible: retried, since it was just created.
    NotFound,
    /// Throttling, server faults, transport failures: retried.
    Transient,
    /// Everything else (access denied, validation): not retried.
    Final,
}

/// A failed AWS call (or a lookup that found nothing), with the operation that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub operation: String,
    /// The service's error code, when it answered with one.
    pub code: Option<String>,
    pub kind: FailureKind,
    pub message: String,
}

impl CallError {
    /// Classifies an SDK error (any service: `SdkError` is the same type in every crate).
    pub fn from_sdk<E, R>(operation: &str, error: &aws_sdk_sns::error::SdkError<E, R>) -> CallError
    where
        E: aws_sdk_sns::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: fmt::Debug,
    {
        CallError::from_failure(operation, AwsFailure::from_sdk(error))
    }

    pub fn from_failure(operation: &str, failure: AwsFailure) -> CallError {
        let kind = match failure.code.as_deref() {
            Some(code) if NOT_FOUND_CODES.contains(&code) => FailureKind::NotFound,
            Some(code) if RETRYABLE_CODES.contains(&code) => FailureKind::Transient,
            _ if failure.is_retryable() => FailureKind::Transient,
            _ => FailureKind::Final,
        };
        CallError {
            operation: operation.to_string(),
            message: failure.summary(),
            code: failure.code,
            kind,
        }
    }

    /// A lookup that answered but did not list the resource (e.g. by name).
    pub fn not_found(operation: &str, message: impl Into<String>) -> CallError {
        CallError {
            operation: operation.to_string(),
            code: None,
            kind: FailureKind::NotFound,
            message: message.into(),
        }
    }

    /// A response without a member the service documents, or a request that cannot be built.
    pub fn invalid(operation: &str, message: impl Into<String>) -> CallError {
        CallError {
            operation: operation.to_string(),
            code: None,
            kind: FailureKind::Final,
            message: message.into(),
        }
    }

    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    fn retried(&self) -> bool {
        self.kind != FailureKind::Final
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.operation, self.message)
    }
}

impl std::error::Error for CallError {}

/// The bounded exponential backoff (see the module docs for the variables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_backoff: Duration,
    /// No wait is started that would end after this instant.
    pub deadline: Option<Instant>,
}

const MAX_BACKOFF: Duration = Duration::from_secs(8);

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            first_backoff: Duration::from_millis(500),
            deadline: None,
        }
    }
}

impl RetryPolicy {
    /// Reads `REMEDIATION_RETRY_ATTEMPTS` and `REMEDIATION_RETRY_BACKOFF_MS` through `lookup`;
    /// unset or empty means the default.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = RetryPolicy::default();
        let number =
            |variable: &'static str, low: u64, high: u64, default: u64| match lookup(variable)
                .filter(|value| !value.trim().is_empty())
            {
                None => Ok(default),
                Some(raw) => raw
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|value| (low..=high).contains(value))
                    .ok_or_else(|| ConfigError {
                        variable,
                        received: format!("{raw:?}"),
                        expected: format!("an integer from {low} to {high}, or unset ({default})"),
                    }),
            };
        let attempts = number(
            "REMEDIATION_RETRY_ATTEMPTS",
            1,
            20,
            u64::from(defaults.attempts),
        )?;
        let backoff = number(
            "REMEDIATION_RETRY_BACKOFF_MS",
            0,
            60_000,
            defaults.first_backoff.as_millis() as u64,
        )?;
        Ok(RetryPolicy {
            attempts: attempts as u32,
            first_backoff: Duration::from_millis(backoff),
            deadline: None,
        })
    }

    /// This policy, retrying only while a wait ends before `deadline`.
    pub fn until(&self, deadline: Instant) -> Self {
        RetryPolicy {
            deadline: Some(deadline),
            ..*self
        }
    }

    /// The wait before try number `attempt + 1` (`attempt` starts at 1).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        self.first_backoff.saturating_mul(factor).min(MAX_BACKOFF)
    }

    /// Sends one SDK request (rebuilt by `send` for each try) under this policy.
    pub async fn sdk<T, E, R, F, Fut>(&self, operation: &str, mut send: F) -> Result<T, CallError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, aws_sdk_sns::error::SdkError<E, R>>>,
        E: aws_sdk_sns::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: fmt::Debug,
    {
        self.run(|| {
            let response = send();
            async move {
                response
                    .await
                    .map_err(|error| CallError::from_sdk(operation, &error))
            }
        })
        .await
    }

    /// Runs `call` until it succeeds, fails finally, or the tries are used up.
    pub async fn run<T, F, Fut>(&self, mut call: F) -> Result<T, CallError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, CallError>>,
    {
        let mut attempt = 1;
        loop {
            match call().await {
                Ok(value) => return Ok(value),
                Err(error)
                    if error.retried()
                        && attempt < self.attempts
                        && self.deadline.is_none_or(|deadline| {
                            Instant::now() + self.backoff(attempt) < deadline
                        }) =>
                {
                    let wait = self.backoff(attempt);
                    tracing::info!(
                        operation = %error.operation,
                        error = %error.message,
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "retrying"
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn settings_default_and_validate() {
        assert_eq!(RetryPolicy::from_env(env(&[])), Ok(RetryPolicy::default()));
        assert_eq!(
            RetryPolicy::from_env(env(&[
                ("REMEDIATION_RETRY_ATTEMPTS", "3"),
                ("REMEDIATION_RETRY_BACKOFF_MS", " 10 ")
            ])),
            Ok(RetryPolicy {
                attempts: 3,
                first_backoff: Duration::from_millis(10),
                deadline: None,
            })
        );
        for (variable, value) in [
            ("REMEDIATION_RETRY_ATTEMPTS", "0"),
            ("REMEDIATION_RETRY_ATTEMPTS", "many"),
            ("REMEDIATION_RETRY_BACKOFF_MS", "-1"),
            ("REMEDIATION_RETRY_BACKOFF_MS", "600000"),
        ] {
            let error = RetryPolicy::from_env(env(&[(variable, value)])).unwrap_err();
            assert_eq!(error.variable, variable);
            assert!(error.to_string().contains(variable), "{error}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let waits: Vec<u128> = (1..=6).map(|a| policy.backoff(a).as_millis()).collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 8000, 8000]);
    }

    #[test]
    fn failures_are_classified_by_code() {
        let failure = |code: Option<&str>| AwsFailure {
            code: code.map(str::to_string),
            message: "m".to_string(),
        };
        let cases = [
            (Some("NotFound"), FailureKind::NotFound),
            (Some("NoSuchEntity"), FailureKind::NotFound),
            (Some("ResourceNotFoundException"), FailureKind::NotFound),
            (
                Some("AWS.SimpleQueueService.NonExistentQueue"),
                FailureKind::NotFound,
            ),
            (Some("ThrottlingException"), FailureKind::Transient),
            (Some("Throttling"), FailureKind::Transient),
            (None, FailureKind::Transient),
            (Some("OperationAborted"), FailureKind::Transient),
            (Some("OperationAbortedException"), FailureKind::Transient),
            (Some("ConcurrentModification"), FailureKind::Transient),
            (
                Some("ConcurrentModificationException"),
                FailureKind::Transient,
            ),
            (Some("KMSInternalException"), FailureKind::Transient),
            (Some("TooManyTagsException"), FailureKind::Final),
            (Some("AccessDenied"), FailureKind::Final),
            (Some("InvalidParameterException"), FailureKind::Final),
        ];
        for (code, kind) in cases {
            assert_eq!(
                CallError::from_failure("Op", failure(code)).kind,
                kind,
                "{code:?}"
            );
        }
    }

    #[tokio::test]
    async fn retries_are_bounded_and_final_errors_are_not_retried() {
        let policy = RetryPolicy {
            attempts: 3,
            first_backoff: Duration::from_millis(1),
            deadline: None,
        };
        let calls = Cell::new(0);
        let result: Result<(), CallError> = policy
            .run(|| {
                calls.set(calls.get() + 1);
                async { Err(CallError::not_found("Get", "not yet")) }
            })
            .await;
        assert_eq!(result.unwrap_err().kind, FailureKind::NotFound);
        assert_eq!(calls.get(), 3);

        calls.set(0);
        let result: Result<(), CallError> = policy
            .run(|| {
                calls.set(calls.get() + 1);
                async { Err(CallError::invalid("Put", "denied")) }
            })
            .await;
        assert!(result.is_err());
        assert_eq!(calls.get(), 1);

        calls.set(0);
        let result = policy
            .run(|| {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move {
                    if n < 2 {
                        Err(CallError::not_found("Get", "not yet"))
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(result, Ok(2));

        // A wait that would end after the deadline is not started.
        let slow = RetryPolicy {
            attempts: 5,
            first_backoff: Duration::from_secs(10),
            deadline: None,
        }
        .until(Instant::now() + Duration::from_secs(1));
        calls.set(0);
        let started = Instant::now();
        let result: Result<(), CallError> = slow
            .run(|| {
                calls.set(calls.get() + 1);
                async { Err(CallError::not_found("Get", "not yet")) }
            })
            .await;
        assert!(result.is_err());
        assert_eq!(calls.get(), 1);
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
