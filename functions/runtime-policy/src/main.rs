//! `runtime-policy`: serves `Custom::AgentCoreRuntimePolicy`, a statement owned by the stack
//! inside the resource-based policy of an AgentCore runtime and its endpoints. The logic is
//! `corebound::runtime_policy`; this wires logging, settings and the AgentCore client.

mod resource_policies;

use corebound::runtime_policy::{RuntimePolicyHandler, RuntimePolicySettings};
use resource_policies::ResourcePolicies;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    corebound::logging::init();
    let settings = RuntimePolicySettings::from_env()?;
    let config = corebound::aws::load_sdk_config().await;
    let client = aws_sdk_bedrockagentcorecontrol::Client::new(&config);
    corebound::custom_resource::run(RuntimePolicyHandler::new(
        ResourcePolicies::new(client),
        settings,
    ))
    .await
}
