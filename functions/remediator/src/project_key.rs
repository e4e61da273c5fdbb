//! The project CMK's reads: the check once per cold start (`DescribeKey`, `ListAliases`),
//! its alert, and the key policy (`GetKeyPolicy`, at most once per invocation).
//!
//! The decisions are `corebound::remediation::check_key` and `guard_key_switch`; this file
//! only makes the calls.

use corebound::remediation::{
    check_key, AuditAction, AuditRecord, AuditResult, Finding, KeyDescription, KeyStatus,
    RemediationConfig, Rule,
};
use serde_json::Value;

use crate::alerts::Alert;
use crate::clients::Clients;
use crate::retry::{CallError, RetryPolicy};

/// The `event_id` of the records made at start, outside any event.
pub const COLD_START: &str = "cold-start";

/// Describes the key and lists its aliases. Never fails: a failed `DescribeKey` is itself
/// a problem (the key cannot be vouched for); a failed `ListAliases` only means aliases on
/// resources are judged as foreign keys (reported, never overwritten).
pub async fn check(
    clients: &Clients,
    retry: &RetryPolicy,
    key_arn: &str,
    function_region: Option<&str>,
) -> KeyStatus {
    let described = retry
        .sdk("kms:DescribeKey", || {
            clients.kms.describe_key().key_id(key_arn).send()
        })
        .await
        .and_then(|output| {
            let metadata = output.key_metadata().ok_or_else(|| {
                CallError::invalid("kms:DescribeKey", "no KeyMetadata in the answer")
            })?;
            Ok(KeyDescription {
                arn: metadata.arn().unwrap_or(key_arn).to_string(),
                key_state: metadata
                    .key_state()
                    .map(|state| state.as_str().to_string())
                    .unwrap_or_else(|| {
                        if metadata.enabled() {
                            "Enabled".to_string()
                        } else {
                            "Disabled".to_string()
                        }
                    }),
                key_spec: metadata
                    .key_spec()
                    .map(|spec| spec.as_str().to_string())
                    .unwrap_or_default(),
                key_usage: metadata
                    .key_usage()
                    .map(|usage| usage.as_str().to_string())
                    .unwrap_or_default(),
            })
        });
    let error = described.as_ref().err().map(ToString::to_string);
    let problems = check_key(
        key_arn,
        function_region,
        match (&described, &error) {
            (Ok(description), _) => Ok(description),
            (Err(_), Some(error)) => Err(error.as_str()),
            (Err(_), None) => Err("DescribeKey failed"),
        },
    );
    let aliases = match aliases(clients, retry, key_arn).await {
        Ok(aliases) => aliases,
        Err(error) => {
            tracing::warn!(%error, "could not list the project key's aliases");
            Vec::new()
        }
    };
    KeyStatus { aliases, problems }
}

async fn aliases(
    clients: &Clients,
    retry: &RetryPolicy,
    key_arn: &str,
) -> Result<Vec<String>, CallError> {
    let mut aliases = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = retry
            .sdk("kms:ListAliases", || {
                clients
                    .kms
                    .list_aliases()
                    .key_id(key_arn)
                    .set_marker(marker.clone())
                    .send()
            })
            .await?;
        let (names, next) = crate::clients::alias_page(&page);
        aliases.extend(names);
        match next {
            Some(next) => marker = Some(next),
            None => return Ok(aliases),
        }
    }
}

/// The one record and alert of a cold start whose key is unusable.
pub async fn report_unusable(clients: &Clients, retry: &RetryPolicy, config: &RemediationConfig) {
    let finding = Finding::ProjectKeyUnusable {
        key_arn: config.kms_key_arn.clone(),
        problems: config.key_status.problems.clone(),
    };
    tracing::error!(key = %config.kms_key_arn, "{finding}");
    let record = AuditRecord {
        event_id: COLD_START.to_string(),
        resource: config.kms_key_arn.clone(),
        rule: Rule::CmkEncryption,
        state_before: Value::Null,
        action: AuditAction::Reported,
        result: AuditResult::Ok,
        detail: serde_json::to_value(&finding).unwrap_or_default(),
    };
    crate::handler::emit(&record);
    let Some(topic) = &config.alert_topic_arn else {
        return;
    };
    let lines = [finding.to_string()];
    let Some(alert) = Alert::compose(
        COLD_START,
        &config.kms_key_arn,
        config.mode,
        &lines,
        std::slice::from_ref(&record),
    ) else {
        return;
    };
    if let Err(error) = alert.publish(&clients.sns, retry, topic).await {
        tracing::error!(%error, topic, "could not publish the project key alert");
    }
}

/// The key policy (`default`, the only name KMS has), parsed; or why it could not be read.
pub async fn key_policy(
    clients: &Clients,
    retry: &RetryPolicy,
    key_arn: &str,
) -> Result<Value, String> {
    let output = retry
        .sdk("kms:GetKeyPolicy", || {
            clients
                .kms
                .get_key_policy()
                .key_id(key_arn)
                .policy_name("default")
                .send()
        })
        .await
        .map_err(|error| error.to_string())?;
    let text = output.policy().unwrap_or_default();
    serde_json::from_str(text).map_err(|error| format!("the key policy is not JSON: {error}"))
}
