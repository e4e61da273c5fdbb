//! Where an invocation goes: the schedule's start message and the work queue's batches to the
//! sweep, everything else (EventBridge events, the deferral queue) to the event handler.

use std::time::{Duration, Instant, SystemTime};

use corebound::custom_resource::handler_budget;
use corebound::sweep::{StartMessage, SweepSettings};
use lambda_runtime::LambdaEvent;
use serde_json::Value;

use crate::handler::{RemediationFailed, Remediator};
use crate::retry::CallError;

use super::queue::{consume, is_sweep_batch, start};

/// Kept back from the Lambda deadline (as the event handler does).
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);
/// The budget when the deadline is unknown (local runners): the template's timeout.
const FALLBACK_BUDGET: Duration = Duration::from_secs(60);

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum InvocationFailed {
    #[error(transparent)]
    Remediation(#[from] RemediationFailed),
    /// The sweep could not start (lock or queue unreachable): Lambda retries the start.
    #[error("the sweep could not start: {0}")]
    SweepStart(CallError),
}

impl From<InvocationFailed> for lambda_runtime::Diagnostic {
    fn from(error: InvocationFailed) -> Self {
        match error {
            InvocationFailed::Remediation(error) => error.into(),
            InvocationFailed::SweepStart(error) => lambda_runtime::Diagnostic {
                error_type: "SweepStartFailed".to_string(),
                error_message: error.to_string(),
            },
        }
    }
}

pub async fn dispatch(
    remediator: &Remediator,
    settings: &SweepSettings,
    event: LambdaEvent<Value>,
) -> Result<Value, InvocationFailed> {
    let is_start = StartMessage::matches(&event.payload);
    if !is_start && !is_sweep_batch(&event.payload, settings) {
        return Ok(remediator.handle(event).await?);
    }
    let budget = handler_budget(
        event.context.deadline,
        SystemTime::now(),
        DEADLINE_MARGIN,
        FALLBACK_BUDGET,
    );
    let deadline = Instant::now() + budget;
    let retry = remediator.retry.until(deadline);
    if is_start {
        start(remediator, settings, &event.context.request_id, &retry)
            .await
            .map_err(InvocationFailed::SweepStart)
    } else {
        Ok(consume(remediator, settings, &event.payload, deadline, &retry).await)
    }
}
