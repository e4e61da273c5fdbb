//! Create, update and delete of `Custom::AgentCoreRuntimePolicy`.
//!
//! Each target document (the runtime's, then each endpoint's) is edited by read, merge,
//! write, read back. A write that fails part-way is rolled back: every target already
//! written gets its owned statement put back as it was before this request.

use corebound::custom_resource::{CustomResource, Outcome, Request};
use corebound::runtime_policy::{
    self, holds_statement, parse_physical_id, with_owned_statement, without_owned_statement,
    AfterRemoval, Ownership, RuntimePolicySpec,
};
use corebound::{Error, Result};
use serde_json::Value;

use crate::resource_policies::ResourcePolicies;

/// How often a write is repeated when the read-back shows a concurrent writer removed the
/// owned statement.
const WRITE_ATTEMPTS: u32 = 3;

pub struct RuntimePolicy {
    policies: ResourcePolicies,
}

/// One target written by this request, and how its owned statement looked before.
struct Written {
    arn: String,
    sid: String,
    before: Option<Value>,
}

impl RuntimePolicy {
    pub fn new(policies: ResourcePolicies) -> Self {
        RuntimePolicy { policies }
    }

    /// Write the owned statement to every target; on failure undo what was written.
    async fn apply(&self, spec: &RuntimePolicySpec, ownership: Ownership) -> Result<String> {
        // Validate every resulting document before the first write, so a collision or an
        // oversized document on the last endpoint does not leave the first ones changed.
        let mut plans = Vec::new();
        for target in spec.targets() {
            let current = self.policies.get(&target).await?;
            let statement = spec.statement_for(&target);
            with_owned_statement(current.as_deref(), &target, statement.clone(), ownership)?;
            let before = current
                .as_deref()
                .and_then(|c| corebound::policy_document::PolicyDocument::parse(c).ok())
                .and_then(|d| d.statement(&spec.statement_id).cloned());
            plans.push((target, statement, before));
        }

        let mut written: Vec<Written> = Vec::new();
        let mut runtime_document = String::new();
        for (target, statement, before) in plans {
            match self.write_confirmed(&target, &statement, ownership).await {
                Ok(document) => {
                    if runtime_document.is_empty() {
                        runtime_document = document;
                    }
                    written.push(Written {
                        arn: target,
                        sid: spec.statement_id.clone(),
                        before,
                    });
                }
                Err(error) => {
                    // The failed target may have been written before its read-back failed.
                    written.push(Written {
                        arn: target,
                        sid: spec.statement_id.clone(),
                        before,
                    });
                    self.roll_back(&written).await;
                    return Err(error);
                }
            }
        }
        Ok(runtime_policy::revision(&runtime_document))
    }

