//! IAM calls, with AWS errors turned into Reasons that name the call and what to do.
//!
//! In the accounts corebound is for, an AccessDenied from IAM is almost always the function's
//! own permissions boundary, which only lets the team touch roles named `<prefix>*`; IAM does
//! not say so, so every translated AccessDenied does.

use aws_sdk_iam::Client;
use corebound::aws::AwsFailure;
use corebound::grants::verification::ContextEntry;
use corebound::grants::{decode_policy_document, SimulatedResult};
use corebound::iam_evaluation::{PolicyKind, PolicySource};
use corebound::{Error, Result};
use serde_json::Value;

pub struct Iam {
    client: Client,
    /// `REQUIRED_ROLE_PREFIX`, named in AccessDenied reasons; empty when not configured.
    role_prefix: String,
}

/// What GetRole says about a role that matters for the checks and verification.
#[derive(Clone, Debug)]
pub struct RoleFacts {
    /// The role's name as IAM stores it (role names are case-insensitive in IAM, so this may
    /// differ in letter case from the name asked for).
    pub name: String,
    pub arn: String,
    pub boundary_arn: Option<String>,
    pub tags: Vec<(String, String)>,
}

/// The policies that decide what a role may do, as the local evaluator takes them.
pub struct RolePolicies {
    pub identity: Vec<PolicySource>,
    pub boundary: Option<PolicySource>,
}

impl Iam {
    pub fn new(client: Client, role_prefix: String) -> Self {
        Iam {
            client,
            role_prefix,
        }
    }

    /// The inline policy's document, URL-encoded as IAM returns it; `None` when the role has
    /// no such policy (or the role is gone).
    pub async fn get_role_policy(&self, role: &str, policy: &str) -> Result<Option<String>> {
        match self
            .client
            .get_role_policy()
            .role_name(role)
            .policy_name(policy)
            .send()
            .await
        {
            Ok(output) => Ok(Some(output.policy_document().to_string())),
            Err(e) => match AwsFailure::from_sdk(&e) {
                f if f.is("NoSuchEntity") => Ok(None),
                f => Err(self.translate("GetRolePolicy", role, f)),
            },
        }
    }

