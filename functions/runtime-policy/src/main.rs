//! `runtime-policy`: serves `Custom::AgentCoreRuntimePolicy`, a statement owned by the stack
//! inside the resource-based policy of an AgentCore runtime and its endpoints.

mod resource;
mod resource_policies;

use resource::RuntimePolicy;
use resource_policies::ResourcePolicies;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    corebound::logging::init();
    let config = corebound::aws::load_sdk_config().await;
    let client = aws_sdk_bedrockagentcorecontrol::Client::new(&config);
    corebound::custom_resource::run(RuntimePolicy::new(ResourcePolicies::new(client))).await
}
