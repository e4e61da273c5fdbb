//! Logging set-up shared by every function.

use lambda_runtime::tracing::subscriber::filter::{EnvFilter, LevelFilter};
use lambda_runtime::tracing::subscriber::fmt;

/// Targets capped below TRACE whatever the configured level: at TRACE, `lambda_runtime`
/// logs every raw event, and a CloudFormation event carries the presigned ResponseURL,
/// which is a credential and must never reach a log.
const NEVER_TRACE: [&str; 3] = ["lambda_runtime", "lambda_runtime_api_client", "hyper_util"];

/// Install the `tracing` subscriber: JSON lines when `AWS_LAMBDA_LOG_FORMAT=JSON` (Lambda's
/// advanced logging controls), human-readable text otherwise; level from
/// `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`, INFO by default.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let mut filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    // A per-target directive also *raises* that target to its level, so cap at the lesser
    // of the configured level and DEBUG.
    let capped = level.min(LevelFilter::DEBUG);
    for target in NEVER_TRACE {
        let directive = format!("{target}={capped}");
        filter = filter.add_directive(directive.parse().expect("a valid directive"));
    }
    let builder = fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
