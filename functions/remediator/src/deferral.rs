//! Handing an event back to the function later through `DEFERRAL_QUEUE_URL` (see
//! `corebound::remediation::Delivery` for the message format and why).

use corebound::remediation::{Redelivery, Requeued};
use serde_json::Value;

use crate::clients::Clients;
use crate::retry::{CallError, RetryPolicy};

/// Sends `event` to the queue, to come back after `delay_seconds`.
pub async fn requeue(
    clients: &Clients,
    retry: &RetryPolicy,
    queue_url: &str,
    event: &Value,
    redelivery: Redelivery,
    delay_seconds: u32,
) -> Result<(), CallError> {
    const OPERATION: &str = "sqs:SendMessage";
    let body = serde_json::to_string(&Requeued {
        corebound: redelivery,
        event: event.clone(),
    })
    .map_err(|error| CallError::invalid(OPERATION, error.to_string()))?;
    // SQS takes 0..=900; the configuration and the retry delays stay inside.
    let delay = i32::try_from(delay_seconds.min(900)).unwrap_or(900);
    retry
        .sdk(OPERATION, || {
            clients
                .sqs
                .send_message()
                .queue_url(queue_url)
                .message_body(&body)
                .delay_seconds(delay)
                .send()
        })
        .await?;
    Ok(())
}
