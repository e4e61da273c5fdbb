//! Pattern 2 (account-aware places only): creating an `AWS::BedrockAgentCore::Runtime`
//! passes its execution role to `bedrock-agentcore.amazonaws.com`, which needs
//! `iam:PassRole` with `iam:PassedToService = bedrock-agentcore.amazonaws.com`. Boundaries
//! usually allow PassRole only to a hand-picked list of services, so a CI role cannot
//! create a runtime; updating one (`UpdateAgentRuntime`) needs no PassRole.
//!
//! A template alone cannot tell who deploys it: the doctor and the hook ask IAM's policy
//! simulator for the deploying principal and hand the answer to [`judge`].

use serde_json::Value;

use super::{Certainty, Finding};
use crate::template::{Resolved, Template};

pub const RUNTIME_TYPE: &str = "AWS::BedrockAgentCore::Runtime";
/// The action, and the context entry the simulation must carry.
pub const PASS_ROLE_ACTION: &str = "iam:PassRole";
pub const PASSED_TO_SERVICE_KEY: &str = "iam:PassedToService";
pub const AGENTCORE_SERVICE: &str = "bedrock-agentcore.amazonaws.com";
/// Where the one-shot bootstrap is described.
pub const BOOTSTRAP_DOC: &str = "docs/bootstrap.md (examples/runtime-bootstrap.yaml)";

/// What the simulator said about `iam:PassRole` on the runtime's role for the deployer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassRoleAnswer {
    Allowed,
    /// `explicitDeny` / `implicitDeny`, or denied by an SCP: the text says which.
    Denied(String),
    /// The simulation could not decide (missing context values, simulator unavailable).
    Unknown(String),
}

/// A runtime the template creates, with its role when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeToCreate {
    pub logical_id: String,
    /// The role ARN when it is a literal or a parameter's value; `None` when it is a role
    /// of this template or known only at deployment.
    pub role_arn: Option<String>,
}

/// The runtimes a template creates (those whose condition is not known false).
pub fn runtimes_created(template: &Template) -> Vec<RuntimeToCreate> {
    template
        .resources()
        .iter()
        .filter(|resource| resource.resource_type == RUNTIME_TYPE)
        .filter(|resource| template.is_created(resource) != Some(false))
        .map(|resource| RuntimeToCreate {
            logical_id: resource.logical_id.clone(),
            role_arn: resource
                .properties
                .get("RoleArn")
                .map(|value| template.resolve(value))
                .and_then(|resolved| match resolved {
                    Resolved::Known(Value::String(arn)) => Some(arn),
                    _ => None,
                }),
        })
        .collect()
}

/// The finding for one runtime, given the simulator's answer for the deploying principal
/// (`None` when the deployer may pass the role).
pub fn judge(runtime_logical_id: &str, deployer: &str, answer: &PassRoleAnswer) -> Option<Finding> {
    let fix = format!(
        "create the runtime once with an elevated role (one-shot bootstrap, {BOOTSTRAP_DOC}); CI then only updates it (UpdateAgentRuntime needs no PassRole) — or ask security to add {AGENTCORE_SERVICE} to the boundary's iam:PassedToService list"
    );
    let (certainty, message) = match answer {
        PassRoleAnswer::Allowed => return None,
        PassRoleAnswer::Denied(why) => (
            Certainty::Violation,
            format!(
                "{deployer} may not iam:PassRole the runtime's execution role to {AGENTCORE_SERVICE} ({why}): creating the runtime fails with AccessDenied"
            ),
        ),
        PassRoleAnswer::Unknown(why) => (
            Certainty::CannotTell,
            format!(
                "cannot tell whether {deployer} may iam:PassRole the runtime's execution role to {AGENTCORE_SERVICE} ({why})"
            ),
        ),
    };
    Some(Finding {
        pattern: "2".to_string(),
        rule: "runtime-passrole".to_string(),
        logical_id: runtime_logical_id.to_string(),
        resource_type: RUNTIME_TYPE.to_string(),
        message,
        fix,
        certainty,
        property: Some("RoleArn".to_string()),
        line: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_runtimes_and_their_roles() {
        let template = Template::parse(
            "\
Parameters:
  Role: {Type: String, Default: 'arn:aws:iam::123456789012:role/LPMA_app_AgentCoreRuntime'}
  Create: {Type: String, Default: 'no'}
Conditions:
  Creating: !Equals [!Ref Create, 'yes']
Resources:
  Agent:
    Type: AWS::BedrockAgentCore::Runtime
    Properties: {RoleArn: !Ref Role}
  Skipped:
    Type: AWS::BedrockAgentCore::Runtime
    Condition: Creating
    Properties: {RoleArn: !Ref Role}
  Local:
    Type: AWS::BedrockAgentCore::Runtime
    Properties: {RoleArn: !GetAtt Agent.AgentRuntimeArn}
",
        )
        .unwrap();
        assert_eq!(
            runtimes_created(&template),
            [
                RuntimeToCreate {
                    logical_id: "Agent".into(),
                    role_arn: Some(
                        "arn:aws:iam::123456789012:role/LPMA_app_AgentCoreRuntime".into()
                    )
                },
                RuntimeToCreate {
                    logical_id: "Local".into(),
                    role_arn: None
                },
            ]
        );
    }

    #[test]
    fn the_answer_becomes_a_finding_pointing_to_the_bootstrap() {
        assert_eq!(judge("Agent", "ci", &PassRoleAnswer::Allowed), None);
        let denied = judge(
            "Agent",
            "arn:aws:iam::123456789012:role/LPMA_ci",
            &PassRoleAnswer::Denied("implicitDeny by the permissions boundary".into()),
        )
        .unwrap();
        assert_eq!(denied.certainty, Certainty::Violation);
        assert_eq!(denied.pattern, "2");
        assert!(denied.fix.contains("docs/bootstrap.md"));
        let unknown = judge(
            "Agent",
            "ci",
            &PassRoleAnswer::Unknown("simulator unavailable".into()),
        )
        .unwrap();
        assert_eq!(unknown.certainty, Certainty::CannotTell);
    }
}
