//! `memory-grant`: serves `Custom::AgentCoreMemoryGrant` and `Custom::AgentCoreInvokeGrant`,
//! inline IAM policies that grant a role the AgentCore Memory actions on one memory, or the
//! invoke family on one runtime, verified at deploy time against the role's permissions
//! boundary.
//!
//! Environment (besides the protocol's `COREBOUND_*` and the AWS SDK's):
//! * `REQUIRED_ROLE_PREFIX` (required, never empty): granted roles must be named `<prefix>*`
//!   (e.g. `LPMA_`), checked on the name IAM stores.
//! * `SCOPE_PATTERNS`: comma-separated name globs; roles, memories and runtimes must match one
//!   (roles also the prefix). Unset (local use): only the prefix rule, with a warning at start.
//! * `VERIFY_ATTEMPTS` (default 5, 1-10): how many times verification checks a denial that
//!   may be IAM still propagating the write.
//! * `VERIFY_BACKOFF_MS` (default 2000, at most 10000): the wait before the first re-check,
//!   doubled for each further one, capped at 10 s.

mod agentcore;
mod iam;
mod resource;
mod verification;

use corebound::grants::GrantSettings;

use agentcore::AgentCore;
use iam::Iam;
use resource::Grants;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    corebound::logging::init();
    // An invalid setting does not stop the function: `serve` answers every request FAILED
    // naming the variable (see corebound::custom_resource::serve).
    let settings = GrantSettings::from_vars(|name| std::env::var(name).ok());
    if let Ok(s) = &settings {
        if s.scope_patterns.is_none() {
            tracing::warn!(
                "SCOPE_PATTERNS is not set: only the role-prefix rule limits which roles, memories and runtimes are granted (the template always sets it from ScopePatterns)"
            );
        }
    }
    let config = corebound::aws::load_sdk_config().await;
    let resource = settings.map(|settings| {
        let iam = Iam::new(
            aws_sdk_iam::Client::new(&config),
            settings.required_role_prefix.clone(),
        );
        let agentcore = AgentCore::new(aws_sdk_bedrockagentcorecontrol::Client::new(&config));
        Grants::new(iam, agentcore, settings)
    });
    corebound::custom_resource::serve(resource).await
}
