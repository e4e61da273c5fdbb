//! Logging set-up shared by every function.

/// Install the `tracing` subscriber: JSON lines when `AWS_LAMBDA_LOG_FORMAT=JSON` (Lambda's
/// advanced logging controls), human-readable text otherwise; level from
/// `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`, INFO by default.
pub fn init() {
    lambda_runtime::tracing::init_default_subscriber();
}
