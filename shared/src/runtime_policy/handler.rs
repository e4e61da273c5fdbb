//! Create, update and delete of `Custom::AgentCoreRuntimePolicy` against a [`PolicyStore`]
//! (AgentCore's resource-policy and tag calls; the function wires the SDK client in).
//!
//! Ownership first: a statement is replaced or removed only where it is provably this
//! resource's (its Sid's ownership record, see `ownership`, and its content is what this
//! resource wrote there). Then, per target, read-merge-write-read back with nothing else
//! between the read and the write. A request that fails after writing undoes its writes.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::document::{
    collision, find_statement, holds_statement, revision, with_statement, without_statement,
    written_by, AfterRemoval,
};
use super::ownership::{owner_tag_key, sid_owner, SidOwner};
use super::settings::RuntimePolicySettings;
use super::spec::{parse_physical_id, Check, RuntimePolicySpec};
use crate::custom_resource::{CustomResource, Outcome, Request, MAX_RESPONSE_BYTES};
use crate::policy_compare::{match_statement, StatementMatch};
use crate::{Error, Result};

/// How many times in all a target is written when the read-back shows that a concurrent
/// writer removed the owned statement.
pub const WRITE_ATTEMPTS: u32 = 3;
/// Least time kept back, per target written so far, to undo the writes before the deadline.
const MIN_UNDO_RESERVE: Duration = Duration::from_secs(1);

/// AgentCore's resource-policy and tag operations, as the handler needs them.
pub trait PolicyStore: Send + Sync + 'static {
    /// The policy of `arn`; `None` when it has none, or when the resource is gone.
    fn get_policy(&self, arn: &str) -> impl Future<Output = Result<Option<String>>> + Send;
    fn put_policy(&self, arn: &str, policy: &str) -> impl Future<Output = Result<()>> + Send;
    /// Already gone is done.
    fn delete_policy(&self, arn: &str) -> impl Future<Output = Result<()>> + Send;
    /// The tags of a runtime; `None` when the runtime is gone.
    fn tags(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Option<BTreeMap<String, String>>>> + Send;
    fn tag(&self, arn: &str, key: &str, value: &str) -> impl Future<Output = Result<()>> + Send;
    fn untag(&self, arn: &str, key: &str) -> impl Future<Output = Result<()>> + Send;
}

pub struct RuntimePolicyHandler<S> {
    store: S,
    settings: RuntimePolicySettings,
}

/// What the plan does with one target.
struct Planned {
    target: String,
    /// The statement to write; `None`: remove ours (an endpoint dropped from EndpointNames).
    statement: Option<Value>,
    /// Our statement there before this request (restored on undo); `None`: there was none.
    before: Option<Value>,
    /// Already exactly as it should be: nothing to write.
    in_place: bool,
}

/// Time accounting against `Request::deadline`.
struct Clock {
    deadline: Option<Instant>,
    slowest: Duration,
}

impl Clock {
    fn new(request: &Request) -> Self {
        Clock {
            deadline: request.deadline,
            slowest: Duration::ZERO,
        }
    }

    /// Whether there is time to write one more target and still undo `written` + 1 targets.
    fn can_write(&self, written: usize) -> bool {
        let Some(deadline) = self.deadline else {
            return true;
        };
        let per_target = MIN_UNDO_RESERVE.max(self.slowest * 3);
        let needed = per_target * (written as u32 + 1);
        deadline.saturating_duration_since(Instant::now()) >= needed
    }

    async fn time<T>(&mut self, call: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let result = call.await;
        self.slowest = self.slowest.max(started.elapsed());
        result
    }
}

impl<S: PolicyStore> RuntimePolicyHandler<S> {
    pub fn new(store: S, settings: RuntimePolicySettings) -> Self {
        if settings.scope.is_none() {
            tracing::warn!("SCOPE_PATTERNS is not set: runtime names are not checked against a scope (the corebound template always sets it; this is only for local use)");
        }
        RuntimePolicyHandler { store, settings }
    }

    /// Who owns the spec's Sid, per its record. Reads the runtime's tags for explicit Sids.
    async fn sid_owner(&self, spec: &RuntimePolicySpec) -> Result<SidOwner> {
        if !spec.has_explicit_sid() {
            return Ok(SidOwner::This);
        }
        let tags = self.store.tags(&spec.runtime.to_string()).await?;
        Ok(sid_owner(
            &spec.statement_id,
            &spec.default_statement_id,
            &spec.owner,
            Some(&tags.unwrap_or_default()),
        ))
    }

