//! Create, update and delete of `Custom::AgentCoreMemoryGrant` and
//! `Custom::AgentCoreInvokeGrant`: one inline policy on one role, owned by the resource.
//!
//! Every write is read back and compared, then verified. A write that fails any of that is
//! undone before the request is answered: the role gets back exactly the inline policy it had
//! before (none, on a Create), so a FAILED answer never leaves a grant behind. What a request
//! may write or delete is decided from what IAM stores ([`corebound::grants::ownership`]), never
//! from the request's word alone.

use std::time::Duration;

use corebound::custom_resource::{CustomResource, Outcome, Request};
use corebound::grants::ownership::{may_delete, may_write};
use corebound::grants::verification::{context_entries, CallContext};
use corebound::grants::{
    check_stored_role_name, parse_physical_id, same_document, verification_value, Grant,
    GrantSettings,
};
use corebound::{Error, Result};

use crate::agentcore::AgentCore;
use crate::iam::{Iam, RoleFacts};
use tokio::time::Instant;

use crate::verification::{verify, Verified};

pub struct Grants {
    iam: Iam,
    agentcore: AgentCore,
    /// Valid settings: invalid ones never reach the resource, the protocol answers every
    /// request FAILED naming the variable instead (`corebound::custom_resource::serve`).
    settings: GrantSettings,
}

/// Whose inline policy the name may already stand for.
#[derive(Clone, Debug)]
enum Claim {
    /// A Create or a replacement: only an absent policy, or this resource's own (a retry).
    New,
    /// An in-place Update: also an owner-less policy of an earlier version that is exactly
    /// what `previous` (the OldResourceProperties) describes.
    Owned { previous: Option<Box<Grant>> },
}

impl Grants {
    pub fn new(iam: Iam, agentcore: AgentCore, settings: GrantSettings) -> Self {
        Grants {
            iam,
            agentcore,
            settings,
        }
    }

    fn settings(&self) -> Result<&GrantSettings> {
        Ok(&self.settings)
    }

    /// The role as IAM stores it; its stored name must pass the role rules too.
    async fn role(&self, grant: &Grant, settings: &GrantSettings) -> Result<RoleFacts> {
        let role = self.iam.existing_role(&grant.role_name).await?;
        check_stored_role_name(&grant.role_name, &role.name, settings)?;
        Ok(role)
    }

    /// Write the grant, read it back, verify it; undo on any failure after the write.
    /// Returns the `Verification` value.
    async fn apply(
        &self,
        grant: &Grant,
        claim: Claim,
        settings: &GrantSettings,
        deadline: Option<Instant>,
    ) -> Result<String> {
        let role = self.role(grant, settings).await?;
        if let Some(runtime) = &grant.require_ready {
            self.agentcore.require_ready(runtime).await?;
        }
        let before = self
            .iam
            .get_role_policy(&grant.role_name, &grant.policy_name)
            .await?;
        let previous = match &claim {
            Claim::New => None,
            Claim::Owned { previous } => previous.as_deref(),
        };
        may_write(before.as_deref(), grant, previous).map_err(Error::Rule)?;

        if let Err(error) = self
            .iam
            .put_role_policy(&grant.role_name, &grant.policy_name, &grant.document_text())
            .await
        {
            // A final refusal (AccessDenied, NoSuchEntity, a malformed document) wrote
            // nothing; a transient failure may have, so it is undone like any later one.
            if error.is_final() {
                return Err(error);
            }
            return Err(self.undo(grant, before.as_deref(), error).await);
        }

        let result = async {
            self.read_back(grant, settings).await?;
            if !grant.verify {
                return Ok(verification_value(None, false));
            }
            let target_tags = self
                .agentcore
                .tags(&grant.target.arn, &grant.target.region)
                .await;
            let context = context_entries(
                grant,
                &CallContext {
                    role_arn: &role.arn,
                    role_tags: &role.tags,
                    target_tags: target_tags.as_deref(),
                },
            );
            match verify(&self.iam, grant, &role, &context, settings, deadline).await {
                Verified::Yes => Ok(verification_value(None, true)),
                Verified::Unverified(why) => Ok(verification_value(Some(&why), true)),
                Verified::No(reason) => Err(Error::Rule(reason)),
            }
        }
        .await;

        match result {
            Ok(verification) => Ok(verification),
            Err(error) => Err(self.undo(grant, before.as_deref(), error).await),
        }
    }

