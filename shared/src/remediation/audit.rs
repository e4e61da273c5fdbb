//! Audit records: one JSON object per decision, logged as one line each.
//!
//! The format is an interface for the people and queries reading the logs, so field
//! names and values are stable:
//!
//! ```json
//! {"event_id": "5d0f6b1e-…",
//!  "resource": "arn:aws:sns:us-east-1:123456789012:corebound-demo-alerts",
//!  "rule": "cmk-encryption",
//!  "state_before": {"tags": {}, "encryption": {"kind": "sns_topic", "kms_master_key_id": null}},
//!  "action": "encrypted", "result": "ok",
//!  "detail": {"action": "set_encryption", "change": "sns_topic_key", "key_arn": "arn:aws:kms:…"}}
//! ```
//!
//! - `event_id`: the EventBridge event id.
//! - `resource`: the resource ARN, or the queue URL or name when there is no ARN.
//! - `rule`: `mandatory-tags`, `cmk-encryption`, `role-prefix`, `scope`, `opt-out`, or
//!   `event-filter` (events skipped before any resource is read).
//! - `state_before`: what was read before deciding (`null` for skipped events).
//! - `action`: `tagged`, `encrypted`, `would tag`, `would encrypt` (report mode), `none`
//!   (compliant or skipped) or `reported` (a finding for a person).
//! - `result`: `ok`, `failed: <error>` or `skipped: <reason>`.
//! - `detail`: the planned action, finding or skip reason as JSON; `null` when compliant.

use std::fmt;

use serde::{Serialize, Serializer};
use serde_json::Value;

use super::event::{CreateEvent, ResourceRef};
use super::plan::{Action, ObservedState, Plan};
use super::rules::SkipReason;

/// The rule a decision applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    MandatoryTags,
    CmkEncryption,
    RolePrefix,
    Scope,
    OptOut,
    EventFilter,
}

/// What was done (or, in report mode, would have been).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    Tagged,
    Encrypted,
    WouldTag,
    WouldEncrypt,
    None,
    Reported,
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tagged => "tagged",
            Self::Encrypted => "encrypted",
            Self::WouldTag => "would tag",
            Self::WouldEncrypt => "would encrypt",
            Self::None => "none",
            Self::Reported => "reported",
        })
    }
}

/// How it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditResult {
    Ok,
    Failed(String),
    Skipped(String),
}

impl fmt::Display for AuditResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ok => f.write_str("ok"),
            Self::Failed(error) => write!(f, "failed: {error}"),
            Self::Skipped(reason) => write!(f, "skipped: {reason}"),
        }
    }
}

/// Serialises the action and result as the plain strings the module docs list.
fn as_text<T: fmt::Display, S: Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// One decision, as logged (format in the module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    pub event_id: String,
    pub resource: String,
    pub rule: Rule,
    pub state_before: Value,
    #[serde(serialize_with = "as_text")]
    pub action: AuditAction,
    #[serde(serialize_with = "as_text")]
    pub result: AuditResult,
    pub detail: Value,
}

impl AuditRecord {
    /// The record of an event that [`triage`](super::triage) skipped. An event that
    /// should have been handled but does not identify its resource is `reported`.
    pub fn skipped(event: &CreateEvent, reason: &SkipReason) -> Self {
        let resource = event.resource.as_ref().map_or_else(
            || format!("{} {}", event.event_source, event.event_name),
            |resource| resource.identifier().to_string(),
        );
        let action = match reason {
            SkipReason::ResourceNotInEvent { .. }
            | SkipReason::NoSettings { .. }
            | SkipReason::AccountUnreachable { .. } => AuditAction::Reported,
            _ => AuditAction::None,
        };
        let rule = match reason {
            SkipReason::OutOfScope { .. } => Rule::Scope,
            _ => Rule::EventFilter,
        };
        Self {
            event_id: event.event_id.clone(),
            resource,
            rule,
            state_before: Value::Null,
            action,
            result: AuditResult::Skipped(reason.to_string()),
            detail: to_json(reason),
        }
    }

    /// True for records an alert must carry to a person: findings and failures.
    pub fn needs_person(&self) -> bool {
        self.action == AuditAction::Reported || matches!(self.result, AuditResult::Failed(_))
    }
}

/// How a plan's actions were carried out.
#[derive(Debug, Clone, Copy)]
pub enum Execution<'a> {
    /// Report mode: nothing was written.
    Report,
    /// Enforce mode: the outcome of each action, in plan order; an action without an
    /// outcome (the handler stopped after a failure) is audited as not attempted.
    Enforced(&'a [Result<(), String>]),
}

