//! One EventBridge event: parse → triage (authenticity, scope by the event's name; no read)
//! → defer a tool-made bucket → identify (KMS aliases, redacted names) → scope → read the
//! resource → plan → (enforce mode) write → audit records → alert (first attempt only) →
//! retry through the deferral queue, or fail the invocation, if a read or write failed.
//!
//! The function is invoked two ways (see `corebound::remediation::Delivery`): by EventBridge
//! with one event, and by the deferral queue's event source mapping with a batch of events it
//! handed back to itself (deferred buckets, retries). Each event goes through [`Remediator::one`].
//!
//! Every decision is one JSON line on stdout (the [`AuditRecord`] format plus
//! `"type": "audit"`), which Lambda ships to the function's log group as is. A persistent
//! failure, after the records and the (first-attempt) alert are out, hands the event to the
//! deferral queue as the next numbered retry; without the queue, or once the retries are
//! spent, the invocation (or the batch item) fails, so Lambda's asynchronous retries or the
//! queue's redrive take over (idempotent: what was fixed reads compliant) and, in the end,
//! the dead-letter queue receives it.
//!
//! A resource that cannot be read (after the retries) is audited as one record with rule
//! `event-filter`, action `none`, result `failed: …` and `detail.stage = "read_state"`:
//! no rule could be judged; one that no longer exists is recorded as gone. Audit lines carry
//! no `level`, so Lambda's log-level filter never drops them.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use corebound::custom_resource::handler_budget;
use corebound::remediation::{
    alert_on_failure, deferred_create, guard_key_switch, needs_key_policy, plan, plan_records,
    restrict_to_trigger, retry_delay, scope_of_names, triage, Action, Attempt, AuditAction,
    AuditRecord, AuditResult, CreateEvent, DeferralConfig, Delivery, Execution, Finding, Mode,
    ObservedState, Plan, QueuedRecord, Redelivery, RedeliveryReason, RemediationConfig,
    ResourceKind, ResourceRef, Rule, SkipReason, Trigger, TrustedAccounts,
};
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};

use crate::alerts::Alert;
use crate::apply::apply;
use crate::bucket_tags::write_bucket_tags;
use crate::clients::Clients;
use crate::deferral::requeue;
use crate::observe::{identify, observe, Identified};
use crate::retry::{CallError, FailureKind, RetryPolicy};
use crate::targets::{stale_credentials, SpokeRole, Target, Targets};
use corebound::accounts::AccountSettings;

/// Kept back from the Lambda deadline for the audit records, the alert and the error.
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);
/// The budget when the deadline is unknown (local runners): the template's timeout.
const FALLBACK_BUDGET: Duration = Duration::from_secs(60);
/// Event ids whose failure this execution environment already alerted (no deferral queue).
const ALERTED_MEMORY: usize = 1024;

pub struct Remediator {
    pub config: RemediationConfig,
    pub retry: RetryPolicy,
    pub deferral: DeferralConfig,
    /// The function's own clients (its account and region): alerts, the deferral queue.
    pub clients: Clients,
    /// `ACCOUNT_SETTINGS`: which accounts are acted on, and each one's tags, keys and mode.
    pub accounts: AccountSettings,
    /// Clients bound to each event's (account, region).
    pub targets: Targets,
    /// Without `DEFERRAL_QUEUE_URL`, Lambda's own retries run the event again with nothing
    /// that tells a retry apart; a retry that lands in the same (warm) execution environment
    /// is recognised here and not alerted again.
    pub alerted: Mutex<VecDeque<String>>,
}

/// The invocation failed: Lambda retries it, then hands it to the dead-letter queue.
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
    /// Failures that make the event fail.
    failures: Vec<String>,
    writes: usize,
    /// The mode the event was judged in (its account's); `None`: the function's.
    mode: Option<Mode>,
    /// A call was refused for expired or revoked credentials (a spoke session mid-burst).
    stale_credentials: bool,
}

