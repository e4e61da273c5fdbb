//! Test support for corebound's end-to-end tests: a local Lambda Runtime API that runs the
//! built function binaries, a stand-in for CloudFormation's ResponseURL, the local AWS
//! emulator, and the sample events in `events/`.

pub mod aws_calls;
pub mod demo;
pub mod emulator;
pub mod fuzz;
pub mod http_client;
pub mod http_server;
pub mod lambda_process;
pub mod local;
pub mod organization;
pub mod remediator;
pub mod response_capture;

use serde_json::Value;

pub use emulator::{emulator, repo_root, Emulator};
pub use lambda_process::{binary_path, InvocationResult, LambdaProcess, ALLOWED_HOSTS_VARIABLE};
pub use response_capture::{ResponseCapture, SECRET_CREDENTIAL, SECRET_SIGNATURE, SECRET_TOKEN};

/// A file from `events/`, e.g. `event("runtime-policy/create.json")`.
pub fn event(relative: &str) -> Value {
    let path = repo_root().join("events").join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// A CloudFormation request pointed at `response_url`.
pub fn with_response_url(mut request: Value, response_url: &str) -> Value {
    request["ResponseURL"] = Value::String(response_url.to_string());
    request
}
