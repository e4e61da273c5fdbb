//! One EventBridge event: parse → triage → read the resource → plan → (enforce mode) write →
//! audit records → alert → fail the invocation if a write or read failed for good.
//!
//! Every decision is one JSON line on stdout (the [`AuditRecord`] format plus
//! `"type": "audit"`), which Lambda ships to the function's log group as is. A persistent
//! failure returns an error after the records and the alert are out, so Lambda's
//! asynchronous retries run the event again (idempotent: what was fixed reads compliant)
//! and, once they are spent, the on-failure destination receives it.
//!
//! A resource that cannot be read (after the retries) is audited as one record with rule
//! `event-filter`, action `none`, result `failed: …` and `detail.stage = "read_state"`:
//! no rule could be judged. Audit lines carry no `level`, so Lambda's log-level filter
//! never drops them.

use std::io::Write;
use std::time::{Duration, Instant, SystemTime};

use corebound::custom_resource::handler_budget;
use corebound::remediation::{
    guard_key_switch, needs_key_policy, plan, plan_records, triage, Action, AuditAction,
    AuditRecord, AuditResult, CreateEvent, Execution, Mode, RemediationConfig, ResourceRef, Rule,
};
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};

use crate::alerts::Alert;
use crate::apply::apply;
use crate::clients::Clients;
use crate::observe::observe;
use crate::retry::{CallError, RetryPolicy};

/// Kept back from the Lambda deadline for the audit records, the alert and the error.
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);
/// The budget when the deadline is unknown (local runners): the template's timeout.
const FALLBACK_BUDGET: Duration = Duration::from_secs(60);

pub struct Remediator {
    pub config: RemediationConfig,
    pub retry: RetryPolicy,
    pub clients: Clients,
}

/// The invocation failed: Lambda retries it, then hands it to the on-failure destination.
#[derive(Debug, thiserror::Error)]
#[error("remediation of {resource} (event {event_id}) failed: {}", failures.join("; "))]
pub struct RemediationFailed {
    pub event_id: String,
    pub resource: String,
    pub failures: Vec<String>,
}

impl From<RemediationFailed> for lambda_runtime::Diagnostic {
    fn from(error: RemediationFailed) -> Self {
        lambda_runtime::Diagnostic {
            error_type: "RemediationFailed".to_string(),
            error_message: error.to_string(),
        }
    }
}

/// What happened to one event, before it is logged and alerted.
struct Outcome {
    resource: String,
    records: Vec<AuditRecord>,
    /// Human-readable lines for the alert (findings and failures).
    lines: Vec<String>,
    /// Failures that make the invocation fail.
    failures: Vec<String>,
    writes: usize,
}

impl Remediator {
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, RemediationFailed> {
        let parsed = CreateEvent::from_eventbridge(&event.payload);
        // Retries stop early enough to log, alert and fail before Lambda's timeout.
        let budget = handler_budget(
            event.context.deadline,
            SystemTime::now(),
            DEADLINE_MARGIN,
            FALLBACK_BUDGET,
        );
        let retry = self.retry.until(Instant::now() + budget);
        let Outcome {
            resource,
            records,
            lines,
            mut failures,
            writes,
        } = self.remediate(&parsed, &retry).await;

        for record in &records {
            emit(record);
        }
        let needs_person = records.iter().filter(|r| r.needs_person()).count();
        if let Some(topic) = &self.config.alert_topic_arn {
            let alert = Alert::compose(
                &parsed.event_id,
                &resource,
                self.config.mode,
                &lines,
                &records,
            );
            if let Some(alert) = alert {
                if let Err(error) = alert.publish(&self.clients.sns, &retry, topic).await {
                    tracing::error!(%error, topic, "could not publish the alert");
                    failures.push(error.to_string());
                }
            }
        }
        tracing::info!(
            event_id = %parsed.event_id,
            %resource,
            writes,
            needs_person,
            failures = failures.len(),
            "event handled"
        );
        if !failures.is_empty() {
            return Err(RemediationFailed {
                event_id: parsed.event_id,
                resource,
                failures,
            });
        }
        Ok(json!({
            "event_id": parsed.event_id,
            "resource": resource,
            "mode": self.config.mode,
            "records": records.len(),
            "writes": writes,
            "needs_person": needs_person,
        }))
    }