impl Outcome {
    fn skipped(event: &CreateEvent, reason: &SkipReason, resource: Option<&str>) -> Self {
        let mut record = AuditRecord::skipped(event, reason);
        if let Some(resource) = resource {
            record.resource = resource.to_string();
        }
        let lines = if record.needs_person() {
            vec![reason.to_string()]
        } else {
            Vec::new()
        };
        Outcome {
            resource: record.resource.clone(),
            records: vec![record],
            lines,
            failures: Vec::new(),
            writes: 0,
            mode: None,
            stale_credentials: false,
        }
    }
}

/// What [`Remediator::fix`] did to one resource.
#[derive(Debug, Clone)]
pub struct Fix {
    /// The resource as read (AgentCore and secrets found by name carry their ARN).
    pub resource: ResourceRef,
    pub state: ObservedState,
    /// The plan as carried out (a memory whose tags the service refuses has the finding
    /// instead of the tag action).
    pub plan: Plan,
    /// Enforce mode: each action's outcome, in plan order; report mode: empty.
    pub outcomes: Vec<Result<(), String>>,
    /// A write failed with throttling or a server fault (after the retries): worth another try.
    pub transient_failure: bool,
    pub records: Vec<AuditRecord>,
    /// A write was refused for expired or revoked credentials (a spoke session).
    pub stale_credentials: bool,
}

/// How the event arrived.
#[derive(Debug, Clone, Copy)]
struct Arrival {
    /// `None`: straight from EventBridge; else the queued message's `corebound` member.
    redelivery: Option<Redelivery>,
    attempt: Attempt,
}

impl Remediator {
    /// The remediator the `corebound` command runs in-process, with no deferral queue
    /// (nothing is handed back to SQS). `accounts`: `ACCOUNT_SETTINGS` as the hub reads it
    /// (other accounts are reached through `SPOKE_ROLE_NAME`); `None`, the account and region
    /// of the caller's credentials only.
    pub fn for_command(
        config: RemediationConfig,
        retry: RetryPolicy,
        sdk: &aws_config::SdkConfig,
        clients: Clients,
        accounts: Option<AccountSettings>,
    ) -> Result<Self, corebound::remediation::ConfigError> {
        let region = sdk.region().map(ToString::to_string);
        let accounts =
            accounts.unwrap_or_else(|| AccountSettings::single_account(&config, region.as_deref()));
        let targets = Targets::new(sdk, clients.clone(), SpokeRole::of(&config));
        Ok(Remediator {
            config,
            retry,
            deferral: DeferralConfig::from_env(|_| None)?,
            clients,
            accounts,
            targets,
            alerted: Default::default(),
        })
    }

    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, RemediationFailed> {
        // Retries stop early enough to log, alert and fail before Lambda's timeout.
        let budget = handler_budget(
            event.context.deadline,
            SystemTime::now(),
            DEADLINE_MARGIN,
            FALLBACK_BUDGET,
        );
        let retry = self.retry.until(Instant::now() + budget);
        let trusted = TrustedAccounts::learn(
            Some(event.context.invoked_function_arn.as_str()),
            self.config.self_role_arn.as_deref(),
        )
        .with_others(self.accounts.other_accounts());
        match Delivery::from_payload(event.payload) {
            Delivery::Direct(payload) => {
                let arrival = Arrival {
                    redelivery: None,
                    attempt: Attempt {
                        failures: 0,
                        receive_count: 1,
                    },
                };
                self.one(&payload, arrival, &trusted, &retry).await
            }
            Delivery::Queued(records) => {
                let mut failed = Vec::new();
                for record in records {
                    if !self.queued(&record, &trusted, &retry).await {
                        failed.push(json!({"itemIdentifier": record.message_id}));
                    }
                }
                // The event source mapping's ReportBatchItemFailures answer: only these
                // messages stay in the queue (and reach its dead-letter queue in the end).
                Ok(json!({"batchItemFailures": failed}))
            }
        }
    }

