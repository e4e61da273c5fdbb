//! Checking, after the write, that the role can really use the grant.
//!
//! The primary check is `iam:SimulatePrincipalPolicy`, which sees everything IAM sees,
//! permissions boundary included. Where the function may not call it, the role's inline and
//! attached policies and its boundary are read and evaluated locally
//! (`corebound::iam_evaluation`). IAM is eventually consistent, so a denial for lack of an
//! identity-policy allow right after the write is checked again, a bounded number of times,
//! before it counts.

use std::time::Duration;

use tokio::time::Instant;

use corebound::grants::verification::ContextEntry;
use corebound::grants::{
    denial_reason, simulated_evaluations, verdict, worth_rechecking, Grant, GrantSettings, Verdict,
};
use corebound::iam_evaluation::evaluate;
use corebound::iam_evaluation::Evaluation;

use crate::iam::{Iam, RoleFacts};

/// What verification came to, in the terms of the response.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    Yes,
    /// Nothing is denied but something could not be decided; why.
    Unverified(String),
    /// Denied: the Reason to answer.
    No(String),
}

const SIMULATOR: &str = "iam:SimulatePrincipalPolicy";

/// Time kept back from the request deadline to undo a write after a failed verification.
const UNDO_RESERVE: Duration = Duration::from_secs(10);

/// Re-checks stop early when the next wait would leave less than [`UNDO_RESERVE`] before
/// `deadline`, so a Create that fails verification still has time to remove its policy
/// before the protocol answers "timed out" for it. `context` is what the simulator is told
/// about the calls the role would make (region, principal, tags).
pub async fn verify(
    iam: &Iam,
    grant: &Grant,
    role: &RoleFacts,
    context: &[ContextEntry],
    settings: &GrantSettings,
    deadline: Option<Instant>,
) -> Verified {
    let role_arn = role.arn.clone();
    let boundary_name = role
        .boundary_arn
        .as_deref()
        .map(|arn| arn.rsplit('/').next().unwrap_or(arn).to_string());
    let requests = grant.requests();

    // Set once the simulator cannot be used; the rest of the checks evaluate locally.
    let mut local_because: Option<String> = None;
    let mut attempt = 1;
    loop {
        let evaluations: Vec<Evaluation> = if local_because.is_none() {
            match iam
                .simulate(&role_arn, &grant.actions, &grant.resources, context)
                .await
            {
                Ok(results) => simulated_evaluations(&requests, &results, boundary_name.as_deref()),
                Err(failure) => {
                    tracing::warn!(error = %failure.summary(), "{SIMULATOR} failed; evaluating the role's policies locally");
                    local_because = Some(if failure.is_access_denied() {
                        format!("this function may not call {SIMULATOR}")
                    } else {
                        format!("{SIMULATOR} failed ({})", failure.summary())
                    });
                    continue;
                }
            }
        } else {
            match local_evaluation(iam, role, &requests).await {
                Ok(evaluations) => evaluations,
                Err(why) => {
                    return Verified::Unverified(format!(
                    "{}, and the role's policies could not be read for a local evaluation: {why}",
                    local_because.unwrap_or_default()
                ))
                }
            }
        };
        let method = match &local_because {
            None => SIMULATOR.to_string(),
            Some(why) => format!("a local evaluation of the role's policies, because {why}"),
        };
        match verdict(&evaluations) {
            Verdict::Verified => {
                tracing::info!(method = %method, checks = attempt, "grant verified");
                return Verified::Yes;
            }
            Verdict::Unverified(why) => {
                tracing::warn!(why = %why, "grant could not be verified");
                return Verified::Unverified(why);
            }
            Verdict::Denied(denied) => {
                let wait = settings.backoff_before(attempt + 1);
                let time_for_another = deadline.is_none_or(|d| {
                    Instant::now() + Duration::from_millis(wait) + UNDO_RESERVE < d
                });
                if attempt < settings.verify_attempts
                    && worth_rechecking(&denied)
                    && time_for_another
                {
                    attempt += 1;
                    tracing::info!(
                        attempt,
                        wait_ms = wait,
                        "not allowed yet; IAM may still be propagating the write, checking again"
                    );
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                    continue;
                }
                return Verified::No(denial_reason(grant, &denied, &method, attempt));
            }
        }
    }
}

async fn local_evaluation(
    iam: &Iam,
    role: &RoleFacts,
    requests: &[(String, String)],
) -> Result<Vec<Evaluation>, String> {
    let policies = iam
        .role_policies(&role.name, role.boundary_arn.as_deref())
        .await?;
    Ok(evaluate(
        &policies.identity,
        policies.boundary.as_ref(),
        requests,
    ))
}