    async fn remediate(&self, event: &CreateEvent, retry: &RetryPolicy) -> Outcome {
        let resource = match triage(event, &self.config) {
            Ok(resource) => resource,
            Err(reason) => {
                let record = AuditRecord::skipped(event, &reason);
                let lines = if record.needs_person() {
                    vec![reason.to_string()]
                } else {
                    Vec::new()
                };
                return Outcome {
                    resource: record.resource.clone(),
                    records: vec![record],
                    lines,
                    failures: Vec::new(),
                    writes: 0,
                };
            }
        };

        // Bucket ARNs carry no region or account, only the partition (the key's).
        let partition = self.config.kms_key_arn.split(':').nth(1).unwrap_or("aws");
        let observed = match observe(&self.clients, retry, partition, resource).await {
            Ok(observed) => observed,
            Err(error) => return read_failed(event, resource, &error),
        };

        let mut decided = plan(&observed.resource, &observed.state, &self.config);
        // A switch to the CMK must not break a delivery into the resource (or Logs' use
        // of the key): the key policy is read then, once for this invocation.
        let kind = observed.resource.kind();
        if needs_key_policy(&decided, kind, &observed.state) {
            let key_policy =
                crate::project_key::key_policy(&self.clients, retry, &self.config.kms_key_arn)
                    .await;
            let read = match &key_policy {
                Ok(policy) => Ok(policy),
                Err(error) => Err(error.as_str()),
            };
            guard_key_switch(&mut decided, kind, &observed.state, read);
        }
        let mut outcomes: Vec<Result<(), String>> = Vec::new();
        if self.config.mode == Mode::Enforce {
            // The actions are independent (tags, encryption): a failed one does not stop the others.
            for action in &decided.actions {
                let outcome = apply(&self.clients, retry, &observed.target, action).await;
                outcomes.push(outcome.map_err(|error| error.to_string()));
            }
        }
        let execution = match self.config.mode {
            Mode::Report => Execution::Report,
            Mode::Enforce => Execution::Enforced(&outcomes),
        };
        let records = plan_records(
            &event.event_id,
            &observed.resource,
            &observed.state,
            &decided,
            execution,
        );

        let failures: Vec<String> = decided
            .actions
            .iter()
            .zip(&outcomes)
            .filter_map(|(action, outcome)| {
                outcome
                    .as_ref()
                    .err()
                    .map(|error| format!("{} failed: {error}", describe(action)))
            })
            .collect();
        let lines = decided
            .findings
            .iter()
            .map(ToString::to_string)
            .chain(failures.iter().cloned())
            .collect();
        Outcome {
            resource: observed.resource.identifier().to_string(),
            records,
            lines,
            writes: outcomes.iter().filter(|outcome| outcome.is_ok()).count(),
            failures,
        }
    }
}

/// The resource could not be read (for good, after the retries): nothing was decided.
fn read_failed(event: &CreateEvent, resource: &ResourceRef, error: &CallError) -> Outcome {
    let line = format!("could not read the current state: {error}");
    let record = AuditRecord {
        event_id: event.event_id.clone(),
        resource: resource.identifier().to_string(),
        rule: Rule::EventFilter,
        state_before: Value::Null,
        action: AuditAction::None,
        result: AuditResult::Failed(error.to_string()),
        detail: json!({
            "stage": "read_state",
            "operation": error.operation,
            "error_code": error.code,
            "error": error.message,
        }),
    };
    Outcome {
        resource: record.resource.clone(),
        records: vec![record],
        lines: vec![line.clone()],
        failures: vec![line],
        writes: 0,
    }
}

fn describe(action: &Action) -> String {
    match action {
        Action::AddTags { tags } | Action::ReplaceBucketTags { tags } => {
            let keys: Vec<&str> = tags.keys().map(String::as_str).collect();
            format!("tagging ({})", keys.join(", "))
        }
        Action::SetEncryption(_) => "encrypting with the project CMK".to_string(),
    }
}

/// One audit record as one JSON line on stdout.
pub fn emit(record: &AuditRecord) {
    let mut line = match serde_json::to_value(record) {
        Ok(Value::Object(fields)) => fields,
        _ => return,
    };
    line.insert("type".to_string(), Value::String("audit".to_string()));
    let mut stdout = std::io::stdout().lock();
    // Nothing sensible is left to do if stdout is gone.
    let _ = writeln!(stdout, "{}", Value::Object(line));
    let _ = stdout.flush();
}
