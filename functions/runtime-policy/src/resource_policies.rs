//! AgentCore resource-policy and tag calls, with AWS errors turned into Reasons that say what to do.

use std::collections::BTreeMap;

use aws_sdk_bedrockagentcorecontrol::Client;
use corebound::aws::AwsFailure;
use corebound::runtime_policy::PolicyStore;
use corebound::{Error, Result};

pub struct ResourcePolicies {
    client: Client,
}

impl ResourcePolicies {
    pub fn new(client: Client) -> Self {
        ResourcePolicies { client }
    }
}

impl PolicyStore for ResourcePolicies {
    /// The current policy of `arn`; `None` when it has none.
    async fn get_policy(&self, arn: &str) -> Result<Option<String>> {
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

    async fn put_policy(&self, arn: &str, policy: &str) -> Result<()> {
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
    async fn delete_policy(&self, arn: &str) -> Result<()> {
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

    async fn tags(&self, arn: &str) -> Result<Option<BTreeMap<String, String>>> {
        match self
            .client
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
        {
            Ok(output) => Ok(Some(
                output
                    .tags()
                    .map(|tags| tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
            )),
            Err(e) => match AwsFailure::from_sdk(&e) {
                f if f.is("ResourceNotFoundException") => Ok(None),
                f => Err(translate("ListTagsForResource", arn, f)),
            },
        }
    }

    async fn tag(&self, arn: &str, key: &str, value: &str) -> Result<()> {
        self.client
            .tag_resource()
            .resource_arn(arn)
            .tags(key, value)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| translate("TagResource", arn, AwsFailure::from_sdk(&e)))
    }

    async fn untag(&self, arn: &str, key: &str) -> Result<()> {
        self.client
            .untag_resource()
            .resource_arn(arn)
            .tag_keys(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| translate("UntagResource", arn, AwsFailure::from_sdk(&e)))
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