    /// One record of a deferral-queue batch; false when it must stay in the queue.
    async fn queued(
        &self,
        record: &QueuedRecord,
        trusted: &TrustedAccounts,
        retry: &RetryPolicy,
    ) -> bool {
        let requeued = match (
            &record.body,
            self.deferral.is_our_queue(&record.event_source_arn),
        ) {
            (Ok(requeued), true) => requeued,
            (body, ours) => {
                // Not ours to act on: recorded and consumed, never retried.
                let reason = if ours {
                    body.as_ref().err().cloned().unwrap_or_default()
                } else {
                    format!(
                        "SQS record from {} is not from DEFERRAL_QUEUE_URL",
                        record.event_source_arn
                    )
                };
                emit(&AuditRecord {
                    event_id: record.message_id.clone(),
                    resource: record.event_source_arn.clone(),
                    rule: Rule::EventFilter,
                    state_before: Value::Null,
                    action: AuditAction::None,
                    result: AuditResult::Skipped(reason),
                    detail: json!({"skip": "not_a_deferral_message"}),
                });
                return true;
            }
        };
        let arrival = Arrival {
            redelivery: Some(requeued.corebound),
            attempt: Attempt {
                failures: requeued.corebound.failures,
                receive_count: record.receive_count,
            },
        };
        self.one(&requeued.event, arrival, trusted, retry)
            .await
            .is_ok()
    }

    /// One EventBridge event, however it arrived.
    async fn one(
        &self,
        payload: &Value,
        arrival: Arrival,
        trusted: &TrustedAccounts,
        retry: &RetryPolicy,
    ) -> Result<Value, RemediationFailed> {
        let parsed = CreateEvent::from_eventbridge(payload);
        let Outcome {
            resource,
            records,
            lines,
            mut failures,
            writes,
            mode,
            ..
        } = self
            .remediate(&parsed, payload, arrival, trusted, retry)
            .await;
        let mode = mode.unwrap_or(self.config.mode);

        for record in &records {
            emit(record);
        }
        let needs_person = records.iter().filter(|r| r.needs_person()).count();
        // Findings and failures are told once per event: on its first attempt.
        let first_attempt = alert_on_failure(arrival.attempt);
        let alert_now =
            first_attempt && (failures.is_empty() || self.first_failure_here(&parsed.event_id));
        if let (Some(topic), true) = (&self.config.alert_topic_arn, alert_now) {
            let alert = Alert::compose(&parsed.event_id, &resource, mode, &lines, &records);
            if let Some(alert) = alert {
                if let Err(error) = alert.publish(&self.clients.sns, retry, topic).await {
                    tracing::error!(%error, topic, "could not publish the alert");
                    failures.push(error.to_string());
                }
            }
        }
        let mut retry_in = None;
        if !failures.is_empty() {
            if let (Some(queue), Some(delay)) = (
                &self.deferral.queue_url,
                retry_delay(arrival.attempt, self.deferral.retry_delay_seconds),
            ) {
                let redelivery = Redelivery {
                    reason: RedeliveryReason::Retry,
                    failures: arrival.attempt.failures + 1,
                };
                match requeue(&self.clients, retry, queue, payload, redelivery, delay).await {
                    Ok(()) => retry_in = Some(delay),
                    Err(error) => {
                        tracing::error!(%error, "could not queue the retry");
                        failures.push(error.to_string());
                    }
                }
            }
        }
        tracing::info!(
            event_id = %parsed.event_id,
            %resource,
            writes,
            needs_person,
            failures = failures.len(),
            attempt = arrival.attempt.failures,
            retry_in_seconds = ?retry_in,
            "event handled"
        );
        if !failures.is_empty() && retry_in.is_none() {
            return Err(RemediationFailed {
                event_id: parsed.event_id,
                resource,
                failures,
            });
        }
        Ok(json!({
            "event_id": parsed.event_id,
            "resource": resource,
            "mode": mode,
            "records": records.len(),
            "writes": writes,
            "needs_person": needs_person,
            "failures": failures.len(),
            "retry_in_seconds": retry_in,
        }))
    }

