//! `remediator`: EventBridge handler for CloudTrail create events that adds the mandatory
//! tags and the project CMK to new resources (see docs/reference/remediator.md).
//!
//! This file only wires logging, configuration and clients; the decisions live in
//! `corebound::remediation`, one event is handled in [`handler`].
//!
//! Configuration: the variables of `corebound::remediation::RemediationConfig`
//! (`REQUIRED_TAGS`, `KMS_KEY_ARN`, `MODE`, `SCOPE_PATTERNS`, `ALERT_TOPIC_ARN`,
//! `REQUIRED_ROLE_PREFIX`, `SELF_ROLE_ARN`, `OPT_OUT_TAG`) and the retry settings of
//! [`retry`] (`REMEDIATION_RETRY_ATTEMPTS`, `REMEDIATION_RETRY_BACKOFF_MS`). Invalid
//! configuration stops the function at start with a message naming the variable.

mod alerts;
mod apply;
mod clients;
mod handler;
mod init_error;
mod observe;
mod retry;

use corebound::remediation::{ConfigError, RemediationConfig};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

use crate::clients::Clients;
use crate::handler::Remediator;
use crate::retry::RetryPolicy;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    corebound::logging::init();
    let (config, retry) = match configuration() {
        Ok(settings) => settings,
        Err(error) => {
            tracing::error!(variable = error.variable, "{error}");
            init_error::report(&error.to_string()).await;
            return Err(error.into());
        }
    };
    tracing::info!(mode = ?config.mode, scope = ?config.scope_patterns, "remediator ready");
    let sdk = corebound::aws::load_sdk_config().await;
    let remediator = Remediator {
        config,
        retry,
        clients: Clients::new(&sdk),
    };
    let remediator = &remediator;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        remediator.handle(event).await
    }))
    .await
}

fn configuration() -> Result<(RemediationConfig, RetryPolicy), ConfigError> {
    let lookup = |name: &str| std::env::var(name).ok();
    Ok((
        RemediationConfig::from_env(lookup)?,
        RetryPolicy::from_env(lookup)?,
    ))
}
