//! Deciding every in-scope resource of a page.
//!
//! Cheap first: the state is read in batches where AWS has them (the listing itself, the
//! tagging API's `GetResources` for up to 100 resources, one attribute read where the key is
//! nowhere else). The plan on that state clears a compliant resource without another call.
//! A resource the plan would change, and the kinds with no batch read (IAM roles, AgentCore),
//! go through [`Remediator::fix`](crate::handler::Remediator::fix): the events' own read,
//! plan, key-policy guard and writes, on fresh state. The batch state only ever clears a
//! resource; it never decides a write.

use std::collections::BTreeMap;

use corebound::remediation::{
    plan, plan_records, EncryptionState, Execution, Mode, ObservedState, ResourceKind, Trigger,
};
use corebound::scope::in_scope;
use corebound::sweep::{classify, ResourceResult};

use crate::handler::emit;
use crate::observe::{bucket_encryption, queue_attributes, topic_attributes, Identified};
use crate::retry::{CallError, FailureKind};

use super::list::{tags_by_arn, Listed};
use super::Context;

/// How a resource's state was read in batch.
enum Batch {
    State(ObservedState),
    /// No batch read for this kind (or the tagging API refused): the event path reads it.
    EventPath,
    /// The attribute read failed for this resource.
    Failed(CallError),
}

/// The in-scope resources of a page, decided (and fixed in enforce mode), and how many were
/// out of scope. `Err`: throttling or a server fault outlasted the retries (the unit is
/// tried again as a whole; what it fixed reads compliant then).
pub async fn evaluate_page(
    context: &Context<'_>,
    event_id: &str,
    items: Vec<Listed>,
) -> Result<(Vec<ResourceResult>, usize), CallError> {
    let config = &context.config;
    let listed = items.len();
    let in_scope: Vec<Listed> = items
        .into_iter()
        .filter(|item| {
            item.scope_names()
                .iter()
                .any(|name| in_scope(name, &config.scope_patterns))
        })
        .collect();
    let out_of_scope = listed - in_scope.len();
    let batches = batch_states(context, &in_scope).await?;
    let mut results = Vec::with_capacity(in_scope.len());
    for (item, batch) in in_scope.into_iter().zip(batches) {
        let result = match batch {
            Batch::State(state) => {
                let decided = plan(&item.resource, &state, config);
                if decided.actions.is_empty() {
                    let execution = match config.mode {
                        Mode::Report => Execution::Report,
                        Mode::Enforce => Execution::Enforced(&[]),
                    };
                    if context.emit_audit {
                        for record in
                            plan_records(event_id, &item.resource, &state, &decided, execution)
                        {
                            emit(&record);
                        }
                    }
                    classify(&item.resource, &state, &decided, execution)
                } else {
                    event_path(context, event_id, &item).await?
                }
            }
            Batch::EventPath => event_path(context, event_id, &item).await?,
            Batch::Failed(error) => read_failure(&item, error)?,
        };
        results.push(result);
    }
    Ok((results, out_of_scope))
}

/// The events' path for one resource: read, plan, guard, write, records.
async fn event_path(
    context: &Context<'_>,
    event_id: &str,
    item: &Listed,
) -> Result<ResourceResult, CallError> {
    let identified = Identified {
        resource: item.resource.clone(),
        key_aliases: item.key_aliases.clone(),
    };
    let remediator = context.remediator;
    match remediator
        .fix_in(
            event_id,
            &identified,
            Trigger::Create,
            context.clients(),
            &context.config,
            &context.partition,
            context.retry,
        )
        .await
    {
        Ok(fix) => {
            if fix.stale_credentials {
                // Nothing of this resource is recorded: the retried unit decides it again.
                let what = format!("a call on {} was refused", fix.resource.identifier());
                if let Some(error) = context.session_refused(&what) {
                    return Err(error);
                }
            }
            if context.emit_audit {
                for record in &fix.records {
                    emit(record);
                }
            }
            if fix.transient_failure {
                return Err(CallError {
                    operation: "remediation".to_string(),
                    code: None,
                    kind: FailureKind::Transient,
                    message: format!(
                        "a write to {} was throttled past the retries",
                        fix.resource.identifier()
                    ),
                });
            }
            let execution = match context.config.mode {
                Mode::Report => Execution::Report,
                Mode::Enforce => Execution::Enforced(&fix.outcomes),
            };
            Ok(classify(&fix.resource, &fix.state, &fix.plan, execution))
        }
        Err(error) => match context.stale(&error) {
            Some(stale) => Err(stale),
            None => read_failure(item, error),
        },
    }
}

