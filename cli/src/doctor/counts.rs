//! The doctor's count of in-scope resources missing tags or the key: the sweep in report mode,
//! in this process (`remediator::sweep::run_local`), with no report bucket (no lock, no object
//! written) and no alert topic. Report mode writes nothing to the resources.

use aws_config::SdkConfig;
use corebound::doctor::{counts_check, counts_unavailable, Check};
use corebound::remediation::RemediationConfig;
use corebound::sweep::SweepSettings;
use remediator::clients::Clients;
use remediator::handler::Remediator;
use remediator::retry::RetryPolicy;
use remediator::sweep::run_local;

use crate::error::CliError;

/// Variables of the remediator the count may take from the environment as they are; the
/// others are the doctor's (flags over environment) or deliberately unset.
const PASSED_THROUGH: [&str; 4] = [
    "OPT_OUT_TAG",
    "SWEEP_PAGE_SIZE",
    "REMEDIATION_RETRY_ATTEMPTS",
    "REMEDIATION_RETRY_BACKOFF_MS",
];

/// `settings(name)` gives the doctor's values of REQUIRED_TAGS, KMS_KEY_ARN, SCOPE_PATTERNS
/// and REQUIRED_ROLE_PREFIX. An invalid value is a settings error; unset ones leave the count
/// out, saying so.
pub async fn count(
    sdk: &SdkConfig,
    settings: impl Fn(&str) -> Option<String>,
) -> Result<Check, CliError> {
    let needed = ["REQUIRED_TAGS", "KMS_KEY_ARN", "SCOPE_PATTERNS"];
    let unset: Vec<&str> = needed
        .iter()
        .copied()
        .filter(|name| settings(name).is_none_or(|v| v.trim().is_empty()))
        .collect();
    if !unset.is_empty() {
        return Ok(counts_unavailable(
            &format!(
                "in-scope resources missing tags or the key were not counted: {} not set",
                unset.join(", ")
            ),
            "set REQUIRED_TAGS, KMS_KEY_ARN and SCOPE_PATTERNS (or --required-tags, --kms-key-arn, --scope-patterns) as for the remediator",
        ));
    }
    let lookup = |name: &str| match name {
        "MODE" => Some("report".to_string()),
        "REQUIRED_TAGS" | "KMS_KEY_ARN" | "SCOPE_PATTERNS" | "REQUIRED_ROLE_PREFIX" => {
            settings(name)
        }
        _ if PASSED_THROUGH.contains(&name) => {
            std::env::var(name).ok().filter(|v| !v.trim().is_empty())
        }
        // REPORT_BUCKET, ALERT_TOPIC_ARN, queues: unset, so the count writes nothing anywhere.
        _ => None,
    };
    let settings_error = |e: corebound::remediation::ConfigError| CliError::Settings(e.to_string());
    let mut config = RemediationConfig::from_env(lookup).map_err(settings_error)?;
    let retry = RetryPolicy::from_env(lookup).map_err(settings_error)?;
    let sweep = SweepSettings::from_env(lookup).map_err(settings_error)?;
    let clients = Clients::new(sdk);
    let region = sdk.region().map(ToString::to_string);
    // As the remediator does at start: a key with a problem is what report mode must show.
    config.key_status =
        remediator::project_key::check(&clients, &retry, &config.kms_key_arn, region.as_deref())
            .await;
    let remediator =
        Remediator::for_command(config, retry, sdk, clients, None).map_err(settings_error)?;
    Ok(match run_local(&remediator, &sweep, &retry, |_| {}).await {
        Ok((report, _)) => counts_check(&report),
        Err(error) => counts_unavailable(
            &format!("in-scope resources could not be counted: the sweep failed ({error})"),
            "run `corebound sweep --mode report` to see which read fails",
        ),
    })
}