    /// Read, merge, write, read back; repeat if a concurrent writer dropped our statement.
    async fn write_confirmed(
        &self,
        target: &str,
        statement: &Value,
        ownership: Ownership,
    ) -> Result<String> {
        for attempt in 1..=WRITE_ATTEMPTS {
            let current = self.policies.get(target).await?;
            let document =
                with_owned_statement(current.as_deref(), target, statement.clone(), ownership)?;
            self.policies.put(target, &document).await?;
            let read_back = self.policies.get(target).await?;
            if holds_statement(read_back.as_deref(), statement) {
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

    /// Put each written target's owned statement back as it was (or remove it).
    async fn roll_back(&self, written: &[Written]) {
        for w in written.iter().rev() {
            let result = async {
                let current = self.policies.get(&w.arn).await?;
                match (&w.before, current) {
                    (Some(before), current) => {
                        let doc = with_owned_statement(
                            current.as_deref(),
                            &w.arn,
                            before.clone(),
                            Ownership::Owned,
                        )?;
                        self.policies.put(&w.arn, &doc).await
                    }
                    (None, Some(current)) => self.remove_from(&w.arn, &current, &w.sid).await,
                    (None, None) => Ok(()),
                }
            }
            .await;
            match result {
                Ok(()) => tracing::info!(target = %w.arn, "rolled back"),
                Err(e) => {
                    tracing::error!(target = %w.arn, error = %e, "rollback failed; the owned statement may remain")
                }
            }
        }
    }

    async fn remove_from(&self, target: &str, current: &str, sid: &str) -> Result<()> {
        match without_owned_statement(current, sid) {
            AfterRemoval::Unchanged => Ok(()),
            AfterRemoval::Write(document) => self.policies.put(target, &document).await,
            AfterRemoval::DeletePolicy => self.policies.delete(target).await,
        }
    }

    /// Remove the owned statement from one target, tolerating a target that is gone.
    async fn remove_owned(&self, target: &str, sid: &str) -> Result<()> {
        match self.policies.get(target).await? {
            None => Ok(()),
            Some(current) => match self.remove_from(target, &current, sid).await {
                Err(Error::Aws { message, .. }) if message.starts_with("ResourceNotFound") => {
                    Ok(())
                }
                other => other,
            },
        }
    }

    fn outcome(spec: &RuntimePolicySpec, revision: String) -> Outcome {
        Outcome::new(spec.physical_id())
            .with("RuntimeArn", spec.runtime.to_string())
            .with("EndpointArns", spec.endpoint_arns().join(","))
            .with("StatementId", spec.statement_id.clone())
            .with("PolicyRevision", revision)
    }
}

impl CustomResource for RuntimePolicy {
    async fn create(&self, request: &Request) -> Result<Outcome> {
        let spec = RuntimePolicySpec::from_request(request)?;
        let revision = self.apply(&spec, Ownership::New).await?;
        Ok(Self::outcome(&spec, revision))
    }

    async fn update(&self, request: &Request) -> Result<Outcome> {
        let spec = RuntimePolicySpec::from_request(request)?;
        let current = request
            .physical_resource_id
            .as_deref()
            .and_then(parse_physical_id);
        let same_identity = current
            .as_ref()
            .is_some_and(|(runtime, sid)| *runtime == spec.runtime && *sid == spec.statement_id);
        if !same_identity {
            // Replacement: claim the new statement; CloudFormation then deletes the old id.
            let revision = self.apply(&spec, Ownership::New).await?;
            return Ok(Self::outcome(&spec, revision));
        }
        let revision = self.apply(&spec, Ownership::Owned).await?;
        // Endpoints dropped from EndpointNames lose the owned statement.
        if let Some(old) = RuntimePolicySpec::old_from_request(request) {
            for name in old
                .endpoint_names
                .iter()
                .filter(|n| !spec.endpoint_names.contains(n))
            {
                self.remove_owned(&spec.runtime.endpoint_arn(name), &spec.statement_id)
                    .await?;
            }
        }
        Ok(Self::outcome(&spec, revision))
    }

    async fn delete(&self, request: &Request) -> Result<()> {
        let Some((runtime, sid)) = request
            .physical_resource_id
            .as_deref()
            .and_then(parse_physical_id)
        else {
            tracing::warn!(
                "PhysicalResourceId does not identify a runtime statement; nothing to delete"
            );
            return Ok(());
        };
        // The endpoints that may hold the statement: those the runtime has now, plus those the
        // properties name (in case listing is not allowed). Today's properties are only a hint:
        // invalid ones must not block the delete.
        let mut endpoints = match self.policies.endpoint_names(&runtime).await {
            Ok(Some(names)) => names,
            Ok(None) => {
                tracing::info!(runtime = %runtime, "runtime no longer exists; its policies went with it");
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the runtime's endpoints; using EndpointNames");
                Vec::new()
            }
        };
        if let Ok(spec) = RuntimePolicySpec::from_request(request) {
            if spec.runtime == runtime {
                endpoints.extend(spec.endpoint_names);
            }
        }
        endpoints.sort();
        endpoints.dedup();
        self.remove_owned(&runtime.to_string(), &sid).await?;
        for name in endpoints {
            self.remove_owned(&runtime.endpoint_arn(&name), &sid)
                .await?;
        }
        Ok(())
    }
}