    /// GetRolePolicy until the document read back is the one just written.
    async fn read_back(&self, grant: &Grant, settings: &GrantSettings) -> Result<()> {
        let document = grant.document();
        let mut read_back = None;
        for attempt in 1..=settings.verify_attempts {
            if attempt > 1 {
                // IAM reads are eventually consistent too.
                tokio::time::sleep(Duration::from_millis(settings.backoff_before(attempt))).await;
            }
            read_back = self
                .iam
                .get_role_policy(&grant.role_name, &grant.policy_name)
                .await?;
            if read_back
                .as_deref()
                .is_some_and(|text| same_document(text, &document, &grant.stack.partition))
            {
                tracing::info!(role = %grant.role_name, policy = %grant.policy_name, "inline policy written and read back");
                return Ok(());
            }
        }
        Err(Error::Rule(match read_back {
            None => format!(
                "inline policy {} was written to role {} but IAM does not return it (GetRolePolicy: NoSuchEntity); another process may be deleting it",
                grant.policy_name, grant.role_name
            ),
            Some(_) => format!(
                "inline policy {} on role {} reads back different from what was written: another process is writing the same policy concurrently; stop the other writer and retry",
                grant.policy_name, grant.role_name
            ),
        }))
    }

    /// Put the role's inline policy back as it was before this request; returns the error to
    /// answer, which says what was undone.
    async fn undo(&self, grant: &Grant, before: Option<&str>, error: Error) -> Error {
        let (role, policy) = (&grant.role_name, &grant.policy_name);
        let restored = match before {
            None => self.iam.delete_role_policy(role, policy).await,
            Some(text) => match corebound::grants::decode_policy_document(text) {
                Ok(document) => {
                    self.iam
                        .put_role_policy(role, policy, &document.to_string())
                        .await
                }
                Err(why) => Err(Error::Rule(format!(
                    "the previous document is unreadable: {why}"
                ))),
            },
        };
        let what = match (before, &restored) {
            (None, Ok(())) => format!("inline policy {policy} was removed from role {role}"),
            (Some(_), Ok(())) => format!("the previous document of inline policy {policy} was restored"),
            (None, Err(e)) => format!("removing inline policy {policy} from role {role} also failed, remove it by hand: {e}"),
            (Some(_), Err(e)) => format!("restoring the previous document of inline policy {policy} also failed: {e}"),
        };
        match &restored {
            Ok(()) => tracing::info!(role = %role, policy = %policy, "undone: {what}"),
            Err(e) => tracing::error!(role = %role, policy = %policy, error = %e, "undo failed"),
        }
        match error {
            Error::Rule(reason) => Error::Rule(format!("{reason}. {}", capitalised(&what))),
            Error::Aws {
                operation,
                message,
                retryable,
            } => Error::Aws {
                operation,
                message: format!("{message}. {}", capitalised(&what)),
                retryable,
            },
            other => Error::Rule(format!("{other}. {}", capitalised(&what))),
        }
    }

    fn outcome(grant: &Grant, physical_id: String, verification: String) -> Outcome {
        Outcome::new(physical_id)
            .with("PolicyName", grant.policy_name.clone())
            .with("Actions", grant.actions_value())
            .with("Verification", verification)
            .with("OwnerId", grant.owner.clone())
    }

