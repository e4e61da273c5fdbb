//! `remediator`: EventBridge handler for CloudTrail create events that adds the mandatory
//! tags and the project CMK to new resources (see docs/reference/remediator.md).
//!
//! This file only wires logging, configuration and clients; the decisions live in
//! `corebound::remediation`, one event is handled in `remediator::handler`.
//!
//! Configuration: the variables of `corebound::remediation::RemediationConfig`
//! (`REQUIRED_TAGS`, `KMS_KEY_ARN`, `MODE`, `SCOPE_PATTERNS`, `ALERT_TOPIC_ARN`,
//! `REQUIRED_ROLE_PREFIX`, `SELF_ROLE_ARN`, `OPT_OUT_TAG`), the retry settings of
//! `remediator::retry` (`REMEDIATION_RETRY_ATTEMPTS`, `REMEDIATION_RETRY_BACKOFF_MS`) and the deferral
//! queue of `corebound::remediation::DeferralConfig` (`DEFERRAL_QUEUE_URL`,
//! `DEFERRAL_DELAY_SECONDS`), the sweep's `corebound::sweep::SweepSettings` (`SWEEP_QUEUE_URL`,
//! `REPORT_BUCKET`, `SWEEP_PAGE_SIZE`, `SWEEP_LOCK_SECONDS`), and organization mode (issue 13):
//! `ACCOUNT_SETTINGS` (a JSON document or `ssm:<parameter>`, `corebound::accounts`),
//! `SPOKE_ROLE_NAME`, `SPOKE_EXTERNAL_ID`. Invalid configuration stops the function at start
//! with a message naming the variable (and, for `ACCOUNT_SETTINGS`, the account and field).

use std::time::{Duration, Instant};

use corebound::remediation::{ConfigError, DeferralConfig, RemediationConfig};
use corebound::sweep::SweepSettings;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

use remediator::clients::Clients;
use remediator::handler::Remediator;
use remediator::retry::RetryPolicy;
use remediator::targets::{SpokeRole, Targets};
use remediator::{account_settings, init_error, project_key};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    corebound::logging::init();
    let (mut config, retry, deferral, sweep) = match configuration() {
        Ok(settings) => settings,
        Err(error) => {
            tracing::error!(variable = error.variable, "{error}");
            init_error::report(&error.to_string()).await;
            return Err(error.into());
        }
    };
    let sdk = corebound::aws::load_sdk_config().await;
    let clients = Clients::new(&sdk);
    let raw = std::env::var(corebound::accounts::ACCOUNT_SETTINGS).ok();
    let accounts = match account_settings::load(&sdk, &config, &retry, raw.as_deref()).await {
        Ok(accounts) => accounts,
        Err(message) => {
            tracing::error!(variable = "ACCOUNT_SETTINGS", "{message}");
            init_error::report(&message).await;
            return Err(message.into());
        }
    };
    // One DescribeKey (and ListAliases) per cold start, inside Lambda's 10 s init phase.
    let init_retry = retry.until(Instant::now() + INIT_BUDGET);
    let region = std::env::var("AWS_REGION")
        .ok()
        .filter(|region| !region.trim().is_empty());
    config.key_status = project_key::check(
        &clients,
        &init_retry,
        &config.kms_key_arn,
        region.as_deref(),
    )
    .await;
    if !config.key_status.usable() {
        project_key::report_unusable(&clients, &init_retry, &config).await;
    }
    tracing::info!(
        mode = ?config.mode,
        scope = ?config.scope_patterns,
        key_aliases = ?config.key_status.aliases,
        key_usable = config.key_status.usable(),
        deferral_queue = ?deferral.queue_url,
        sweep_queue = ?sweep.queue_url,
        report_bucket = ?sweep.report_bucket,
        "remediator ready"
    );
    tracing::info!(
        organization = accounts.configured(),
        other_accounts = ?accounts.other_accounts(),
        spoke_role = ?config.spoke_role_name,
        "account settings ready"
    );
    let spoke = SpokeRole::of(&config);
    let targets = Targets::new(&sdk, clients.clone(), spoke);
    let remediator = Remediator {
        config,
        retry,
        deferral,
        clients,
        accounts,
        targets,
        alerted: Default::default(),
    };
    let remediator = &remediator;
    let sweep = &sweep;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        remediator::sweep::dispatch(remediator, sweep, event).await
    }))
    .await
}

/// How long the key check at start may take (Lambda's init phase is limited to 10 s).
const INIT_BUDGET: Duration = Duration::from_secs(6);

type Settings = (
    RemediationConfig,
    RetryPolicy,
    DeferralConfig,
    SweepSettings,
);

fn configuration() -> Result<Settings, ConfigError> {
    let lookup = |name: &str| std::env::var(name).ok();
    Ok((
        RemediationConfig::from_env(lookup)?,
        RetryPolicy::from_env(lookup)?,
        DeferralConfig::from_env(lookup)?,
        SweepSettings::from_env(lookup)?,
    ))
}