/// A read that failed for good: gone (deleted since the listing) or unreadable (denied);
/// throttling is the unit's failure.
fn read_failure(item: &Listed, error: CallError) -> Result<ResourceResult, CallError> {
    let kind = item.resource.kind();
    let id = item.resource.identifier();
    match error.kind {
        FailureKind::NotFound => Ok(ResourceResult::gone(kind, id, &error.to_string())),
        FailureKind::Final => Ok(ResourceResult::unreadable(kind, id, &error.to_string())),
        FailureKind::Transient => Err(error),
    }
}

/// The batch state of each resource, in order.
async fn batch_states(context: &Context<'_>, items: &[Listed]) -> Result<Vec<Batch>, CallError> {
    let clients = context.clients();
    let retry = context.retry;
    let mut batches = Vec::with_capacity(items.len());
    for item in items {
        let batch = match item.resource.kind() {
            ResourceKind::SnsTopic => {
                match topic_attributes(clients, retry, item.resource.identifier()).await {
                    Ok((encryption, resource_policy)) => Batch::State(ObservedState {
                        encryption,
                        resource_arn: Some(item.resource.identifier().to_string()),
                        resource_policy,
                        ..ObservedState::default()
                    }),
                    Err(error) => Batch::Failed(error),
                }
            }
            ResourceKind::SqsQueue => {
                match queue_attributes(clients, retry, item.resource.identifier()).await {
                    Ok((encryption, resource_arn, resource_policy)) => {
                        Batch::State(ObservedState {
                            encryption,
                            resource_arn,
                            resource_policy,
                            ..ObservedState::default()
                        })
                    }
                    Err(error) => Batch::Failed(error),
                }
            }
            ResourceKind::S3Bucket => {
                match bucket_encryption(clients, retry, item.resource.identifier()).await {
                    Ok(default_encryption) => Batch::State(ObservedState {
                        encryption: EncryptionState::S3Bucket { default_encryption },
                        resource_arn: item.tag_arn.clone(),
                        ..ObservedState::default()
                    }),
                    Err(error) => Batch::Failed(error),
                }
            }
            ResourceKind::LogGroup | ResourceKind::Secret => match &item.known {
                Some(state) => Batch::State(state.clone()),
                None => Batch::EventPath,
            },
            ResourceKind::KmsKey => Batch::State(ObservedState {
                key_aliases: item.key_aliases.clone(),
                ..ObservedState::default()
            }),
            ResourceKind::IamRole
            | ResourceKind::AgentRuntime
            | ResourceKind::Memory
            | ResourceKind::Gateway => Batch::EventPath,
        };
        let batch = match batch {
            Batch::Failed(error) if error.kind == FailureKind::Transient => return Err(error),
            Batch::Failed(error) => match context.stale(&error) {
                Some(stale) => return Err(stale),
                None => Batch::Failed(error),
            },
            other => other,
        };
        batches.push(batch);
    }
    fill_tags(context, items, &mut batches).await?;
    Ok(batches)
}

/// Tags from the tagging API for the kinds that take them from there (secrets came with
/// their listing). If the API refuses (access denied), those resources take the event path.
async fn fill_tags(
    context: &Context<'_>,
    items: &[Listed],
    batches: &mut [Batch],
) -> Result<(), CallError> {
    let wanted: Vec<String> = items
        .iter()
        .zip(batches.iter())
        .filter(|(item, _)| item.resource.kind() != ResourceKind::Secret)
        .filter_map(|(item, batch)| tag_arn(item, batch))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let tags = match tags_by_arn(context, &wanted).await {
        Ok(tags) => tags,
        Err(error) if error.kind == FailureKind::Transient => return Err(error),
        Err(error) => {
            if let Some(stale) = context.stale(&error) {
                return Err(stale);
            }
            tracing::warn!(%error, "tagging API unavailable: reading tags resource by resource");
            for (item, batch) in items.iter().zip(batches.iter_mut()) {
                if item.resource.kind() != ResourceKind::Secret && matches!(batch, Batch::State(_))
                {
                    *batch = Batch::EventPath;
                }
            }
            return Ok(());
        }
    };
    for (item, batch) in items.iter().zip(batches.iter_mut()) {
        if item.resource.kind() == ResourceKind::Secret {
            continue;
        }
        match tag_arn(item, batch) {
            Some(arn) => {
                if let Batch::State(state) = batch {
                    state.tags = tags.get(&arn).cloned().unwrap_or_else(BTreeMap::new);
                }
            }
            // No ARN to ask the tagging API with: the event path reads the tags itself.
            None => *batch = Batch::EventPath,
        }
    }
    Ok(())
}

/// The ARN the tagging API knows the resource by: from the listing, or (a queue) from its
/// attributes. `None` when the batch read gave no state.
fn tag_arn(item: &Listed, batch: &Batch) -> Option<String> {
    match batch {
        Batch::State(state) => item.tag_arn.clone().or_else(|| state.resource_arn.clone()),
        _ => None,
    }
}