/// The records for one planned resource: each action, then each finding, then each
/// exception (a rule deliberately not applied), then each rule found compliant.
pub fn plan_records(
    event_id: &str,
    resource: &ResourceRef,
    before: &ObservedState,
    plan: &Plan,
    execution: Execution<'_>,
) -> Vec<AuditRecord> {
    let state_before = to_json(before);
    let record = |rule, action, result, detail| AuditRecord {
        event_id: event_id.to_string(),
        resource: resource.identifier().to_string(),
        rule,
        state_before: state_before.clone(),
        action,
        result,
        detail,
    };
    let actions = plan.actions.iter().enumerate().map(|(index, action)| {
        let tags = !matches!(action, Action::SetEncryption(_));
        let (audit_action, result) = match execution {
            Execution::Report if tags => (AuditAction::WouldTag, AuditResult::Ok),
            Execution::Report => (AuditAction::WouldEncrypt, AuditResult::Ok),
            Execution::Enforced(outcomes) => (
                if tags {
                    AuditAction::Tagged
                } else {
                    AuditAction::Encrypted
                },
                match outcomes.get(index) {
                    Some(Ok(())) => AuditResult::Ok,
                    Some(Err(error)) => AuditResult::Failed(error.clone()),
                    None => AuditResult::Skipped("not attempted".to_string()),
                },
            ),
        };
        record(action.rule(), audit_action, result, to_json(action))
    });
    // Findings nobody must act on (another team's resource) are recorded, not reported.
    let findings = plan.findings.iter().map(|finding| {
        let (action, result) = if finding.needs_person() {
            (AuditAction::Reported, AuditResult::Ok)
        } else {
            (AuditAction::None, AuditResult::Skipped(finding.to_string()))
        };
        record(finding.rule(), action, result, to_json(finding))
    });
    let exceptions = plan.exceptions.iter().map(|exception| {
        record(
            exception.rule(),
            AuditAction::None,
            AuditResult::Skipped(exception.to_string()),
            to_json(exception),
        )
    });
    let compliant = plan
        .compliant
        .iter()
        .map(|rule| record(*rule, AuditAction::None, AuditResult::Ok, Value::Null));
    actions
        .chain(findings)
        .chain(exceptions)
        .chain(compliant)
        .collect()
}