    /// True the first time this execution environment sees `event_id` fail (remembered for
    /// the last [`ALERTED_MEMORY`] events). With the deferral queue every attempt is
    /// numbered and this is always true on the first.
    fn first_failure_here(&self, event_id: &str) -> bool {
        if self.deferral.queue_url.is_some() {
            return true;
        }
        let Ok(mut alerted) = self.alerted.lock() else {
            return true;
        };
        if alerted.iter().any(|seen| seen == event_id) {
            return false;
        }
        if alerted.len() == ALERTED_MEMORY {
            alerted.pop_front();
        }
        alerted.push_back(event_id.to_string());
        true
    }

    async fn remediate(
        &self,
        event: &CreateEvent,
        payload: &Value,
        arrival: Arrival,
        trusted: &TrustedAccounts,
        retry: &RetryPolicy,
    ) -> Outcome {
        let resource = match triage(event, &self.config, trusted) {
            Ok(resource) => resource,
            Err(reason) => return Outcome::skipped(event, &reason, None),
        };
        if let Some(outcome) = self.defer(event, payload, arrival, retry).await {
            return outcome;
        }
        let target = Target::of(event);
        let own = trusted.own.as_deref();
        let settings = match self.accounts.resolve(&target.account, &target.region, own) {
            Ok(settings) => settings,
            Err(unresolved) => {
                let reason = SkipReason::NoSettings {
                    account: target.account.clone(),
                    region: target.region.clone(),
                    reason: unresolved.to_string(),
                };
                return Outcome::skipped(event, &reason, None);
            }
        };
        let partition = trusted.partition.as_deref().unwrap_or("aws");
        // A spoke session expired or revoked in the middle of a burst is re-assumed once.
        let mut reassumed = false;
        loop {
            let bound = match self.targets.clients(&target, own, partition, retry).await {
                Ok(bound) => bound,
                Err(unreachable) if unreachable.transient => {
                    let line = unreachable.to_string();
                    let mut outcome = Outcome::skipped(
                        event,
                        &SkipReason::AccountUnreachable {
                            account: unreachable.account.clone(),
                            role_arn: unreachable.role_arn.clone(),
                            error_code: unreachable.error_code.clone(),
                            reason: unreachable.reason.clone(),
                        },
                        None,
                    );
                    // Throttled or timed out: retried like any failed read.
                    outcome.failures.push(line);
                    return outcome;
                }
                Err(unreachable) => {
                    let reason = SkipReason::AccountUnreachable {
                        account: unreachable.account,
                        role_arn: unreachable.role_arn,
                        error_code: unreachable.error_code,
                        reason: unreachable.reason,
                    };
                    return Outcome::skipped(event, &reason, None);
                }
            };
            let mut config = settings.apply_to(&self.config);
            if bound.assumed_role.is_some() || config.kms_key_arn != self.config.kms_key_arn {
                config.key_status = self
                    .targets
                    .key_status(&target, &bound.clients, &config.kms_key_arn, retry)
                    .await;
            }
            let mut outcome = self
                .remediate_in(event, resource, &bound.clients, &config, partition, retry)
                .await;
            if outcome.stale_credentials && bound.assumed_role.is_some() && !reassumed {
                tracing::warn!(
                    account = %target.account,
                    "the spoke session was refused (expired or revoked): assuming the role again"
                );
                self.targets.invalidate(&target.account);
                reassumed = true;
                continue;
            }
            if bound.assumed_role.is_some() {
                // The resource's ARN does not always name its account (S3): the lines do.
                for line in outcome.lines.iter_mut().chain(outcome.failures.iter_mut()) {
                    *line = format!("in account {} ({}): {line}", target.account, target.region);
                }
            }
            outcome.mode = Some(config.mode);
            return outcome;
        }
    }

