//! What the sweep concluded about one resource, from the same plan the create events use.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::remediation::{
    Action, EncryptionChange, Execution, Finding, ObservedState, Plan, ResourceKind, ResourceRef,
};

/// The outcome of one resource in a sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Every rule holds; nothing was written.
    Compliant,
    /// Enforce mode: the missing tags or key were written, and nothing is left for a person.
    Fixed,
    /// Report mode: a fix is due (nothing was written).
    WouldFix,
    /// Left as it is on purpose (opt-out tag, a log-delivery bucket kept on SSE-S3), or
    /// something only a person can fix (a foreign key, a role name, a memory without a CMK):
    /// `findings` says which.
    Exception,
    /// A write failed (other than throttling, which retries the whole unit).
    Failed,
    /// The resource (or its type) could not be read: access denied, for instance.
    Unreadable,
    /// Deleted between the listing and the read: nothing to do.
    Gone,
}

impl Outcome {
    pub const ALL: [Outcome; 7] = [
        Outcome::Compliant,
        Outcome::Fixed,
        Outcome::WouldFix,
        Outcome::Exception,
        Outcome::Failed,
        Outcome::Unreadable,
        Outcome::Gone,
    ];

    /// The EMF metric name of the outcome.
    pub fn metric(self) -> &'static str {
        match self {
            Outcome::Compliant => "Compliant",
            Outcome::Fixed => "Fixed",
            Outcome::WouldFix => "WouldFix",
            Outcome::Exception => "Exception",
            Outcome::Failed => "Failed",
            Outcome::Unreadable => "Unreadable",
            Outcome::Gone => "Gone",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Compliant => "compliant",
            Outcome::Fixed => "fixed",
            Outcome::WouldFix => "would-fix",
            Outcome::Exception => "exception",
            Outcome::Failed => "failed",
            Outcome::Unreadable => "unreadable",
            Outcome::Gone => "gone",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One resource in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceResult {
    #[serde(rename = "type")]
    pub resource_type: ResourceKind,
    /// The ARN (the queue URL for a queue, the name for a log group or bucket, as the audit
    /// records name them).
    pub arn: String,
    pub outcome: Outcome,
    /// What the rules found missing: `tag:<Key>` (absent or empty), `cmk-encryption`,
    /// `role-prefix`.
    #[serde(default)]
    pub missing: Vec<String>,
    /// What was written (enforce) or would be (report).
    #[serde(default)]
    pub done: Vec<String>,
    /// What a person must look at (the audit records' finding texts).
    #[serde(default)]
    pub findings: Vec<String>,
    /// Rules deliberately not applied, with the reason.
    #[serde(default)]
    pub exceptions: Vec<String>,
    /// The failed read or write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The account and region of a hub's sweep (set when the report is assembled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl ResourceResult {
    /// Still not compliant after the sweep: a fix due (report mode), a failed fix, or a finding.
    pub fn non_compliant(&self) -> bool {
        match self.outcome {
            Outcome::WouldFix | Outcome::Failed => true,
            Outcome::Exception => !self.findings.is_empty(),
            _ => false,
        }
    }

    /// Something a person must do: a finding, a failed write, an unreadable resource.
    pub fn needs_person(&self) -> bool {
        !self.findings.is_empty() || matches!(self.outcome, Outcome::Failed | Outcome::Unreadable)
    }

    /// A resource (or type) that could not be read.
    pub fn unreadable(resource_type: ResourceKind, arn: &str, error: &str) -> Self {
        Self::bare(
            resource_type,
            arn,
            Outcome::Unreadable,
            Some(error.to_string()),
        )
    }

    /// A resource deleted between the listing and the read.
    pub fn gone(resource_type: ResourceKind, arn: &str, reason: &str) -> Self {
        Self::bare(resource_type, arn, Outcome::Gone, Some(reason.to_string()))
    }

    fn bare(
        resource_type: ResourceKind,
        arn: &str,
        outcome: Outcome,
        error: Option<String>,
    ) -> Self {
        ResourceResult {
            resource_type,
            arn: arn.to_string(),
            outcome,
            missing: Vec::new(),
            done: Vec::new(),
            findings: Vec::new(),
            exceptions: Vec::new(),
            error,
            account: None,
            region: None,
        }
    }
}

/// The result for one resource from the plan it was decided with, the state it was read in
/// and how the actions went (the same inputs as its audit records).
pub fn classify(
    resource: &ResourceRef,
    before: &ObservedState,
    plan: &Plan,
    execution: Execution<'_>,
) -> ResourceResult {
    let mut result = ResourceResult::bare(
        resource.kind(),
        resource.identifier(),
        Outcome::Compliant,
        None,
    );
    let mut failed = false;
    for (index, action) in plan.actions.iter().enumerate() {
        let (missing, what) = describe(action, before);
        result.missing.extend(missing);
        match execution {
            Execution::Report => result.done.push(format!("would {what}")),
            Execution::Enforced(outcomes) => match outcomes.get(index) {
                Some(Ok(())) => result.done.push(what),
                Some(Err(error)) => {
                    failed = true;
                    result
                        .error
                        .get_or_insert_with(|| format!("{what}: {error}"));
                }
                None => {
                    failed = true;
                    result
                        .error
                        .get_or_insert_with(|| format!("{what}: not attempted"));
                }
            },
        }
    }
    for finding in &plan.findings {
        result.missing.extend(finding_missing(finding));
        match finding {
            // The owner's deliberate choice: recorded, not a person's task every hour.
            Finding::OptedOut { .. } => result.exceptions.push(finding.to_string()),
            finding if finding.needs_person() => result.findings.push(finding.to_string()),
            _ => {}
        }
    }
    result
        .exceptions
        .extend(plan.exceptions.iter().map(ToString::to_string));
    if !plan.exceptions.is_empty() && !result.missing.iter().any(|m| m == "cmk-encryption") {
        // A rule deliberately not applied is still a rule the resource does not meet.
        result.missing.push("cmk-encryption".to_string());
    }
    result.missing.sort();
    result.missing.dedup();
    result.outcome = if failed {
        Outcome::Failed
    } else if matches!(execution, Execution::Report) && !plan.actions.is_empty() {
        Outcome::WouldFix
    } else if !result.findings.is_empty() || !result.exceptions.is_empty() {
        Outcome::Exception
    } else if !plan.actions.is_empty() {
        Outcome::Fixed
    } else {
        Outcome::Compliant
    };
    result
}

/// What an action fixes (`missing` entries) and how it reads in the report.
fn describe(action: &Action, before: &ObservedState) -> (Vec<String>, String) {
    match action {
        Action::AddTags { tags } => {
            let keys: Vec<String> = tags.keys().cloned().collect();
            (
                keys.iter().map(|key| format!("tag:{key}")).collect(),
                format!("tag {}", keys.join(", ")),
            )
        }
        Action::ReplaceBucketTags { tags } => {
            let keys: Vec<String> = tags
                .keys()
                .filter(|key| !before.tags.contains_key(*key))
                .cloned()
                .collect();
            (
                keys.iter().map(|key| format!("tag:{key}")).collect(),
                format!(
                    "tag {} (whole tag set written, existing tags kept)",
                    keys.join(", ")
                ),
            )
        }
        Action::SetEncryption(change) => {
            let key = match change {
                EncryptionChange::SnsTopicKey { key_arn }
                | EncryptionChange::SqsQueueKey { key_arn }
                | EncryptionChange::LogGroupKey { key_arn }
                | EncryptionChange::S3BucketDefault { key_arn }
                | EncryptionChange::SecretKey { key_arn } => key_arn,
            };
            (
                vec!["cmk-encryption".to_string()],
                format!("encrypt with {key}"),
            )
        }
    }
}

fn finding_missing(finding: &Finding) -> Vec<String> {
    match finding {
        Finding::EmptyRequiredTags { keys } => {
            keys.iter().map(|key| format!("tag:{key}")).collect()
        }
        Finding::TagLimitReached { missing, .. } => {
            missing.iter().map(|key| format!("tag:{key}")).collect()
        }
        Finding::RoleNameOutsidePrefix { .. } => vec!["role-prefix".to_string()],
        Finding::MemoryWithoutCmk
        | Finding::EncryptedWithForeignKey { .. }
        | Finding::WouldBreakDelivery { .. }
        | Finding::LogsNotAllowedByKeyPolicy { .. }
        | Finding::KeySwitchUnverified { .. }
        | Finding::ProjectKeyUnusable { .. } => vec!["cmk-encryption".to_string()],
        Finding::OutOfScope { .. }
        | Finding::OptedOut { .. }
        | Finding::EncryptionStateUnknown { .. }
        | Finding::MemoryTagsAtCreation { .. } => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remediation::{plan, EncryptionState, RemediationConfig};
    use std::collections::BTreeMap;

    const CMK: &str = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555";

    fn config() -> RemediationConfig {
        let tags = r#"{"ApplicationId":"APP-1","Environment":"dev","Project":"p","ServiceLine":"s","ManagedBy":"m"}"#;
        RemediationConfig::from_env(|name| match name {
            "REQUIRED_TAGS" => Some(tags.to_string()),
            "KMS_KEY_ARN" => Some(CMK.to_string()),
            "SCOPE_PATTERNS" => Some("corebound-demo-*".to_string()),
            _ => None,
        })
        .unwrap()
    }

    fn topic(name: &str) -> ResourceRef {
        ResourceRef::SnsTopic {
            arn: format!("arn:aws:sns:us-east-1:123456789012:{name}"),
        }
    }

    fn state(tags: &[(&str, &str)], key: Option<&str>) -> ObservedState {
        ObservedState {
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            encryption: EncryptionState::SnsTopic {
                kms_master_key_id: key.map(str::to_string),
            },
            ..ObservedState::default()
        }
    }

    const ALL_TAGS: [(&str, &str); 5] = [
        ("ApplicationId", "APP-1"),
        ("Environment", "dev"),
        ("Project", "p"),
        ("ServiceLine", "s"),
        ("ManagedBy", "m"),
    ];

    #[test]
    fn outcomes_follow_the_plan_and_the_mode() {
        let config = config();
        let resource = topic("corebound-demo-a");
        let compliant = state(&ALL_TAGS, Some(CMK));
        let decided = plan(&resource, &compliant, &config);
        let result = classify(&resource, &compliant, &decided, Execution::Report);
        assert_eq!(result.outcome, Outcome::Compliant);
        assert!(result.missing.is_empty() && !result.non_compliant() && !result.needs_person());

        let bare = state(&[("Project", "p")], None);
        let decided = plan(&resource, &bare, &config);
        let report = classify(&resource, &bare, &decided, Execution::Report);
        assert_eq!(report.outcome, Outcome::WouldFix);
        assert_eq!(
            report.missing,
            [
                "cmk-encryption",
                "tag:ApplicationId",
                "tag:Environment",
                "tag:ManagedBy",
                "tag:ServiceLine"
            ]
        );
        assert!(
            report.done.iter().all(|d| d.starts_with("would ")),
            "{:?}",
            report.done
        );
        assert!(report.non_compliant() && !report.needs_person());

        let fixed = classify(
            &resource,
            &bare,
            &decided,
            Execution::Enforced(&[Ok(()), Ok(())]),
        );
        assert_eq!(fixed.outcome, Outcome::Fixed);
        assert!(!fixed.non_compliant());
        let failed = classify(
            &resource,
            &bare,
            &decided,
            Execution::Enforced(&[Ok(()), Err("AccessDenied".into())]),
        );
        assert_eq!(failed.outcome, Outcome::Failed);
        assert!(failed.error.as_deref().unwrap().contains("AccessDenied"));
        assert!(failed.non_compliant() && failed.needs_person());
    }

    #[test]
    fn findings_and_opt_outs_are_exceptions_only_findings_need_a_person() {
        let config = config();
        let resource = topic("corebound-demo-a");
        let foreign = state(
            &ALL_TAGS,
            Some("arn:aws:kms:us-east-1:123456789012:key/other"),
        );
        let decided = plan(&resource, &foreign, &config);
        let result = classify(&resource, &foreign, &decided, Execution::Enforced(&[]));
        assert_eq!(result.outcome, Outcome::Exception);
        assert_eq!(result.missing, ["cmk-encryption"]);
        assert!(result.non_compliant() && result.needs_person());

        let opted = state(&[("corebound:remediation", "off")], None);
        let decided = plan(&resource, &opted, &config);
        let result = classify(&resource, &opted, &decided, Execution::Enforced(&[]));
        assert_eq!(result.outcome, Outcome::Exception);
        assert_eq!(result.exceptions.len(), 1);
        assert!(!result.non_compliant() && !result.needs_person());

        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["type"], "sns_topic");
        assert_eq!(json["outcome"], "exception");
        let back: ResourceResult = serde_json::from_value(json).unwrap();
        assert_eq!(back, result);
    }
}
