//! AgentCore control-plane reads: the `RequireReady` smoke test (AgentCore's own word on
//! whether a runtime can be invoked), and the target's tags for verification's context.

use aws_sdk_bedrockagentcorecontrol::config::{Builder as ConfigBuilder, Region};
use aws_sdk_bedrockagentcorecontrol::Client;
use corebound::arn::RuntimeArn;
use corebound::aws::AwsFailure;
use corebound::grants::invoke::not_ready_reason;
use corebound::{Error, Result};

const OPERATION: &str = "bedrock-agentcore:GetAgentRuntime";

pub struct AgentCore {
    client: Client,
}

impl AgentCore {
    pub fn new(client: Client) -> Self {
        AgentCore { client }
    }

    /// The tags of a memory or runtime (`bedrock-agentcore:ListTagsForResource`, asked in the
    /// target's region); `None` when they cannot be read, which only leaves
    /// `aws:ResourceTag/...` out of the simulation's context.
    pub async fn tags(&self, arn: &str, region: &str) -> Option<Vec<(String, String)>> {
        let in_region = ConfigBuilder::default().region(Region::new(region.to_string()));
        match self
            .client
            .list_tags_for_resource()
            .resource_arn(arn)
            .customize()
            .config_override(in_region)
            .send()
            .await
        {
            Ok(output) => {
                let mut tags: Vec<(String, String)> = output
                    .tags()
                    .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default();
                tags.sort();
                Some(tags)
            }
            Err(e) => {
                let failure = AwsFailure::from_sdk(&e);
                tracing::warn!(target_arn = %arn, error = %failure.summary(), "bedrock-agentcore:ListTagsForResource failed; simulating without aws:ResourceTag context");
                None
            }
        }
    }

    /// `Ok` when the runtime reports READY; otherwise a Reason naming its status.
    pub async fn require_ready(&self, runtime: &RuntimeArn) -> Result<()> {
        // The runtime may live in another region than the function: ask that region.
        let in_runtime_region =
            ConfigBuilder::default().region(Region::new(runtime.location.region.clone()));
        let output = self
            .client
            .get_agent_runtime()
            .agent_runtime_id(&runtime.runtime_id)
            .customize()
            .config_override(in_runtime_region)
            .send()
            .await
            .map_err(|e| translate(runtime, AwsFailure::from_sdk(&e)))?;
        let status = output.status().as_str();
        if status == "READY" {
            tracing::info!(runtime = %runtime, "runtime is READY");
            return Ok(());
        }
        Err(Error::Rule(not_ready_reason(
            runtime,
            status,
            output.failure_reason(),
        )))
    }
}

fn translate(runtime: &RuntimeArn, failure: AwsFailure) -> Error {
    let message = if failure.is("ResourceNotFoundException") {
        return Error::Rule(format!(
            "RequireReady: runtime {runtime} does not exist (GetAgentRuntime answered ResourceNotFound in account {}, region {}); check RuntimeArn, e.g. that it is !GetAtt of the current runtime. AWS said: {}",
            runtime.location.account, runtime.location.region, failure.message
        ));
    } else if failure.is_access_denied() {
        format!(
            "AccessDenied: this function's role may not call {OPERATION} on {runtime}; allow it in the function role's policy and permissions boundary, or set RequireReady to false to skip the readiness check. AWS said: {}",
            failure.message
        )
    } else {
        format!("{} (runtime {runtime})", failure.summary())
    };
    Error::Aws {
        operation: OPERATION.to_string(),
        retryable: failure.is_retryable(),
        message,
    }
}