    /// Write the statement to every target of `spec`, and remove it from `dropped` targets
    /// (endpoints an in-place Update no longer names). `old`: the same resource's previous
    /// properties (an in-place Update), whose statements it may replace.
    async fn apply(
        &self,
        request: &Request,
        spec: &RuntimePolicySpec,
        old: Option<&RuntimePolicySpec>,
        dropped: &[String],
    ) -> Result<String> {
        check_response_size(request, spec)?;
        let sid = &spec.statement_id;
        let owner = self.sid_owner(spec).await?;
        if let SidOwner::Other(label) = &owner {
            return Err(Error::invalid(
                "StatementId",
                super::spec::quoted(sid),
                format!("a Sid not owned by another resource: runtime {} records it (tag {}) as owned by {label}; nothing was written. Choose another StatementId", spec.runtime, owner_tag_key(sid)),
            ));
        }
        let old_targets = old.map(RuntimePolicySpec::targets).unwrap_or_default();

        // Plan every target before the first write, so a collision or an oversized document
        // on the last endpoint never leaves the first ones changed.
        let mut plan = Vec::new();
        for target in spec.targets() {
            let current = self.store.get_policy(&target).await?;
            let statement = spec.statement_for(&target);
            let existing = find_statement(current.as_deref(), &target, sid)?;
            let mut in_place = false;
            if let Some(stored) = &existing {
                owns(spec, old, &old_targets, &owner, &target, stored)?;
                in_place =
                    match_statement(&statement, stored, spec.partition()) == StatementMatch::Same;
                if let StatementMatch::SameExceptUniqueIds {
                    unique_ids,
                    replaced,
                } = match_ours(spec, old, &old_targets, &target, stored)
                {
                    tracing::warn!(target = %target, ?unique_ids, ?replaced, "principals are shown as unique ids (the roles were deleted, maybe recreated): writing the principal ARNs again");
                }
            }
            with_statement(current.as_deref(), &target, statement.clone())?;
            plan.push(Planned {
                target,
                statement: Some(statement),
                before: existing,
                in_place,
            });
        }
        for target in dropped {
            let current = self.store.get_policy(target).await?;
            match find_statement(current.as_deref(), target, sid) {
                Ok(Some(stored)) if owner == SidOwner::This && match_ours(spec, old, &old_targets, target, &stored).is_ours() => {
                    plan.push(Planned {
                        target: target.clone(),
                        statement: None,
                        before: Some(stored),
                        in_place: false,
                    });
                }
                Ok(None) => tracing::info!(target, "dropped endpoint: no statement with this Sid there"),
                _ => tracing::warn!(target, sid, "dropped endpoint skipped: the statement with this Sid there is not the one this resource wrote; left as it is"),
            }
        }

        // Record ownership of an explicit Sid before the first statement is written.
        let tagged = if owner == SidOwner::Unrecorded {
            self.store
                .tag(
                    &spec.runtime.to_string(),
                    &owner_tag_key(sid),
                    &spec.owner.tag_value(),
                )
                .await?;
            true
        } else {
            false
        };

        let mut clock = Clock::new(request);
        let mut done: Vec<&Planned> = Vec::new();
        let mut runtime_document = None;
        for planned in &plan {
            let result = if planned.in_place {
                self.store
                    .get_policy(&planned.target)
                    .await
                    .map(Option::unwrap_or_default)
            } else if !clock.can_write(done.len()) {
                Err(Error::Rule(format!(
                    "not enough time left before the Lambda deadline to write {} and still undo: stopped after {} of {} targets and undid them. Retry the stack operation; if this happens again, raise the function's Timeout",
                    planned.target,
                    done.len(),
                    plan.len()
                )))
            } else {
                done.push(planned);
                match &planned.statement {
                    Some(statement) => {
                        self.write_confirmed(
                            spec,
                            old,
                            &old_targets,
                            &owner,
                            &planned.target,
                            statement,
                            &mut clock,
                        )
                        .await
                    }
                    None => self
                        .remove_written(spec, old, &old_targets, &planned.target, &mut clock)
                        .await
                        .map(|()| String::new()),
                }
            };
            match result {
                Ok(document) => {
                    runtime_document.get_or_insert(document);
                }
                Err(error) => {
                    self.undo(spec, &done).await;
                    if tagged {
                        self.untag(spec).await;
                    }
                    return Err(error);
                }
            }
        }
        Ok(revision(&runtime_document.unwrap_or_default()))
    }

