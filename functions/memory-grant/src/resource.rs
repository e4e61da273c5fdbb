//! Create, update and delete of `Custom::AgentCoreMemoryGrant` and
//! `Custom::AgentCoreInvokeGrant`: one inline policy on one role, owned by the resource.
//!
//! Every write is read back and compared, then verified. A write that fails any of that is
//! undone before the request is answered: the role gets back exactly the inline policy it had
//! before (none, on a Create), so a FAILED answer never leaves a grant behind.

use std::time::Duration;

use corebound::custom_resource::{CustomResource, Outcome, Request};
use corebound::memory_grant::{
    parse_physical_id, same_document, verification_value, Grant, GrantSettings,
};
use corebound::{Error, Result};

use crate::iam::Iam;
use crate::runtimes::Runtimes;
use tokio::time::Instant;

use crate::verification::{verify, Verified};

pub struct Grants {
    iam: Iam,
    runtimes: Runtimes,
    /// Always `Ok` when built by `main`: invalid settings never reach the resource, the
    /// protocol answers every request FAILED naming the variable instead
    /// (`corebound::custom_resource::serve`).
    settings: std::result::Result<GrantSettings, String>,
}

/// Whose inline policy the name may already stand for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Claim {
    /// A Create or a replacement: an existing, different policy of that name is someone else's.
    New,
    /// An in-place Update: the policy is this resource's.
    Owned,
}

impl Grants {
    pub fn new(iam: Iam, runtimes: Runtimes, settings: Result<GrantSettings>) -> Self {
        Grants {
            iam,
            runtimes,
            settings: settings.map_err(|e| e.to_string()),
        }
    }

    fn settings(&self) -> Result<&GrantSettings> {
        self.settings
            .as_ref()
            .map_err(|why| Error::Config(why.trim_start_matches("configuration: ").to_string()))
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
        if let Some(runtime) = &grant.require_ready {
            self.runtimes.require_ready(runtime).await?;
        }
        let before = self
            .iam
            .get_role_policy(&grant.role_name, &grant.policy_name)
            .await?;
        if claim == Claim::New {
            if let Some(existing) = &before {
                if !same_document(existing, &grant.document()) {
                    return Err(Error::invalid(
                        "PolicyName",
                        serde_json::Value::from(grant.policy_name.clone()).to_string(),
                        format!(
                            "a name not already used on role {}: an inline policy of that name exists there with another document and is not this resource's; choose another PolicyName (or leave it out for a generated one)",
                            grant.role_name
                        ),
                    ));
                }
            }
        }

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
            match verify(&self.iam, grant, settings, deadline).await {
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
                .is_some_and(|text| same_document(text, &document))
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
            Some(text) => match corebound::memory_grant::decode_policy_document(text) {
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
                let verification = self
                    .apply(&grant, Claim::Owned, settings, request.deadline)
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
        // Only the PhysicalResourceId decides what to delete: today's properties may be invalid
        // and must not block the delete.
        let Some((role, policy)) = request
            .physical_resource_id
            .as_deref()
            .and_then(parse_physical_id)
        else {
            tracing::warn!(
                "PhysicalResourceId does not name a role and inline policy; nothing to delete"
            );
            return Ok(());
        };
        self.iam.delete_role_policy(&role, &policy).await?;
        tracing::info!(role = %role, policy = %policy, "inline policy deleted (or already gone)");
        Ok(())
    }
}