    /// The observe → plan → apply of one resource with clients and settings bound to the
    /// event's account and region.
    async fn remediate_in(
        &self,
        event: &CreateEvent,
        resource: &ResourceRef,
        clients: &Clients,
        config: &RemediationConfig,
        partition: &str,
        retry: &RetryPolicy,
    ) -> Outcome {
        let identified = match identify(clients, retry, partition, resource).await {
            Ok(identified) => identified,
            Err(error) => return read_failed(event, resource, &error),
        };
        if let Err(reason) = scope_of_names(&identified.scope_names(), config) {
            return Outcome::skipped(event, &reason, Some(identified.resource.identifier()));
        }

        let fix = match self
            .fix_in(
                &event.event_id,
                &identified,
                event.trigger(),
                clients,
                config,
                partition,
                retry,
            )
            .await
        {
            Ok(fix) => fix,
            Err(error) => return read_failed(event, &identified.resource, &error),
        };
        let failures: Vec<String> = fix
            .plan
            .actions
            .iter()
            .zip(&fix.outcomes)
            .filter_map(|(action, outcome)| {
                outcome
                    .as_ref()
                    .err()
                    .map(|error| format!("{} failed: {error}", describe(action)))
            })
            .collect();
        let lines = fix
            .plan
            .findings
            .iter()
            .filter(|finding| finding.needs_person())
            .map(ToString::to_string)
            .chain(failures.iter().cloned())
            .collect();
        Outcome {
            resource: fix.resource.identifier().to_string(),
            records: fix.records,
            lines,
            writes: fix
                .outcomes
                .iter()
                .filter(|outcome| outcome.is_ok())
                .count(),
            failures,
            mode: None,
            stale_credentials: fix.stale_credentials,
        }
    }

    /// The event path from a resource whose scope is settled on: read its state, plan, write
    /// (enforce mode), audit records (not emitted). Shared by the events and the sweep, so a
    /// resource is fixed by the same code however it was found. `Err`: the read failed.
    pub async fn fix(
        &self,
        event_id: &str,
        identified: &Identified,
        trigger: Trigger,
        retry: &RetryPolicy,
    ) -> Result<Fix, CallError> {
        // Bucket ARNs carry no region or account, only the partition (the key's).
        let partition = self.config.kms_key_arn.split(':').nth(1).unwrap_or("aws");
        self.fix_in(
            event_id,
            identified,
            trigger,
            &self.clients,
            &self.config,
            partition,
            retry,
        )
        .await
    }

    /// [`Self::fix`] with clients and settings bound to one (account, region) (the hub's
    /// targets, `crate::targets`).
    #[allow(clippy::too_many_arguments)]
    pub async fn fix_in(
        &self,
        event_id: &str,
        identified: &Identified,
        trigger: Trigger,
        clients: &Clients,
        config: &RemediationConfig,
        partition: &str,
        retry: &RetryPolicy,
    ) -> Result<Fix, CallError> {
        let observed = observe(clients, retry, partition, identified).await?;

        // A PutBucketTagging / PutBucketEncryption event judges only its own rule.
        let mut decided =
            restrict_to_trigger(plan(&observed.resource, &observed.state, config), trigger);
        // A switch to the CMK must not break a delivery into the resource (or Logs' use
        // of the key): the key policy is read then, once for this invocation.
        let kind = observed.resource.kind();
        if needs_key_policy(&decided, kind, &observed.state) {
            let key_policy =
                crate::project_key::key_policy(clients, retry, &config.kms_key_arn).await;
            let read = match &key_policy {
                Ok(policy) => Ok(policy),
                Err(error) => Err(error.as_str()),
            };
            guard_key_switch(&mut decided, kind, &observed.state, read);
        }
        let mut outcomes: Vec<Result<(), String>> = Vec::new();
        let mut details: Vec<Option<Value>> = Vec::new();
        let mut transient_failure = false;
        let mut stale = false;
        if config.mode == Mode::Enforce {
            // The actions are independent (tags, encryption): a failed one does not stop the others.
            for action in &decided.actions {
                let (outcome, detail) = match action {
                    // S3 has no conditional write: re-read, write, read back (bucket_tags.rs).
                    Action::ReplaceBucketTags { .. } => {
                        match write_bucket_tags(
                            clients,
                            retry,
                            &observed.target,
                            &config.required_tags,
                        )
                        .await
                        {
                            Ok(write) => (Ok(()), Some(write.detail())),
                            Err(error) => (Err(error), None),
                        }
                    }
                    action => (apply(clients, retry, &observed.target, action).await, None),
                };
                transient_failure |= outcome
                    .as_ref()
                    .is_err_and(|error| error.kind == FailureKind::Transient);
                stale |= outcome.as_ref().is_err_and(stale_credentials);
                outcomes.push(outcome.map_err(|error| error.to_string()));
                details.push(detail);
            }
            memory_tags_refused(
                &observed.resource,
                &mut decided,
                &mut outcomes,
                &mut details,
            );
        }
        let execution = match config.mode {
            Mode::Report => Execution::Report,
            Mode::Enforce => Execution::Enforced(&outcomes),
        };
        let mut records = plan_records(
            event_id,
            &observed.resource,
            &observed.state,
            &decided,
            execution,
        );
        for (record, detail) in records.iter_mut().zip(&details) {
            if let Some(detail) = detail {
                record.detail = detail.clone();
            }
        }
        Ok(Fix {
            resource: observed.resource,
            state: observed.state,
            plan: decided,
            outcomes,
            transient_failure,
            records,
            stale_credentials: stale,
        })
    }