    /// Why a Delete leaves the policy `id` names alone; `None` when it may remove it.
    async fn delete_refusal(&self, request: &Request, id: &str) -> Result<Option<String>> {
        let Some((role_name, policy_name)) = parse_physical_id(id) else {
            return Ok(Some(
                "the PhysicalResourceId does not name a role and an inline policy".into(),
            ));
        };
        let settings = self.settings()?;
        // The properties must describe this very policy: a Delete carries the resource's
        // current properties, and a request that does not is not this resource's.
        let grant = match Grant::from_request(request, settings) {
            Ok(grant) => grant,
            Err(e) => {
                return Ok(Some(format!(
                    "the request's properties do not describe a grant this function may touch ({e})"
                )))
            }
        };
        if !grant.role_name.eq_ignore_ascii_case(&role_name)
            || !grant.policy_name.eq_ignore_ascii_case(&policy_name)
        {
            return Ok(Some(format!(
                "the request's properties describe inline policy {} on role {}, not the one its PhysicalResourceId names",
                grant.policy_name, grant.role_name
            )));
        }
        let Some(role) = self.iam.find_role(&role_name).await? else {
            return Ok(Some(format!("role {role_name} no longer exists")));
        };
        if let Err(e) = check_stored_role_name(&role_name, &role.name, settings) {
            return Ok(Some(e.to_string()));
        }
        let Some(stored) = self.iam.get_role_policy(&role_name, &policy_name).await? else {
            return Ok(Some("it no longer exists".into()));
        };
        Ok(may_delete(&stored, &grant).err())
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl CustomResource for Grants {
    async fn create(&self, request: &Request) -> Result<Outcome> {
        let settings = self.settings()?;
        let grant = Grant::from_request(request, settings)?;
        let verification = self
            .apply(&grant, Claim::New, settings, request.deadline)
            .await?;
        Ok(Self::outcome(&grant, grant.physical_id(), verification))
    }

    async fn update(&self, request: &Request) -> Result<Outcome> {
        let settings = self.settings()?;
        let grant = Grant::from_request(request, settings)?;
        // IAM names are case-insensitive: a RoleName or PolicyName that only changes its
        // letter case is the same policy, and must keep its id (a new id would make
        // CloudFormation delete the old one, which is the policy just written).
        let current = request.physical_resource_id.as_deref().filter(|id| {
            parse_physical_id(id).is_some_and(|(role, policy)| {
                role.eq_ignore_ascii_case(&grant.role_name)
                    && policy.eq_ignore_ascii_case(&grant.policy_name)
            })
        });
        match current {
            Some(id) => {
                // What the resource looked like before: an owner-less policy of an earlier
                // version is adopted only when it is exactly that.
                let previous = request
                    .old_properties
                    .as_ref()
                    .and_then(|old| Grant::from_properties(request, old, settings).ok())
                    .map(Box::new);
                let verification = self
                    .apply(
                        &grant,
                        Claim::Owned { previous },
                        settings,
                        request.deadline,
                    )
                    .await?;
                Ok(Self::outcome(&grant, id.to_string(), verification))
            }
            None => {
                // Replacement (RoleName or PolicyName changed): write the new policy;
                // CloudFormation then deletes the old one through the old id.
                tracing::info!(new_id = %grant.physical_id(), "replacement: role or policy name changed");
                let verification = self
                    .apply(&grant, Claim::New, settings, request.deadline)
                    .await?;
                Ok(Self::outcome(&grant, grant.physical_id(), verification))
            }
        }
    }

    async fn delete(&self, request: &Request) -> Result<()> {
        // A Delete never fails for what it may not touch: it answers SUCCESS, changes nothing
        // and says why in the log, so a stack can always be deleted.
        let Some(id) = request.physical_resource_id.as_deref() else {
            tracing::warn!("Delete without a PhysicalResourceId; nothing to delete");
            return Ok(());
        };
        if let Some(why) = self.delete_refusal(request, id).await? {
            tracing::warn!(physical_id = %id, why = %why, "inline policy left as it is");
            return Ok(());
        }
        let (role, policy) = parse_physical_id(id).unwrap_or_default();
        self.iam.delete_role_policy(&role, &policy).await?;
        tracing::info!(role = %role, policy = %policy, "inline policy deleted (or already gone)");
        Ok(())
    }
}
