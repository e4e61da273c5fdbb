//! `memory-grant`: serves `Custom::AgentCoreMemoryGrant` and `Custom::AgentCoreInvokeGrant`,
//! inline IAM policies that grant a role the AgentCore Memory data-plane actions on one memory,
//! or `InvokeAgentRuntime` on one runtime, verified at deploy time against the role's
//! permissions boundary.
//!
//! Environment (besides the protocol's `COREBOUND_*` and the AWS SDK's):
//! * `REQUIRED_ROLE_PREFIX`: granted roles must be named `<prefix>*` (e.g. `LPMA_`); empty or
//!   unset disables the check.
//! * `VERIFY_ATTEMPTS` (default 5, 1-10): how many times verification checks a denial that
//!   may be IAM still propagating the write.
//! * `VERIFY_BACKOFF_MS` (default 2000, at most 10000): the wait before the first re-check,
//!   doubled for each further one, capped at 10 s.

mod iam;
mod resource;
mod runtimes;
mod verification;

use corebound::memory_grant::GrantSettings;

use iam::Iam;
use resource::Grants;
use runtimes::Runtimes;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    corebound::logging::init();
    // An invalid setting does not stop the function: `serve` answers every request FAILED
    // naming the variable (see corebound::custom_resource::serve).
    let settings = GrantSettings::from_vars(|name| std::env::var(name).ok());
    let config = corebound::aws::load_sdk_config().await;
    let resource = settings.map(|settings| {
        let iam = Iam::new(
            aws_sdk_iam::Client::new(&config),
            settings.required_role_prefix.clone(),
        );
        let runtimes = Runtimes::new(aws_sdk_bedrockagentcorecontrol::Client::new(&config));
        Grants::new(iam, runtimes, Ok(settings))
    });
    corebound::custom_resource::serve(resource).await
}
