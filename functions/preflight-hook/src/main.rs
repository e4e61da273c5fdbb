//! `preflight-hook`: the CloudFormation Lambda Hook (`AWS::CloudFormation::LambdaHook`) that
//! runs corebound's preflight rules on each resource (RESOURCE, Cloud Control) and on the
//! whole template (STACK) before anything is provisioned, and answers per the Lambda Hooks
//! contract (see `handler.rs`). This file only wires logging, settings and clients.
//!
//! Environment: the rules' `REQUIRED_ROLE_PREFIX`, `REQUIRED_TAGS`, `KMS_KEY_ARN`,
//! `PERMISSIONS_BOUNDARY_ARN` (as `corebound check`), `HOOK_FAILURE_MODE` (WARN | FAIL, the
//! template's HookFailureMode), and for local tests only `PAYLOAD_URL_ALLOWED_HOSTS`.

mod error;
mod handler;
mod payload;
mod report;
mod request;
mod response;
mod rules;
mod settings;
mod stack_tags;

use std::sync::Arc;

use handler::Hook;
use settings::{FailureMode, HookSettings, FAILURE_MODE_VARIABLE};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    corebound::logging::init();
    let lookup = |name: &str| std::env::var(name).ok();
    let failure_mode = FailureMode::parse(lookup(FAILURE_MODE_VARIABLE).as_deref());
    let settings = HookSettings::from_env(lookup);
    let sdk = corebound::aws::load_sdk_config().await;
    let hook = Arc::new(Hook::new(
        settings,
        failure_mode,
        aws_sdk_cloudformation::Client::new(&sdk),
    ));
    // The raw bytes, so a request `lambda_runtime` could not parse is still answered.
    corebound::lambda_raw::run_raw(move |raw, context| {
        let hook = Arc::clone(&hook);
        async move { Ok(hook.handle(&raw, context.deadline).await) }
    })
    .await
}