    /// Read, check ownership again, merge, write, read back; repeat if a concurrent writer
    /// dropped the statement. Nothing happens between the read and the write.
    #[allow(clippy::too_many_arguments)]
    async fn write_confirmed(
        &self,
        spec: &RuntimePolicySpec,
        old: Option<&RuntimePolicySpec>,
        old_targets: &[String],
        owner: &SidOwner,
        target: &str,
        statement: &Value,
        clock: &mut Clock,
    ) -> Result<String> {
        for attempt in 1..=WRITE_ATTEMPTS {
            let current = clock.time(self.store.get_policy(target)).await?;
            if let Some(stored) = find_statement(current.as_deref(), target, &spec.statement_id)? {
                // Someone may have written our Sid since the plan was made.
                owns(spec, old, old_targets, owner, target, &stored)?;
            }
            let document = with_statement(current.as_deref(), target, statement.clone())?;
            clock.time(self.store.put_policy(target, &document)).await?;
            let read_back = clock.time(self.store.get_policy(target)).await?;
            if holds_statement(read_back.as_deref(), statement, spec.partition()) {
                return Ok(read_back.unwrap_or(document));
            }
            tracing::warn!(
                target,
                attempt,
                "owned statement missing on read-back (concurrent writer?); writing again"
            );
        }
        Err(Error::Rule(format!(
            "the resource policy of {target} kept losing the owned statement after {WRITE_ATTEMPTS} writes: another process is overwriting the whole document concurrently; stop the other writer and retry"
        )))
    }

    /// Read, check the statement is still ours, remove it (nothing between read and write).
    async fn remove_written(
        &self,
        spec: &RuntimePolicySpec,
        old: Option<&RuntimePolicySpec>,
        old_targets: &[String],
        target: &str,
        clock: &mut Clock,
    ) -> Result<()> {
        let Some(current) = clock.time(self.store.get_policy(target)).await? else {
            return Ok(());
        };
        match find_statement(Some(&current), target, &spec.statement_id)? {
            Some(stored) if match_ours(spec, old, old_targets, target, &stored).is_ours() => {
                clock
                    .time(self.remove_from(target, &current, &spec.statement_id))
                    .await
            }
            _ => Ok(()),
        }
    }

    /// Put each target this request changed back as it was, where it still holds what this
    /// request left there.
    async fn undo(&self, spec: &RuntimePolicySpec, done: &[&Planned]) {
        let sid = &spec.statement_id;
        for planned in done.iter().rev() {
            let target = planned.target.as_str();
            let result = async {
                let current = self.store.get_policy(target).await?;
                let stored = find_statement(current.as_deref(), target, sid)?;
                let untouched = match (&planned.statement, &stored) {
                    (Some(statement), Some(stored)) => {
                        match_statement(statement, stored, spec.partition()).is_ours()
                    }
                    (Some(_), None) => false,
                    (None, stored) => stored.is_none(),
                };
                if !untouched {
                    tracing::warn!(
                        target,
                        "not undone: the target no longer holds what this request left there"
                    );
                    return Ok(());
                }
                match (&planned.before, current) {
                    (Some(before), current) => {
                        let document = with_statement(current.as_deref(), target, before.clone())?;
                        self.store.put_policy(target, &document).await
                    }
                    (None, Some(current)) => self.remove_from(target, &current, sid).await,
                    (None, None) => Ok(()),
                }
            }
            .await;
            match result {
                Ok(()) => tracing::info!(target, "undone"),
                Err(e) => {
                    tracing::error!(target, error = %e, "undo failed; the statement may remain")
                }
            }
        }
    }

    async fn untag(&self, spec: &RuntimePolicySpec) {
        let key = owner_tag_key(&spec.statement_id);
        if let Err(e) = self.store.untag(&spec.runtime.to_string(), &key).await {
            tracing::warn!(error = %e, key, "could not remove the ownership tag");
        }
    }

