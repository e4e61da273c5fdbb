//! `runtime-policy`: serves `Custom::AgentCoreRuntimePolicy`, a statement owned by the stack
//! inside the resource-based policy of an AgentCore runtime and its endpoints. The logic is
//! `corebound::runtime_policy`; this wires logging, settings and the AgentCore client.
//!
//! Environment (besides the protocol's `COREBOUND_*` and the AWS SDK's):
//! * `SCOPE_PATTERNS`: runtime-name globs the function may write (unset: no scope check,
//!   warned at start; the template always sets it);
//! * `ALLOWED_PRINCIPAL_ACCOUNTS`: account ids and at most one organization id that
//!   statements may name (unset or empty: only the function's own account).

mod resource_policies;

use corebound::runtime_policy::{RuntimePolicyHandler, RuntimePolicySettings};
use resource_policies::ResourcePolicies;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    corebound::logging::init();
    // An invalid setting does not stop the function: `serve` answers every request FAILED
    // naming the variable (see corebound::custom_resource::serve).
    let settings = RuntimePolicySettings::from_env();
    let config = corebound::aws::load_sdk_config().await;
    let client = aws_sdk_bedrockagentcorecontrol::Client::new(&config);
    let resource =
        settings.map(|settings| RuntimePolicyHandler::new(ResourcePolicies::new(client), settings));
    corebound::custom_resource::serve(resource).await
}