    pub async fn put_role_policy(&self, role: &str, policy: &str, document: &str) -> Result<()> {
        self.client
            .put_role_policy()
            .role_name(role)
            .policy_name(policy)
            .policy_document(document)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.translate("PutRolePolicy", role, AwsFailure::from_sdk(&e)))
    }

    /// Remove the inline policy; a policy or role that is already gone is done.
    pub async fn delete_role_policy(&self, role: &str, policy: &str) -> Result<()> {
        match self
            .client
            .delete_role_policy()
            .role_name(role)
            .policy_name(policy)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match AwsFailure::from_sdk(&e) {
                f if f.is("NoSuchEntity") => Ok(()),
                f => Err(self.translate("DeleteRolePolicy", role, f)),
            },
        }
    }

    pub async fn get_role(&self, role: &str) -> std::result::Result<RoleFacts, AwsFailure> {
        let output = self
            .client
            .get_role()
            .role_name(role)
            .send()
            .await
            .map_err(|e| AwsFailure::from_sdk(&e))?;
        let role = output.role().ok_or_else(|| AwsFailure {
            code: None,
            message: "GetRole returned no role".into(),
        })?;
        Ok(RoleFacts {
            name: role.role_name().to_string(),
            arn: role.arn().to_string(),
            boundary_arn: role
                .permissions_boundary()
                .and_then(|b| b.permissions_boundary_arn())
                .map(str::to_string),
            tags: role
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
        })
    }

    /// GetRole with a Reason on failure; `Ok(None)` when the role does not exist.
    pub async fn find_role(&self, role: &str) -> Result<Option<RoleFacts>> {
        match self.get_role(role).await {
            Ok(facts) => Ok(Some(facts)),
            Err(f) if f.is("NoSuchEntity") => Ok(None),
            Err(f) => Err(self.translate("GetRole", role, f)),
        }
    }

    /// GetRole for a Create or Update: the role must exist.
    pub async fn existing_role(&self, role: &str) -> Result<RoleFacts> {
        match self.find_role(role).await? {
            Some(facts) => Ok(facts),
            None => Err(self.translate(
                "GetRole",
                role,
                AwsFailure {
                    code: Some("NoSuchEntity".into()),
                    message: format!("The role with name {role} cannot be found."),
                },
            )),
        }
    }

    /// `iam:SimulatePrincipalPolicy` for the role, one result per (action, resource).
    pub async fn simulate(
        &self,
        role_arn: &str,
        actions: &[String],
        resources: &[String],
        context: &[ContextEntry],
    ) -> std::result::Result<Vec<SimulatedResult>, AwsFailure> {
        memory_grant::simulation::simulate_principal_policy(
            &self.client,
            role_arn,
            actions,
            resources,
            context,
        )
        .await
    }

    /// The role's inline and attached managed policies and its boundary, for the local
    /// evaluation. An `Err` names the call that failed.
    pub async fn role_policies(
        &self,
        role: &str,
        boundary_arn: Option<&str>,
    ) -> std::result::Result<RolePolicies, String> {
        let failed =
            |operation: &str, f: AwsFailure| format!("iam:{operation} failed ({})", f.summary());
        let mut identity = Vec::new();

        let mut names = Vec::new();
        let mut pages = self
            .client
            .list_role_policies()
            .role_name(role)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| failed("ListRolePolicies", AwsFailure::from_sdk(&e)))?;
            names.extend(page.policy_names().iter().cloned());
        }
        for name in names {
            // A policy deleted between the list and the read no longer decides anything.
            let Some(text) = self
                .get_role_policy(role, &name)
                .await
                .map_err(|e| format!("iam:GetRolePolicy failed ({e})"))?
            else {
                continue;
            };
            identity.push(source(name, PolicyKind::Inline, &text));
        }

        let mut attached = Vec::new();
        let mut pages = self
            .client
            .list_attached_role_policies()
            .role_name(role)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| failed("ListAttachedRolePolicies", AwsFailure::from_sdk(&e)))?;
            attached.extend(
                page.attached_policies()
                    .iter()
                    .filter_map(|p| p.policy_arn().map(str::to_string)),
            );
        }
        for arn in attached {
            let (name, text) = self
                .managed_policy(&arn)
                .await
                .map_err(|(op, f)| failed(op, f))?;
            identity.push(source(name, PolicyKind::Managed, &text));
        }

        let boundary = match boundary_arn {
            None => None,
            Some(arn) => {
                let (name, text) = self
                    .managed_policy(arn)
                    .await
                    .map_err(|(op, f)| failed(op, f))?;
                Some(source(name, PolicyKind::Boundary, &text))
            }
        };
        Ok(RolePolicies { identity, boundary })
    }

    /// A managed policy's name and default version's document (URL-encoded as returned).
    async fn managed_policy(
        &self,
        arn: &str,
    ) -> std::result::Result<(String, String), (&'static str, AwsFailure)> {
        let policy = self
            .client
            .get_policy()
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| ("GetPolicy", AwsFailure::from_sdk(&e)))?;
        let policy = policy.policy();
        let name = policy
            .and_then(|p| p.policy_name())
            .map(str::to_string)
            .unwrap_or_else(|| arn.rsplit('/').next().unwrap_or(arn).to_string());
        let version = policy
            .and_then(|p| p.default_version_id())
            .unwrap_or("v1")
            .to_string();
        let output = self
            .client
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .map_err(|e| ("GetPolicyVersion", AwsFailure::from_sdk(&e)))?;
        let document = output
            .policy_version()
            .and_then(|v| v.document())
            .unwrap_or_default()
            .to_string();
        Ok((name, document))
    }

    /// Turn a terse IAM error into a Reason that names the call, the role and the fix.
    fn translate(&self, operation: &str, role: &str, failure: AwsFailure) -> Error {
        let action = format!("iam:{operation}");
        let message = if failure.is_access_denied() {
            let scope = if self.role_prefix.is_empty() {
                "the roles it manages".to_string()
            } else {
                format!("roles named {}*", self.role_prefix)
            };
            format!(
                "AccessDenied: this function's own role may not call {action} on role {role}. In a boundary-constrained account the likely cause is the function role's permissions boundary (or its policy), which must allow {action} on {scope}; check both. AWS said: {}",
                failure.message
            )
        } else if failure.is("NoSuchEntity") {
            format!(
                "NoSuchEntity: role {role} does not exist in this account; check RoleName (the role must exist before the grant, e.g. DependsOn the role). AWS said: {}",
                failure.message
            )
        } else if failure.is("MalformedPolicyDocument") {
            format!(
                "IAM rejected the inline policy document: {}",
                failure.message
            )
        } else if failure.is("LimitExceeded") {
            format!(
                "LimitExceeded: role {role}'s inline policies would exceed IAM's size limit; remove unused inline policies or grant fewer actions. AWS said: {}",
                failure.message
            )
        } else {
            format!("{} (role {role})", failure.summary())
        };
        Error::Aws {
            operation: action,
            retryable: failure.is_retryable(),
            message,
        }
    }
}

/// A policy for the evaluator; an undecodable document is passed on as text, which the
/// evaluator reports as malformed (and so never guesses about).
fn source(name: String, kind: PolicyKind, text: &str) -> PolicySource {
    PolicySource {
        name,
        kind,
        document: decode_policy_document(text).unwrap_or_else(|_| Value::String(text.to_string())),
    }
}