    async fn remove_from(&self, target: &str, current: &str, sid: &str) -> Result<()> {
        match without_statement(current, sid) {
            AfterRemoval::Unchanged => Ok(()),
            AfterRemoval::Write(document) => self.store.put_policy(target, &document).await,
            AfterRemoval::DeletePolicy => self.store.delete_policy(target).await,
        }
    }

    /// Remove `spec`'s statement from `target` where it is the one this resource wrote. Logs
    /// and skips anything else.
    async fn remove_if_written(&self, spec: &RuntimePolicySpec, target: &str) -> Result<()> {
        let sid = &spec.statement_id;
        let Some(current) = self.store.get_policy(target).await? else {
            tracing::info!(
                target,
                "skipped: no resource policy there (or the target is gone)"
            );
            return Ok(());
        };
        let stored = match find_statement(Some(&current), target, sid) {
            Ok(Some(stored)) => stored,
            Ok(None) => {
                tracing::info!(target, sid, "skipped: no statement with this Sid there");
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(target, error = %e, "skipped: the document cannot be read safely");
                return Ok(());
            }
        };
        if !written_by(spec, target, &stored).is_ours() {
            tracing::warn!(target, sid, "skipped: the statement with this Sid is not the one this resource wrote (another owner's, or changed by hand); left as it is");
            return Ok(());
        }
        self.remove_from(target, &current, sid).await?;
        tracing::info!(target, sid, "statement removed");
        Ok(())
    }

    fn outcome(spec: &RuntimePolicySpec, revision: String) -> Outcome {
        outcome(spec, revision)
    }
}

/// Whether the statement `stored` with our Sid on `target` is this resource's to replace.
/// `Err` (nothing written) when it is not.
fn owns(
    spec: &RuntimePolicySpec,
    old: Option<&RuntimePolicySpec>,
    old_targets: &[String],
    owner: &SidOwner,
    target: &str,
    stored: &Value,
) -> Result<()> {
    let sid = &spec.statement_id;
    let found = match_ours(spec, old, old_targets, target, stored);
    match owner {
        SidOwner::This if found.is_ours() => Ok(()),
        SidOwner::This => Err(collision(
            target,
            sid,
            "is not the statement this resource wrote there (another owner's, or changed by hand)",
        )),
        SidOwner::Other(label) => Err(collision(target, sid, &format!("is owned by {label}"))),
        SidOwner::Unrecorded => Err(collision(
            target,
            sid,
            &format!(
                "this resource cannot prove it wrote it: the runtime has no ownership tag {} for it (if it is this resource's, from an older corebound, tag the runtime with {} = {})",
                owner_tag_key(sid),
                owner_tag_key(sid),
                spec.owner.tag_value()
            ),
        )),
    }
}

/// The stored statement against what this resource writes on `target` now, or wrote there
/// before this request (an in-place Update's old properties, where `target` was one of them).
fn match_ours(
    spec: &RuntimePolicySpec,
    old: Option<&RuntimePolicySpec>,
    old_targets: &[String],
    target: &str,
    stored: &Value,
) -> StatementMatch {
    let now = written_by(spec, target, stored);
    if now.is_ours() {
        return now;
    }
    match old {
        Some(old) if old_targets.iter().any(|t| t == target) => written_by(old, target, stored),
        _ => StatementMatch::Different,
    }
}

fn outcome(spec: &RuntimePolicySpec, revision: String) -> Outcome {
    Outcome::new(spec.physical_id())
        .with("RuntimeArn", spec.runtime.to_string())
        .with("EndpointArns", spec.endpoint_arns().join(","))
        .with("StatementId", spec.statement_id.clone())
        .with("PolicyRevision", revision)
}

/// Fail before the first write when the SUCCESS answer would not fit CloudFormation's
/// response limit (`EndpointArns` grows with every endpoint), as the protocol measures it.
pub fn check_response_size(request: &Request, spec: &RuntimePolicySpec) -> Result<()> {
    let bytes = request.success_response_len(&outcome(spec, "0".repeat(12)));
    if bytes > MAX_RESPONSE_BYTES {
        return Err(Error::invalid(
            "EndpointNames",
            format!("{} endpoints", spec.endpoint_names.len()),
            format!("fewer endpoints per resource: the answer to CloudFormation (with EndpointArns) would be {bytes} bytes, over its limit of {MAX_RESPONSE_BYTES}; split the endpoints over several Custom::AgentCoreRuntimePolicy resources. Nothing was written"),
        ));
    }
    Ok(())
}