    /// A bucket a provisioning tool just created waits for the tool's own tagging and
    /// encryption calls: with `DEFERRAL_QUEUE_URL` the event comes back after
    /// `DEFERRAL_DELAY_SECONDS`. Without the queue (or if it cannot be reached) the bucket is
    /// remediated now, with the safe tag write; the tool's own calls then trigger a merge.
    async fn defer(
        &self,
        event: &CreateEvent,
        payload: &Value,
        arrival: Arrival,
        retry: &RetryPolicy,
    ) -> Option<Outcome> {
        if arrival.redelivery.is_some() {
            return None;
        }
        let tool = deferred_create(event)?;
        let queue = self.deferral.queue_url.as_deref()?;
        let delay = self.deferral.delay_seconds;
        let redelivery = Redelivery {
            reason: RedeliveryReason::Deferred,
            failures: 0,
        };
        match requeue(&self.clients, retry, queue, payload, redelivery, delay).await {
            Ok(()) => {
                let reason = SkipReason::Deferred {
                    tool,
                    recheck_after_seconds: Some(delay),
                };
                Some(Outcome::skipped(event, &reason, None))
            }
            Err(error) => {
                tracing::warn!(%error, "could not defer the bucket: remediating it now");
                None
            }
        }
    }
}

/// A memory whose tags the service refuses to write: the finding "set them at creation"
/// replaces the failure (whichever way the service answers, see observe.rs for the read).
fn memory_tags_refused(
    resource: &ResourceRef,
    decided: &mut Plan,
    outcomes: &mut Vec<Result<(), String>>,
    details: &mut Vec<Option<Value>>,
) {
    if resource.kind() != ResourceKind::Memory {
        return;
    }
    let refused = decided
        .actions
        .iter()
        .zip(outcomes.iter())
        .position(|(action, outcome)| {
            matches!(action, Action::AddTags { .. })
                && outcome
                    .as_ref()
                    .is_err_and(|error| !error.contains("Throttl"))
        });
    if let Some(index) = refused {
        let error = outcomes.remove(index).err().unwrap_or_default();
        decided.actions.remove(index);
        details.remove(index);
        decided
            .findings
            .insert(0, Finding::MemoryTagsAtCreation { error });
    }
}

/// The resource could not be read (for good, after the retries): nothing was decided. A
/// resource that no longer exists (deleted within seconds, a rollback) is recorded as gone,
/// which is no failure.
fn read_failed(event: &CreateEvent, resource: &ResourceRef, error: &CallError) -> Outcome {
    if error.kind == FailureKind::NotFound {
        let reason = SkipReason::Gone {
            operation: error.operation.clone(),
            error: error.message.clone(),
        };
        return Outcome::skipped(event, &reason, Some(resource.identifier()));
    }
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
        mode: None,
        stale_credentials: stale_credentials(error),
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