/// These types serialise to JSON infallibly (string map keys only).
fn to_json(value: &impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remediation::authenticity::TrustedAccounts;
    use crate::remediation::config::tests::sample;
    use crate::remediation::event::tests::fixture;
    use crate::remediation::plan::plan;
    use crate::remediation::plan::tests::fresh;
    use crate::remediation::rules;
    use serde_json::json;

    fn triage<'a>(
        event: &'a CreateEvent,
        config: &crate::remediation::RemediationConfig,
    ) -> Result<&'a ResourceRef, SkipReason> {
        let trusted = TrustedAccounts::learn(config.self_role_arn.as_deref(), None);
        rules::triage(event, config, &trusted)
    }

    #[test]
    fn out_of_scope_is_recorded_not_reported() {
        let config = sample();
        let mut event = fixture("create-bucket.json");
        event.resource = Some(ResourceRef::S3Bucket {
            name: "payments-ledger".into(),
        });
        let reason = triage(&event, &config).unwrap_err();
        let record = AuditRecord::skipped(&event, &reason);
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["rule"], "scope");
        assert_eq!(json["action"], "none");
        assert_eq!(
            json["result"],
            "skipped: out of scope: payments-ledger matches no SCOPE_PATTERNS"
        );
        assert!(!record.needs_person());
        // A key whose aliases are out of scope: the plan's finding is recorded the same way.
        let (key, mut before) = fresh("create-key.json");
        before.key_aliases = vec!["alias/payments".into()];
        let decided = plan(&key, &before, &config);
        let records = plan_records("e", &key, &before, &decided, Execution::Report);
        assert_eq!(
            summary(&records),
            owned(&[(
                "scope",
                "none",
                "skipped: out of scope: payments matches no SCOPE_PATTERNS"
            )])
        );
        assert!(records.iter().all(|r| !r.needs_person()));
    }

    fn summary(records: &[AuditRecord]) -> Vec<(String, String, String)> {
        records
            .iter()
            .map(|record| {
                let json = serde_json::to_value(record).unwrap();
                let text = |field: &str| json[field].as_str().unwrap().to_string();
                (text("rule"), text("action"), text("result"))
            })
            .collect()
    }

    /// (rule, action, result) as serialised.
    type Row<'a> = (&'a str, &'a str, &'a str);

    fn owned(rows: &[Row<'_>]) -> Vec<(String, String, String)> {
        rows.iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect()
    }

    #[test]
    fn records_per_execution() {
        let (resource, before) = fresh("create-memory.json");
        let decided = plan(&resource, &before, &sample());
        let failed = [Err("AccessDenied: not authorized".to_string())];
        // (case, execution, expected (rule, action, result) rows)
        let cases: Vec<(&str, Execution<'_>, Vec<Row<'_>>)> = vec![
            (
                "report mode",
                Execution::Report,
                vec![
                    ("mandatory-tags", "would tag", "ok"),
                    ("cmk-encryption", "reported", "ok"),
                    ("scope", "none", "ok"),
                ],
            ),
            (
                "enforced",
                Execution::Enforced(&[Ok(())]),
                vec![
                    ("mandatory-tags", "tagged", "ok"),
                    ("cmk-encryption", "reported", "ok"),
                    ("scope", "none", "ok"),
                ],
            ),
            (
                "failed",
                Execution::Enforced(&failed),
                vec![
                    (
                        "mandatory-tags",
                        "tagged",
                        "failed: AccessDenied: not authorized",
                    ),
                    ("cmk-encryption", "reported", "ok"),
                    ("scope", "none", "ok"),
                ],
            ),
            (
                "not attempted",
                Execution::Enforced(&[]),
                vec![
                    ("mandatory-tags", "tagged", "skipped: not attempted"),
                    ("cmk-encryption", "reported", "ok"),
                    ("scope", "none", "ok"),
                ],
            ),
        ];
        for (case, execution, rows) in cases {
            let records = plan_records("e-1", &resource, &before, &decided, execution);
            assert_eq!(summary(&records), owned(&rows), "{case}");
        }
    }

    #[test]
    fn encryption_actions_read_encrypted() {
        let (resource, before) = fresh("create-topic.json");
        let decided = plan(&resource, &before, &sample());
        let report = plan_records("e", &resource, &before, &decided, Execution::Report);
        assert_eq!(report[1].action, AuditAction::WouldEncrypt);
        let done = plan_records(
            "e",
            &resource,
            &before,
            &decided,
            Execution::Enforced(&[Ok(()), Ok(())]),
        );
        assert_eq!(done[1].action, AuditAction::Encrypted);
        assert!(done.iter().all(|record| !record.needs_person()));
    }

    #[test]
    fn a_record_has_the_documented_shape() {
        let event = fixture("create-topic.json");
        let config = sample();
        let resource = triage(&event, &config).unwrap();
        let (_, before) = fresh("create-topic.json");
        let decided = plan(resource, &before, &config);
        let records = plan_records(
            &event.event_id,
            resource,
            &before,
            &decided,
            Execution::Enforced(&[Ok(()), Ok(())]),
        );
        let json = serde_json::to_value(&records[1]).unwrap();
        assert_eq!(
            json,
            json!({
                "event_id": "5d0f6b1e-7c2a-4b8e-9a41-3f6d2c1b0a91",
                "resource": "arn:aws:sns:us-east-1:123456789012:corebound-demo-alerts",
                "rule": "cmk-encryption",
                "state_before": {
                    "tags": {},
                    "encryption": {"kind": "sns_topic", "kms_master_key_id": null},
                },
                "action": "encrypted",
                "result": "ok",
                "detail": {
                    "action": "set_encryption",
                    "change": "sns_topic_key",
                    "key_arn": config.kms_key_arn,
                },
            })
        );
    }

    #[test]
    fn skipped_events_are_audited() {
        let config = sample();
        let failed = fixture("create-topic-failed.json");
        let reason = triage(&failed, &config).unwrap_err();
        let record = AuditRecord::skipped(&failed, &reason);
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["rule"], "event-filter");
        assert_eq!(json["resource"], "sns.amazonaws.com CreateTopic");
        assert_eq!(json["action"], "none");
        assert_eq!(json["result"], "skipped: failed call (AuthorizationError)");
        assert_eq!(json["state_before"], Value::Null);
        assert_eq!(
            json["detail"],
            json!({"skip": "failed_call", "error_code": "AuthorizationError"})
        );
        assert!(!record.needs_person());

        let mut anonymous = fixture("create-queue.json");
        anonymous.resource = None;
        let reason = triage(&anonymous, &config).unwrap_err();
        let record = AuditRecord::skipped(&anonymous, &reason);
        assert_eq!(record.action, AuditAction::Reported);
        assert!(record.needs_person());

        let mut own = fixture("create-queue.json");
        own.actor.session_issuer_arn = config.self_role_arn.clone();
        let reason = triage(&own, &config).unwrap_err();
        let record = AuditRecord::skipped(&own, &reason);
        assert_eq!(
            record.resource,
            "https://sqs.us-east-1.amazonaws.com/123456789012/corebound-demo-jobs"
        );
        assert!(!record.needs_person());
    }

    #[test]
    fn findings_and_failures_need_a_person() {
        let (resource, before) = fresh("create-memory.json");
        let decided = plan(&resource, &before, &sample());
        let failed = [Err("boom".to_string())];
        let records = plan_records(
            "e",
            &resource,
            &before,
            &decided,
            Execution::Enforced(&failed),
        );
        let flags: Vec<bool> = records.iter().map(AuditRecord::needs_person).collect();
        assert_eq!(flags, [true, true, false]);
    }
}
