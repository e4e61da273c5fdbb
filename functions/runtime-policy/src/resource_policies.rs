//! AgentCore resource-policy calls, with AWS errors turned into Reasons that say what to do.

use aws_sdk_bedrockagentcorecontrol::Client;
use corebound::arn::RuntimeArn;
use corebound::aws::AwsFailure;
use corebound::{Error, Result};

pub struct ResourcePolicies {
    client: Client,
}

impl ResourcePolicies {
    pub fn new(client: Client) -> Self {
        ResourcePolicies { client }
    }

    /// The current policy of `arn`; `None` when it has none.
    pub async fn get(&self, arn: &str) -> Result<Option<String>> {
        match self
            .client
            .get_resource_policy()
            .resource_arn(arn)
            .send()
            .await
        {
            Ok(output) => Ok(output.policy().map(str::to_string)),
            // AgentCore answers ResourceNotFound for a resource without a policy too; a
            // missing runtime is reported by the write that follows.
            Err(e) => match AwsFailure::from_sdk(&e) {
                f if f.is("ResourceNotFoundException") => Ok(None),
                f => Err(translate("GetResourcePolicy", arn, f)),
            },
        }
    }

    pub async fn put(&self, arn: &str, policy: &str) -> Result<()> {
        self.client
            .put_resource_policy()
            .resource_arn(arn)
            .policy(policy)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| translate("PutResourcePolicy", arn, AwsFailure::from_sdk(&e)))
    }

    /// Delete the policy of `arn`; already gone is done.
    pub async fn delete(&self, arn: &str) -> Result<()> {
        match self
            .client
            .delete_resource_policy()
            .resource_arn(arn)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match AwsFailure::from_sdk(&e) {
                f if f.is("ResourceNotFoundException") => Ok(()),
                f => Err(translate("DeleteResourcePolicy", arn, f)),
            },
        }
    }

    /// Names of the runtime's endpoints; `None` when the runtime no longer exists.
    pub async fn endpoint_names(&self, runtime: &RuntimeArn) -> Result<Option<Vec<String>>> {
        let mut pages = self
            .client
            .list_agent_runtime_endpoints()
            .agent_runtime_id(&runtime.runtime_id)
            .into_paginator()
            .send();
        let mut names = Vec::new();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => names.extend(
                    page.runtime_endpoints()
                        .iter()
                        .map(|e| e.name().to_string()),
                ),
                Err(e) => {
                    let failure = AwsFailure::from_sdk(&e);
                    if failure.is("ResourceNotFoundException") {
                        return Ok(None);
                    }
                    return Err(translate(
                        "ListAgentRuntimeEndpoints",
                        &runtime.to_string(),
                        failure,
                    ));
                }
            }
        }
        Ok(Some(names))
    }
}

/// Turn a terse AWS error into a Reason that names the action, the ARN and the fix.
fn translate(operation: &str, arn: &str, failure: AwsFailure) -> Error {
    let action = format!("bedrock-agentcore:{operation}");
    let (location, _) = arn.split_once(":runtime/").unwrap_or((arn, ""));
    let mut place = location.splitn(6, ':').skip(3);
    let region = place.next().unwrap_or("?");
    let account = place.next().unwrap_or("?");
    let message = if failure.is_access_denied() {
        format!(
            "AccessDenied: the function's role lacks {action} on {arn}; allow {action} on that runtime (arn:...:runtime/<id> and its runtime-endpoint/*) in the role's policy, and check that its permissions boundary allows it too. AWS said: {}",
            failure.message
        )
    } else if failure.is("ResourceNotFoundException") {
        format!(
            "ResourceNotFound: the runtime or endpoint {arn} does not exist in account {account}, region {region}; check RuntimeArn and EndpointNames, and that the stack is deployed in the runtime's account and region. AWS said: {}",
            failure.message
        )
    } else if failure.is("ValidationException") {
        format!(
            "AgentCore rejected the policy for {arn}: {}",
            failure.message
        )
    } else {
        format!("{} (on {arn})", failure.summary())
    };
    Error::Aws {
        operation: action,
        retryable: failure.is_retryable(),
        message,
    }
}