impl<S: PolicyStore> CustomResource for RuntimePolicyHandler<S> {
    async fn create(&self, request: &Request) -> Result<Outcome> {
        let spec = RuntimePolicySpec::from_request(request, Check::Full(&self.settings))?;
        let revision = self.apply(request, &spec, None, &[]).await?;
        Ok(Self::outcome(&spec, revision))
    }

    async fn update(&self, request: &Request) -> Result<Outcome> {
        let spec = RuntimePolicySpec::from_request(request, Check::Full(&self.settings))?;
        let same_identity = request
            .physical_resource_id
            .as_deref()
            .and_then(parse_physical_id)
            .is_some_and(|(runtime, sid)| runtime == spec.runtime && sid == spec.statement_id);
        if !same_identity {
            // Replacement: claim the new statement; CloudFormation then deletes the old id.
            let revision = self.apply(request, &spec, None, &[]).await?;
            return Ok(Self::outcome(&spec, revision));
        }
        let old = RuntimePolicySpec::old_from_request(request)
            .filter(|old| old.runtime == spec.runtime && old.statement_id == spec.statement_id);
        // Endpoints dropped from EndpointNames lose the statement, where it is ours.
        let dropped: Vec<String> = old
            .iter()
            .flat_map(|old| old.endpoint_names.iter())
            .filter(|n| !spec.endpoint_names.contains(n))
            .map(|n| spec.runtime.endpoint_arn(n))
            .collect();
        let revision = self.apply(request, &spec, old.as_ref(), &dropped).await?;
        Ok(Self::outcome(&spec, revision))
    }

    async fn delete(&self, request: &Request) -> Result<()> {
        let Some((runtime, sid)) = request
            .physical_resource_id
            .as_deref()
            .and_then(parse_physical_id)
        else {
            tracing::warn!(
                "nothing changed: the PhysicalResourceId does not identify a runtime statement"
            );
            return Ok(());
        };
        let spec = match RuntimePolicySpec::from_request(request, Check::Rebuild) {
            Ok(spec) => spec,
            Err(e) => {
                tracing::warn!(runtime = %runtime, sid, error = %e, "nothing changed: the Delete's properties do not describe a statement corebound writes");
                return Ok(());
            }
        };
        if spec.runtime != runtime || spec.statement_id != sid {
            tracing::warn!(runtime = %runtime, sid, properties_runtime = %spec.runtime, properties_sid = %spec.statement_id, "nothing changed: the PhysicalResourceId and the Delete's properties name different statements");
            return Ok(());
        }
        if let Err(rule) = self.settings.check_target(&runtime) {
            tracing::warn!(runtime = %runtime, rule, "nothing changed: the runtime is outside the scope");
            return Ok(());
        }
        let owner = if spec.has_explicit_sid() {
            match self.store.tags(&runtime.to_string()).await {
                Ok(None) => {
                    tracing::info!(runtime = %runtime, "runtime no longer exists; its policies went with it");
                    return Ok(());
                }
                Ok(Some(tags)) => {
                    sid_owner(&sid, &spec.default_statement_id, &spec.owner, Some(&tags))
                }
                // Denied (a final error, e.g. the role lacks ListTagsForResource): the record
                // cannot be read, so nothing can be proven; the Delete must still not block
                // the stack. A transient error fails so that a retry can finish the job.
                Err(e) if e.is_final() => {
                    tracing::warn!(runtime = %runtime, sid, error = %e, "nothing changed: the ownership record cannot be read, so this resource cannot prove it wrote the statement; remove it by hand if it is this resource's");
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        } else {
            SidOwner::This
        };
        match &owner {
            SidOwner::This => {}
            SidOwner::Other(label) => {
                tracing::warn!(runtime = %runtime, sid, owner = %label, "nothing changed: the Sid is recorded as owned by another resource");
                return Ok(());
            }
            SidOwner::Unrecorded => {
                tracing::warn!(runtime = %runtime, sid, tag = %owner_tag_key(&sid), "nothing changed: no ownership record for this StatementId, so this resource cannot prove it wrote the statement");
                return Ok(());
            }
        }
        for target in spec.targets() {
            self.remove_if_written(&spec, &target).await?;
        }
        if spec.has_explicit_sid() {
            self.untag(&spec).await;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "model_test.rs"]
mod model_test;
